"""Files on tickets: the limits (KERVAN_SUPPORT_ATTACHMENTS), the check a file must pass, storing it with a message,
and an agent's reply with files (nothing is saved unless every file passes).

A file passes when it is within `max_bytes`, its message has at most `max_files`, and its MIME type or its name's
extension is listed in `types`; some kinds are never taken whatever the list says (HTML, SVG, scripts, programs):
a browser or the agent's computer could run them."""

import mimetypes
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.support.models import Ticket, TicketAttachment, TicketMessage

DEFAULTS = {
    "max_bytes": 10 * 1024 * 1024,
    "max_files": 10,
    "max_message_bytes": 25 * 1024 * 1024,
    "types": ["image/*", "application/pdf", "text/plain", "text/csv", ".pdf", ".txt", ".csv", ".docx", ".xlsx"],
}
NEVER_EXTENSIONS = frozenset(
    {".html", ".htm", ".xhtml", ".shtml", ".svg", ".svgz", ".xml", ".js", ".mjs", ".hta"}
    | {".exe", ".com", ".bat", ".cmd", ".scr", ".msi", ".vbs", ".jar", ".ps1", ".sh"}
)
NEVER_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "text/javascript"}
)
# What the download serves as its type when the stored one could be shown as a page.
SAFE_DOWNLOAD_TYPE = "application/octet-stream"
FILENAME_MAX = 255


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_files: int
    max_message_bytes: int
    types: tuple[str, ...]


@dataclass(frozen=True)
class Incoming:
    """A file on its way in: its name as given, its declared type and its bytes."""

    filename: str
    content_type: str
    data: bytes
    oversize: int = 0  # an upload too big to read: its size (and no data)

    @property
    def size(self) -> int:
        return self.oversize or len(self.data)


def limits() -> Limits:
    conf = {**DEFAULTS, **(getattr(settings, "KERVAN_SUPPORT_ATTACHMENTS", None) or {})}
    return Limits(
        max_bytes=int(conf["max_bytes"]),
        max_files=int(conf["max_files"]),
        max_message_bytes=int(conf["max_message_bytes"]),
        types=tuple(str(t).lower() for t in conf["types"]),
    )


def clean_filename(name: str) -> str:
    """The name to show: the last path part, no control characters, at most 255 characters (the extension kept)."""
    name = str(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".") or "attachment"
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[: FILENAME_MAX - len(ext) - 1]}.{ext}" if dot and len(ext) < 10 else name[:FILENAME_MAX]
    return name


def _extension(filename: str) -> str:
    stem, dot, ext = filename.lower().rpartition(".")
    return f".{ext}" if dot and stem else ""


def content_type_of(filename: str, declared: str = "") -> str:
    declared = str(declared or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream":
        return declared[:100]
    return (mimetypes.guess_type(filename)[0] or declared or SAFE_DOWNLOAD_TYPE)[:100]


def _type_allowed(filename: str, content_type: str, allowed: tuple[str, ...]) -> bool:
    extension = _extension(filename)
    if extension in NEVER_EXTENSIONS or content_type in NEVER_TYPES:
        return False
    for entry in allowed:
        if entry.startswith("."):
            if extension == entry:
                return True
        elif entry.endswith("/*"):
            if content_type.startswith(entry[:-1]):
                return True
        elif content_type == entry:
            return True
    return False


def refusal(file: Incoming, *, position: int, rules: Limits) -> str:
    """Why `file` (the `position`-th of its message, from 1) is not taken; "" when it passes."""
    if position > rules.max_files:
        return _("more than %(count)s files in one message") % {"count": rules.max_files}
    if file.size > rules.max_bytes:
        return _("%(size)s is over the limit of %(limit)s") % {
            "size": filesizeformat(file.size),
            "limit": filesizeformat(rules.max_bytes),
        }
    if not _type_allowed(file.filename, file.content_type, rules.types):
        return _("files of this type (%(type)s) are not accepted") % {"type": file.content_type}
    return ""


def sort_files(files: list[Incoming]) -> tuple[list[Incoming], list[tuple[Incoming, str]]]:
    """The files that pass, and the others with the reason each is refused."""
    rules = limits()
    taken: list[Incoming] = []
    refused: list[tuple[Incoming, str]] = []
    for file in files:
        reason = refusal(file, position=len(taken) + 1, rules=rules)
        if reason:
            refused.append((file, reason))
        else:
            taken.append(file)
    return taken, refused


def store(message: TicketMessage, file: Incoming) -> TicketAttachment:
    """Save a file that passed with its message (under a random name: kervan.support.models.attachment_path)."""
    attachment = TicketAttachment(
        message=message, filename=file.filename, content_type=file.content_type, size=len(file.data)
    )
    attachment.file.save(file.filename, ContentFile(file.data), save=False)
    attachment.save()
    return attachment


def from_upload(upload) -> Incoming:
    """An uploaded file (a form's or the API's) as an Incoming, read whole: the size limit is checked first."""
    name = clean_filename(upload.name)
    rules = limits()
    content_type = content_type_of(name, upload.content_type)
    if upload.size > rules.max_bytes:
        return Incoming(filename=name, content_type=content_type, data=b"", oversize=upload.size)
    return Incoming(filename=name, content_type=content_type, data=upload.read())


def download_type(attachment: TicketAttachment) -> str:
    """The Content-Type to serve: the stored one unless a browser could render it as a page."""
    content_type = attachment.content_type.lower()
    risky = content_type in NEVER_TYPES or "html" in content_type or "xml" in content_type or "script" in content_type
    return SAFE_DOWNLOAD_TYPE if risky or not content_type else content_type


def ticket_reply_with_files(*, actor: Actor, ticket: Ticket, body, status: str = "", uploads=()) -> TicketMessage:
    """An agent's reply with files: every file is checked first, and one refused refuses the reply (a clear error,
    nothing saved); otherwise the reply and its files are saved together, then emailed with the files attached."""
    from kervan.support.ticket_actions import ticket_reply

    files = [from_upload(upload) for upload in uploads]
    _taken, refused = sort_files(files)
    if refused:
        file, reason = refused[0]
        raise KervanError(
            _("%(name)s cannot be attached: %(reason)s.") % {"name": file.filename, "reason": reason},
            "attachment_refused",
            field="attachments",
        )
    with transaction.atomic():
        message = ticket_reply(actor=actor, ticket=ticket, body=body, status=status)
        for file in files:
            store(message, file)
    return message
