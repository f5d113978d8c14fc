"""Email to the support address becomes tickets: `email_receive` takes one email (from Kervan's own SMTP receiver,
manage.py support_smtp, or an ESP's inbound webhook through django-anymail) and

- ignores what a machine sent (auto-replies, out-of-office, bounces, mailing lists), so two robots never answer
  each other through a ticket and nothing reopens a ticket on its own;
- ignores an email it already has (the same Message-ID again: a retrying MTA, the same mail through two routes);
- threads it onto its ticket: by In-Reply-To/References naming an email of the ticket (our reply's Message-ID, the
  customer's earlier mail), else by the ticket's number "[T-000123]" in the subject when the sender is the ticket's
  requester (a stranger's mail naming a number is a new ticket, never a message on someone else's);
- otherwise opens a new ticket from the sender (the customer who has that address, when Kervan knows one).

The text is the plain-text part (else the HTML one as text) without the quoted history below "On … wrote:",
"… tarihinde … yazdı:" or "> " lines. Attached files within KERVAN_SUPPORT_ATTACHMENTS are kept with the message;
one refused (too big, of a refused type, one too many) is not stored and an internal note on the ticket says which
and why, the customer's mail still becoming a message."""

import logging
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.emails import email_match_key, normalize_email
from kervan.core.errors import KervanError
from kervan.messaging.rendering import html_to_text
from kervan.support import attachments
from kervan.support.email_out import support_address
from kervan.support.models import Language, Ticket, TicketMessage
from kervan.support.ticket_actions import BODY_MAX, SUBJECT_MAX, ticket_create, ticket_note, ticket_receive

