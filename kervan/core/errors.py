"""One error type for bad input: every layer raises it, the API and the views render it the same way."""

from collections.abc import Iterable
from typing import TypeVar

from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

T = TypeVar("T")


class KervanError(Exception):
    """A refusal the caller can fix. Rendered as {"detail": ..., "code": ...} with `status`."""

    status = 400

    def __init__(self, detail: str, code: str = "invalid", *, status: int | None = None, field: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.field = field
        if status is not None:
            self.status = status


class NotFound(KervanError):
    status = 404

    def __init__(self, detail: str | None = None, code: str = "not_found"):
        super().__init__(_("Not found.") if detail is None else detail, code)


class PermissionDenied(KervanError):
    status = 403

    def __init__(self, detail: str | None = None, code: str = "permission_denied"):
        super().__init__(_("You do not have permission to do this.") if detail is None else detail, code)


class Conflict(KervanError):
    status = 409


# The database is unreachable, restarting, or gave up on a statement (deadlock, timeout): the request's transaction
# was rolled back and the same request will very likely succeed in a moment. Answered 503 + Retry-After, not 500.
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE_DETAIL = gettext_lazy("The database is not available right now; try again in a few seconds.")


def check_choice(value: T, choices: Iterable[object], *, field: str, label: str | None = None) -> T:
    """Return `value` if it is one of `choices` (a TextChoices class or an iterable of values); otherwise raise the one
    "invalid_choice" refusal with the allowed values. The message names the field by `label` (a translated name such
    as "Payment method") when the caller gives one, never by its input key: `field` travels beside the message."""
    allowed = list(getattr(choices, "values", choices))
    if value in allowed:
        return value
    params = {"field": label, "value": value, "choices": ", ".join(str(c) for c in allowed if c != "")}
    if label:
        message = _("%(field)s must be one of: %(choices)s.") % params
    else:
        message = _("'%(value)s' is not one of: %(choices)s.") % params
    raise KervanError(message, "invalid_choice", field=field)


def check_sort(value: str, sorts: Iterable[str], *, field: str = "sort") -> str:
    """Return `value` if it is one of a list's sort orders, else the "invalid_sort" refusal (a list page shows it
    beside its sort menu, which names the orders in the UI language; the API's schema lists the values)."""
    if value in set(sorts):
        return value
    raise KervanError(
        _("'%(value)s' is not a sort order this list offers.") % {"value": value}, "invalid_sort", field=field
    )
