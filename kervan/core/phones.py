"""Phone numbers in E.164, Türkiye (+90) by default."""

import re

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

from kervan.core.errors import KervanError

# The common Turkish mobile shapes ("0532 123 45 67", "5321234567", "+90 532 ...") are recognised
# without a full phonenumbers parse, which keeps a 1M-row import fast; everything else takes the full path.
_TR_MOBILE = re.compile(r"^(?:\+?90|0)?(5\d{9})$")
_STRIP = re.compile(r"[\s\-().]")


def normalize_phone(raw: str, region: str | None = None, field: str = "phone") -> str:
    """Return `raw` as E.164 or raise KervanError(code="invalid_phone", field=field)."""
    value = _STRIP.sub("", raw or "")
    if not value:
        raise KervanError(_("Phone number is empty."), "invalid_phone", field=field)
    region = region or settings.KERVAN_DEFAULT_PHONE_REGION
    if region == "TR" and (match := _TR_MOBILE.match(value)):
        return "+90" + match.group(1)
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise KervanError(
            _("'%(value)s' is not a phone number.") % {"value": raw}, "invalid_phone", field=field
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise KervanError(_("'%(value)s' is not a valid phone number.") % {"value": raw}, "invalid_phone", field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
