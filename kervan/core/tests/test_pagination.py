import pytest
from django.core import signing

from kervan.core.errors import KervanError
from kervan.core.pagination import decode_cursor, encode_cursor


def test_cursor_round_trips_typed_values():
    import datetime as dt
    from decimal import Decimal

    values = [dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC), Decimal("12.50"), dt.date(2026, 2, 3), 7]
    assert decode_cursor(encode_cursor(values), 4) == values


@pytest.mark.parametrize(
    "token", ["", "garbage", encode_cursor([1, 2])[:-2] + "xx", signing.dumps([{"dec": "x"}, 1], salt="other")]
)
def test_forged_or_damaged_cursors_are_a_clear_400(token):
    with pytest.raises(KervanError) as exc:
        decode_cursor(token, 2)
    assert exc.value.code == "invalid_cursor" and exc.value.status == 400


def test_wrong_length_is_refused():
    with pytest.raises(KervanError):
        decode_cursor(encode_cursor([1, 2, 3]), 2)
