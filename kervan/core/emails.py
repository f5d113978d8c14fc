import re

from django.utils.translation import gettext as _

from kervan.core.errors import KervanError

# Deliberately simple: one @, a dot in the domain, no spaces. Deliverability is the mail server's job.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def normalize_email(raw: str, field: str = "email") -> str:
    """Return `raw` trimmed and lower-cased, or raise KervanError(code="invalid_email", field=field)."""
    value = (raw or "").strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise KervanError(_("'%(value)s' is not a valid email address.") % {"value": raw}, "invalid_email", field=field)
    return value
