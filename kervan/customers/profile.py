"""A customer's profile fields and the rules that clean them: once, for every way a profile is written (the API and
forms through customers.actions, identify/track traits, the bulk import, which cleans each column with these same
functions)."""

import datetime as dt
import zoneinfo

from django.utils.translation import gettext as _

from kervan.core import clock
from kervan.core.emails import normalize_email
from kervan.core.errors import KervanError, check_choice
from kervan.core.phones import normalize_phone
from kervan.customers.models import Gender

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "city",
    "country",
    "language",
    "time_zone",
)
TEXT_LIMITS = {"first_name": 100, "last_name": 100, "city": 100}


def clean_text(value: object, *, field: str) -> str:
    text = str(value).strip()
    if len(text) > TEXT_LIMITS[field]:
        raise KervanError(
            _("%(field)s: at most %(limit)s characters.") % {"field": field, "limit": TEXT_LIMITS[field]},
            "too_long",
            field=field,
        )
    return text


def clean_birth_date(value: dt.date, *, field: str = "birth_date") -> dt.date:
    if value > clock.localdate() or value.year < 1900:
        raise KervanError(_("birth_date is out of range."), "invalid_date", field=field)
    return value


def clean_country(value: object, *, field: str = "country") -> str:
    text = str(value).strip().upper()
    if text and (len(text) != 2 or not text.isalpha()):
        raise KervanError(_("country must be a two-letter ISO code such as TR."), "invalid_country", field=field)
    return text


def clean_language(value: object, *, field: str = "language") -> str:
    text = str(value).strip().lower()
    if text and (len(text) > 8 or not text.replace("-", "").isalpha()):
        raise KervanError(_("language must be a language code such as tr or en."), "invalid_language", field=field)
    return text


def clean_profile(data: dict) -> dict:
    """Normalise and check profile fields; raise KervanError naming the first bad field."""
    cleaned = {}
    for name, value in data.items():
        if name not in PROFILE_FIELDS:
            raise KervanError(_("Unknown field '%(name)s'.") % {"name": name}, "unknown_field", field=name)
        if value is None:
            value = "" if name != "birth_date" else None
        if name in TEXT_LIMITS:
            value = clean_text(value, field=name)
        elif name == "email":
            value = normalize_email(value) if value else ""
        elif name == "phone":
            value = normalize_phone(value) if value else ""
        elif name == "birth_date" and value is not None:
            if isinstance(value, str):
                try:
                    value = dt.date.fromisoformat(value)
                except ValueError:
                    raise KervanError(
                        _("birth_date: '%(value)s' is not a date (YYYY-MM-DD).") % {"value": value},
                        "invalid_date",
                        field=name,
                    )
            value = clean_birth_date(value, field=name)
        elif name == "gender":
            check_choice(value, Gender, field=name)
        elif name == "country":
            value = clean_country(value, field=name)
        elif name == "language":
            value = clean_language(value, field=name)
        elif name == "time_zone":
            if value not in zoneinfo.available_timezones():
                raise KervanError(
                    _("'%(value)s' is not a time zone.") % {"value": value}, "invalid_time_zone", field=name
                )
        cleaned[name] = value
    return cleaned