log = logging.getLogger(__name__)

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_TOKEN = re.compile(r"\[T-(\d{1,12})\]")
_MACHINE_SENDERS = ("mailer-daemon", "postmaster")
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}
# Where the quoted history starts: "On Mon, 7 Dec 2026, Ayşe <a@b.c> wrote:", "7 Ara 2026 Pzt, 10:00 tarihinde
# Destek <…> şunu yazdı:", Outlook's "-----Original Message-----" / "-----Orijinal Mesaj-----" and its rule.
_QUOTE_HEADER = re.compile(
    r"^\s*(on\b.{0,300}\bwrote:|.{0,300}\btarihinde\b.{0,300}\byazdı:|-{2,}\s*(original message|orijinal mesaj|"
    r"özgün ileti|forwarded message|iletilen mesaj)\s*-{2,}|_{20,})\s*$",
    re.IGNORECASE,
)
# Case-sensitive letters: with IGNORECASE "ı" and "İ" would match every "i" and "I".
_TURKISH_LETTERS = re.compile(r"[çğışöüÇĞİŞÖÜ]")
_TURKISH = re.compile(
    r"\b(merhaba|teşekkür|tesekkur|sipariş|siparis|iade|kargo|lütfen|lutfen|selam|ürün|urun|rica)\b", re.IGNORECASE
)
_ENGLISH = re.compile(r"\b(hello|hi|dear|thanks|thank you|order|please|the|my|refund|delivery)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Received:
    """What became of one email: "created" (a new ticket), "added" (a message on a ticket), "duplicate" or
    "ignored" (with the reason)."""

    outcome: str
    ticket_id: int | None = None
    message_id: int | None = None
    reason: str = ""


def email_receive(raw: bytes | EmailMessage, *, source: str, envelope_sender: str | None = None) -> Received:
    """Take one email to the support address (raw bytes as received, or a parsed EmailMessage); see the module.
    `envelope_sender` is the SMTP MAIL FROM when known ("" or "<>" for a bounce)."""
    message = raw if isinstance(raw, EmailMessage) else BytesParser(policy=policy.default).parsebytes(raw)
    if reason := automatic(message, envelope_sender):
        log.info("Support mail from %s ignored (%s): %s", source, reason, _header(message, "From"))
        return Received("ignored", reason=reason)
    name, address = parseaddr(_header(message, "From"))
    try:
        sender = normalize_email(address, "from")
    except KervanError:
        return Received("ignored", reason="no sender address")
    if email_match_key(sender) == email_match_key(support_address()):
        return Received("ignored", reason="sent by the support address itself")
    message_id = _message_ids(_header(message, "Message-ID"))[:1]
    mid = message_id[0] if message_id else ""
    if mid and TicketMessage.objects.filter(email_message_id=mid).exists():
        return Received("duplicate", reason=mid)
    subject = " ".join(_header(message, "Subject").split())
    body = email_text(message)
    files = email_files(message)
    with transaction.atomic():
        if mid and TicketMessage.objects.select_for_update().filter(email_message_id=mid).exists():
            return Received("duplicate", reason=mid)
        ticket = _thread(message, subject, sender)
        actor = Actor.system()
        text = body or _("(no text)")
        if ticket is not None:
            created = ticket_receive(actor=actor, ticket=ticket, body=text, email_message_id=mid)
            outcome = "added"
        else:
            ticket = ticket_create(
                actor=actor,
                subject=subject[:SUBJECT_MAX] or _("(no subject)"),
                body=text,
                channel=Ticket.Channel.EMAIL,
                requester_email=sender,
                requester_name=name.strip()[:200],
                language=guess_language(f"{subject}\n{body}"),  # before assignment: rules may match the language
            )
            created = ticket.messages.get()
            TicketMessage.objects.filter(pk=created.pk).update(email_message_id=mid)
            outcome = "created"
        _keep_files(actor, ticket, created, files)
    log.info("Support mail from %s (%s): %s ticket %s", sender, source, outcome, ticket.number)
    return Received(outcome, ticket_id=ticket.pk, message_id=created.pk)


def on_esp_inbound(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """anymail.signals.inbound's receiver: the ESP's parsed email, taken like any other (nothing else here)."""
    email_receive(event.message, source=f"{esp_name} inbound", envelope_sender=event.message.envelope_sender)


# ---------------------------------------------------------------- reading the email


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (IndexError, ValueError, TypeError):  # a header the parser cannot make sense of
        value = message.get_all(name, failobj=[""])[0] if hasattr(message, "get_all") else ""
    return str(value or "").replace("\x00", "")


def _message_ids(value: str) -> list[str]:
    found = _MESSAGE_ID.findall(value or "")
    if not found and value.strip() and " " not in value.strip():
        found = [f"<{value.strip().strip('<>')[:250]}>"]
    return found


def automatic(message: EmailMessage, envelope_sender: str | None = None) -> str:
    """Why an email is a machine's (an auto-reply, a bounce, a list's), "" when a person seems to have sent it."""
    auto = _header(message, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = _header(message, "Precedence").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "List-Id"):
        if _header(message, name):
            return name
    if envelope_sender is not None and envelope_sender.strip() in ("", "<>"):
        return "null sender (a bounce)"
    if message.get_content_type() == "multipart/report":
        return "a delivery report"
    senders = getaddresses([_header(message, "From"), _header(message, "Sender")])
    for _name, address in senders:
        if address.partition("@")[0].lower() in _MACHINE_SENDERS:
            return address.lower()
    return ""


def email_text(message: EmailMessage) -> str:
    """The email's text: the plain part, else the HTML part as text, without the quoted history."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown charset or a broken encoding
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
    if part.get_content_type() == "text/html":
        content = html_to_text(content)
    return strip_quoted(str(content).replace("\x00", ""))[:BODY_MAX]


def strip_quoted(text: str) -> str:
    """The new part of a reply: up to the quoted history's header, without "> " lines. A text that is all quote
    stays as it is (better too much than nothing)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _QUOTE_HEADER.match(line):
            break
        # "On Mon, 7 Dec 2026 at 10:00, Kervan <destek@…>" wrapped before "wrote:" (Gmail does it for long names)
        if line.strip().lower().startswith("on ") and index + 1 < len(lines):
            if _QUOTE_HEADER.match(f"{line} {lines[index + 1]}"):
                break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    stripped = "\n".join(kept).strip()
    return stripped or text.strip()


def email_files(message: EmailMessage) -> list[attachments.Incoming]:
    files = []
    for part in message.iter_attachments():
        if part.is_multipart() or part.get_content_type() == "message/rfc822":
            name = part.get_filename() or "message.eml"
            data = part.as_bytes()
        else:
            name = part.get_filename() or ""
            data = part.get_payload(decode=True) or b""
        if not name and part.get_content_disposition() != "attachment":
            continue  # an unnamed inline part (a signature's logo): not a file the customer sent
        filename = attachments.clean_filename(name)
        files.append(
            attachments.Incoming(
                filename=filename,
                content_type=attachments.content_type_of(filename, part.get_content_type()),
                data=data,
            )
        )
    return files


def guess_language(text: str) -> str:
    """Turkish when the text has Turkish letters or words, English when it has English words, else Turkish."""
    if _TURKISH_LETTERS.search(text) or _TURKISH.search(text):
        return Language.TURKISH
    return Language.ENGLISH if _ENGLISH.search(text) else Language.TURKISH


# ---------------------------------------------------------------- which ticket


def _thread(message: EmailMessage, subject: str, sender: str) -> Ticket | None:
    """The open ticket this email continues, or None for a new one."""
    references = [*_message_ids(_header(message, "In-Reply-To")), *_message_ids(_header(message, "References"))]
    ticket = None
    if references:
        known = (
            TicketMessage.objects.filter(email_message_id__in=references[-100:])
            .select_related("ticket")
            .order_by("-id")
            .first()
        )
        ticket = known.ticket if known else None
    if ticket is None and (token := _TOKEN.search(subject)):
        candidate = Ticket.objects.filter(pk=int(token.group(1))).first()
        if candidate is not None and _is_requester(candidate, sender):
            ticket = candidate
    for _hop in range(5):  # a merged ticket's mail goes to the ticket it was merged into
        if ticket is None or not ticket.merged_into_id:
            break
        ticket = Ticket.objects.filter(pk=ticket.merged_into_id).first()
    if ticket is None or ticket.status == Ticket.Status.CLOSED:
        return None
    return Ticket.objects.select_for_update(of=("self",)).select_related("sla_policy").get(pk=ticket.pk)


def _is_requester(ticket: Ticket, sender: str) -> bool:
    key = email_match_key(sender)
    known = [ticket.requester_email, getattr(ticket.customer, "email", "")]
    for address in known:
        try:
            if address and email_match_key(address) == key:
                return True
        except KervanError:
            continue
    return False


def _keep_files(actor: Actor, ticket: Ticket, message: TicketMessage, files: list[attachments.Incoming]) -> None:
    taken, refused = attachments.sort_files(files)
    for file in taken:
        attachments.store(message, file)
    if refused:
        lines = [
            _("%(name)s was not stored: %(reason)s.") % {"name": file.filename, "reason": reason}
            for file, reason in refused
        ]
        heading = _("Files of the customer's email were refused:")
        ticket_note(actor=actor, ticket=ticket, body="\n".join([heading, *lines]))
