"""Input checks that the order, return and refund actions share, so each refusal reads the same everywhere."""

from django.utils import timezone
from django.utils.translation import gettext as _

from kervan.core import clock
from kervan.core.errors import KervanError


def aware_or_now(value, field: str):
    """`value`, or now if it is empty; a naive datetime is refused (which zone would it be in?)."""
    value = value or clock.now()
    if timezone.is_naive(value):
        raise KervanError(_("%(field)s needs a time zone.") % {"field": field}, "naive_datetime", field=field)
    return value


def check_line_quantity(quantity, index: int) -> int:
    """lines[index].quantity is a whole number ≥ 1 (True is an int to Python, not a quantity)."""
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise KervanError(
            _("lines[%(index)s].quantity must be a whole number ≥ 1.") % {"index": index},
            "invalid_quantity",
            field=f"lines.{index}.quantity",
        )
    return quantity
