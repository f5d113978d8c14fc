"""Amounts an AmountField cannot hold are a KervanError, never a database overflow or a Decimal trap."""

from decimal import Decimal

import pytest

from kervan.core.errors import KervanError
from kervan.core.money import MAX_AMOUNT, check_amount, to_amount


def test_the_largest_storable_amount_is_accepted():
    assert to_amount("999999999999.99") == MAX_AMOUNT
    assert to_amount("-999999999999.99") == -MAX_AMOUNT


@pytest.mark.parametrize("value", ["1000000000000", "999999999999.996", "1e20", "9" * 60, "-1e13"])
def test_larger_amounts_are_refused(value):
    with pytest.raises(KervanError) as exc:
        to_amount(value, "min_spent")
    assert exc.value.code == "amount_too_large" and exc.value.field == "min_spent"


def test_computed_amounts_are_checked_too():
    assert check_amount(Decimal("12.50")) == Decimal("12.50")
    with pytest.raises(KervanError):
        check_amount(Decimal("100000") * Decimal("999999999.99"), "lines[0] total")
