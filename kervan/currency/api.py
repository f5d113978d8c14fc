"""Exchange rates in the API: list them, enter one by hand."""

import datetime as dt
from decimal import Decimal

from ninja import Field, Query, Router, Schema, Status

from kervan.core.api import ERRORS, InputSchema
from kervan.core.pagination import paginate
from kervan.currency import actions, selectors

router = Router(tags=["exchange rates"])


class RateIn(InputSchema):
    currency: str = Field(..., min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR")
    on: dt.date = Field(..., description="the day the rate holds for")
    try_per_unit: Decimal = Field(..., gt=0, max_digits=18, decimal_places=8, description="TRY for one unit")


class RateOut(Schema):
    currency: str
    on: dt.date
    try_per_unit: Decimal
    source: str


class RatePage(Schema):
    items: list[RateOut]
    next_cursor: str | None


class RateQuery(Schema):
    currency: str = ""
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=200)


@router.get("/", response={200: RatePage, **ERRORS})
def list_rates(request, query: Query[RateQuery]):
    """Newest day first. Rates are TRY for one unit of the currency (the TCMB's forex buying rate, or entered)."""
    rows = selectors.rates_list(actor=request.auth, currency=query.currency)
    page = paginate(rows, order="-id", cursor=query.cursor, limit=query.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/", response={201: RateOut, **ERRORS})
def set_rate(request, payload: RateIn):
    """Enter (or correct) a rate by hand."""
    return Status(201, actions.rate_set(actor=request.auth, **payload.dict()))
