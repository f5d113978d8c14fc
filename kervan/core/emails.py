"""Email addresses: one form to store and show, one key to match.

`normalize_email(raw)` is the address as the customer typed it, written one way: trimmed, Unicode NFC, lower-cased
the Turkish-aware way (a capital "İ" typed with Turkish Caps Lock is "i", never "i" plus a combining dot), the domain
in its ASCII form (IDNA 2008 / UTS 46: "şirket.com" is "xn--irket-idb.com"). Customer.email keeps this form.

`email_match_key(email)` is the mailbox the address reaches: two addresses with the same key are one person and one
suppression. Every Identity of kind email holds it and every email look-up compares it. It folds the forms a
provider defines as the same mailbox (Gmail: dots and a "+tag" in the local part are ignored, googlemail.com is
gmail.com) and, in a non-ASCII local part, the dotless "ı" (Turkish Caps Lock makes "I" of it, which reads back "i").

Both run for every event that carries an email (ingestion's hot path): plain ASCII takes a fast path of one
lower() and one regular expression; anything else is normalised once and cached.
"""

import re
import unicodedata
from functools import lru_cache

import idna
from django.utils.translation import gettext as _

from kervan.core.errors import KervanError

# Deliberately simple: one @, a local part without spaces, a domain of host-name labels (letters, digits, inner
# hyphens; the ASCII form every domain has) ending in a label of two or more. Deliverability is the mail server's job.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_EMAIL = re.compile(rf"[^@\s]+@(?:{_LABEL}\.)+[a-z0-9][a-z0-9-]{{0,61}}[a-z0-9]")
MAX_LENGTH = 254
_TURKISH_CAPITAL_I = str.maketrans({"İ": "i"})
_STRAY_DOT = "i\u0307"  # what str.lower() (and JavaScript's toLowerCase) make of "İ"
# Providers whose mailboxes ignore dots and "+tags" in the local part, and the domain their key is written with.
_DOTS_AND_TAGS_IGNORED = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def normalize_email(raw: str, field: str = "email") -> str:
    """The address to store and show: trimmed, NFC, Turkish-aware lower case, ASCII (IDNA) domain; or raise
    KervanError(code="invalid_email", field=field)."""
    value = (raw or "").strip()
    if value.isascii():
        value = value.lower()
        if len(value) <= MAX_LENGTH and "xn--" not in value and _EMAIL.fullmatch(value):
            return value
    try:
        return _normalize_any(value)
    except ValueError:
        raise KervanError(_("'%(value)s' is not a valid email address.") % {"value": raw}, "invalid_email", field=field)


@lru_cache(maxsize=8192)  # a batch of events names the same people again and again; a hit costs 0.06 µs, not 1.2
def email_match_key(email: str, field: str = "email") -> str:
    """The mailbox `email` reaches, for Identity values and every email look-up. Takes any address, typed or already
    normalised (raises like normalize_email); email_match_key(email_match_key(x)) == email_match_key(x)."""
    value = normalize_email(email, field)
    local, _at, domain = value.rpartition("@")
    folded = local if local.isascii() else local.replace("ı", "i")
    canonical_domain = _DOTS_AND_TAGS_IGNORED.get(domain)
    if canonical_domain is None:
        return value if folded == local else f"{folded}@{domain}"
    # "+tag" alone or dots alone are not a mailbox name: such an address keeps its local part.
    return f"{folded.partition('+')[0].replace('.', '') or folded}@{canonical_domain}"


@lru_cache(maxsize=4096)
def _normalize_any(value: str) -> str:
    """The general path of normalize_email for a stripped address; ValueError if it is not an address."""
    if len(value) > 4 * MAX_LENGTH:  # longer than any address even in decomposed form: not worth normalising
        raise ValueError(value)
    # NFC first, so a decomposed "İ" (I + U+0307) is one character the Turkish mapping sees.
    value = unicodedata.normalize("NFC", value).translate(_TURKISH_CAPITAL_I).lower().replace(_STRAY_DOT, "i")
    value = unicodedata.normalize("NFC", value)
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(value)
    domain = idna.encode(domain, uts46=True).decode("ascii")  # IDNAError is a ValueError
    value = f"{local}@{domain}"
    if len(value) > MAX_LENGTH or not _EMAIL.fullmatch(value):
        raise ValueError(value)
    return value
