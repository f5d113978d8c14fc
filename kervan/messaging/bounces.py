"""Bounces: who a delivery report says could not be reached, and whether trying again may help.

`read_bounce(raw)` reads one message from the bounce mailbox (an RFC 3464 DSN or one of the free-text reports old
MTAs write) with flufl.bounce and says which addresses failed, permanently (a hard bounce: suppress) or for now (a
soft bounce: count), and which of our messages it was about (the X-Kervan-Message header the email transport puts
on everything it sends, when the report returns the original message or its headers). `read_mailbox(path)` gives
the messages of a saved DSN file or of an mbox exported from a bounce mailbox. `record(bounce, source)` hands each
address to the suppression logic (kervan.messaging.actions.bounce_record).

The SMTP receiver (kervan.messaging.channels.email.inbound) and `manage.py bounces_import` both go through here.
"""

import email
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from flufl.bounce import all_failures

__all__ = ["Bounce", "read_bounce", "read_bounces", "read_mailbox", "record"]

log = logging.getLogger(__name__)

KEY_HEADER = "X-Kervan-Message"
# A report that quotes the original message as plain text (qmail, Exim, many free-text ones) still shows the header.
_QUOTED_KEY = re.compile(
    rb"^[ \t>]*X-Kervan-Message:[ \t]*<?([^\s<>]{1,200})>?[ \t]*\r?$", re.IGNORECASE | re.MULTILINE
)


@dataclass(frozen=True)
class Bounce:
    addresses: list[str]
    permanent: bool
    message_key: str = ""


def read_bounce(raw: bytes) -> Bounce | None:
    """The failed addresses `raw` reports, or None when it is no bounce (or names no address). A report naming
    permanent and temporary failures at once (rare) gives its permanent ones here; read_bounces gives both."""
    bounces = read_bounces(raw)
    return bounces[0] if bounces else None


def read_bounces(raw: bytes) -> list[Bounce]:
    """Every bounce in one report: the permanent failures first, then the temporary ones; [] when it is no bounce."""
    try:
        msg = email.message_from_bytes(raw)
        temporary, permanent = all_failures(msg)
        hard = _valid(permanent)
        # An address both delayed and failed in one report has failed: the permanent class wins.
        soft = [address for address in _valid(temporary) if address not in hard]
        key = message_key(msg) if hard or soft else ""
    except Exception:  # noqa: BLE001 - mail from anywhere on the internet: one odd message must not stop the mailbox
        log.exception("Could not read a message as a bounce; treated as no bounce")
        return []
    return [Bounce(addresses, permanent, key) for addresses, permanent in ((hard, True), (soft, False)) if addresses]


def _valid(found: frozenset[bytes]) -> list[str]:
    """The addresses worth acting on, sorted. The heuristic detectors sometimes pick up text that is no address (an
    Exim report's "david...@gmail.com", cut short by the MTA): suppressing it would, after Gmail's dot folding, hit
    david@gmail.com, someone else. So an address must be a valid one as it stands."""
    addresses = []
    for value in found:
        address = value.decode("ascii", "replace").strip()
        try:
            validate_email(address)
        except ValidationError:
            log.info("Bounce address %r is not a valid address; ignored", address)
            continue
        addresses.append(address)
    return sorted(set(addresses))


def message_key(msg: Message) -> str:
    """The X-Kervan-Message of the message that bounced, when the report returns it: a message/rfc822 part (the
    whole original), a text/rfc822-headers part (its headers), or, in free-text reports, a quoted header line."""
    for part in msg.walk():
        if part is msg:
            continue  # the report's own headers say nothing of the original
        kind = part.get_content_type()
        if kind == "message/rfc822":
            for original in part.get_payload() or []:
                if isinstance(original, Message) and original.get(KEY_HEADER):
                    return _clean(original[KEY_HEADER])
        elif kind in ("text/rfc822-headers", "message/rfc822-headers"):
            text = _body(part).decode("utf-8", "replace")
            headers = HeaderParser().parsestr(text, headersonly=True)
            if headers.get(KEY_HEADER):
                return _clean(headers[KEY_HEADER])
    # A one-part free-text report quotes the original in its own body; a multipart one in one of its text parts.
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            found = _QUOTED_KEY.search(_body(part))
            if found:
                return found.group(1).decode("ascii", "replace")
    return ""


def _body(part: Message) -> bytes:
    """A leaf part's content, transfer-decoded (base64, quoted-printable)."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _clean(value: str) -> str:
    return str(value).strip().strip("<>").strip()[:200]


def read_mailbox(path: str | Path) -> Iterator[tuple[str, bytes]]:
    """(name, raw message) for each message in `path`. A file starting with "From " is an mbox: its messages are
    named "file.mbox#1", "file.mbox#2"…, except that an mbox of one message (a DSN saved with its envelope line, as
    many are) is named after the file. Any other file is one message. Raises OSError for a path it cannot read."""
    path = Path(path)
    with path.open("rb") as handle:
        first = handle.read(5)
        handle.seek(0)
        if first != b"From ":
            yield path.name, handle.read()
            return
        # Read as a stream, one message in memory at a time: an exported bounce mailbox can be gigabytes.
        pending: bytes | None = None
        number = 0
        for raw in _mbox_messages(handle):
            if pending is not None:
                number += 1
                yield f"{path.name}#{number}", pending
            pending = raw
        if pending is not None:
            yield (f"{path.name}#{number + 1}" if number else path.name), pending


def _mbox_messages(handle: BinaryIO) -> Iterator[bytes]:
    """The messages of an mbox stream, without their "From " lines and with ">From " unescaped. A message starts at a
    "From " line at the top or after an empty line, so an unescaped "From " inside a paragraph does not split one."""
    lines: list[bytes] = []
    previous_blank = True
    for line in handle:
        if line.startswith(b"From ") and previous_blank:
            if lines:
                yield _message(lines)
            lines = []
            previous_blank = False
            continue
        # mboxrd escapes a body's ">*From " with one more ">"; mboxo only "From ", which this reads back the same.
        if line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
            line = line[1:]
        lines.append(line)
        previous_blank = line in (b"\n", b"\r\n")
    if lines:
        yield _message(lines)


def _message(lines: list[bytes]) -> bytes:
    # The empty line before the next "From " belongs to the mbox, not to the message.
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]
    return b"".join(lines)


def record(bounce: Bounce, source: str, *, trusted: bool = False) -> dict[str, str]:
    """Hand each address of `bounce` to the suppression logic; {address: what it did} ("suppressed", "counted",
    "unknown"). `trusted`: the bounce comes from staff (an imported bounce mailbox), not from whoever can reach the
    receiver, so a hard bounce suppresses even an address no message of ours went to."""
    # Imported here: the actions module is the sending side, which may come to import this module's readers.
    from kervan.messaging.actions import bounce_record

    return {
        address: bounce_record(
            address=address,
            permanent=bounce.permanent,
            source=source[:100],
            message_key=bounce.message_key,
            trusted=trusted,
        )
        for address in bounce.addresses
    }
