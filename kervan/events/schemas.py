"""Request and response shapes for event ingestion: the API (track, identify, batch, list) and the browser collector.

Types and shapes are checked here (a wrong type is a 422 before any work); meaning — an email that is not an email,
a timestamp without an offset, an unknown customer — is checked by the ingest action, which names the item.
"""

import datetime as dt
from typing import Annotated, Any, Literal

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, field_validator

from kervan.core.api import DateTimeIn, InputSchema
from kervan.core.errors import KervanError

MAX_ID = 2**63 - 1
# Text the database can store: PostgreSQL refuses NUL bytes, and the pattern forces pydantic to check the
# string is valid Unicode (a lone surrogate from "\ud800" in JSON would otherwise fail at insert time).
_STORABLE = r"^[^\x00]*$"


def Text(max_length: int, min_length: int = 0):  # noqa: N802 - reads like a type in the schemas below
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=_STORABLE)
    ]


def _iso_text(value):
    # Numbers would otherwise be read as Unix timestamps; an event's time must say its offset explicitly.
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string such as 2026-05-01T14:03:00+03:00")
    return value


IsoDatetime = Annotated[DateTimeIn, BeforeValidator(_iso_text)]
CustomerId = Annotated[int, Field(ge=1, le=MAX_ID)]
EventName = Text(100, 1)


class Item(BaseModel):
    """Base of the batch items. Plain pydantic, not ninja's Schema: Schema wraps every instance in a Python-level
    validator (twice, with extra="forbid"), which made a 100-item batch take 4.2 ms to validate instead of 0.2 ms.
    Extra fields are refused all the same."""

    model_config = ConfigDict(extra="forbid")


class Who(Item):
    """Who did it. At least one is needed; the strongest one present wins: customer_id, user_id+source, email,
    phone, then anonymous_id."""

    customer_id: CustomerId | None = None
    email: Text(254) | None = None
    phone: Text(40) | None = None
    user_id: Text(254) | None = Field(None, description="The customer's id in `source` (a store's customer id).")
    source: Text(64) | None = Field(None, description="Key of the Source sending this; namespaces event_id.")
    anonymous_id: Text(100) | None = None


class Traits(Item):
    first_name: Text(100) | None = None
    last_name: Text(100) | None = None
    birth_date: dt.date | None = None
    gender: Text(10) | None = None
    city: Text(100) | None = None
    country: Text(2) | None = None
    language: Text(8) | None = None
    time_zone: Text(64) | None = None


class TrackFields(Who):
    event_id: Text(100, 1) = Field(description="The client's unique id for this event; re-sending it is harmless.")
    name: EventName = Field(description="A canonical name such as 'Viewed Product', or a custom one.")
    occurred_at: IsoDatetime = Field(description="ISO 8601 with a UTC offset, e.g. 2026-05-01T14:03:00+03:00.")
    properties: dict[str, Any] = Field(default_factory=dict, description="A JSON object, at most 16 KB.")


class IdentifyFields(Item):
    anonymous_id: Text(100) | None = None
    email: Text(254) | None = None
    phone: Text(40) | None = None
    user_id: Text(254) | None = None
    source: Text(64) | None = None
    traits: Traits = Field(default_factory=Traits)


class TrackIn(InputSchema, TrackFields):
    refuse_nul = False  # Text fields refuse NUL; ingest refuses it in properties as for batches (invalid_properties)


class IdentifyIn(InputSchema, IdentifyFields):
    refuse_nul = False  # every field is Text (or typed traits), which refuses NUL


class TrackItem(TrackFields):
    type: Literal["track"]


class IdentifyItem(IdentifyFields):
    type: Literal["identify"]


COLLECT_BATCH_MAX = 100  # the tracker sends at most 50 events at a time


def _size_checker(limit_of):
    return field_validator("batch", mode="before")(lambda cls, items: _check_size(items, limit_of()))


def _check_size(items, limit: int):
    if isinstance(items, list):
        if len(items) > limit:
            # Raised (not a ValueError) so it leaves validation at once, before a huge list is parsed item by item.
            raise KervanError(
                _("A batch holds at most %(limit)s items; this one has %(count)s. Split it.")
                % {"limit": limit, "count": len(items)},
                "batch_too_large",
                status=413,
            )
        if not items:
            raise ValueError("the batch is empty")
    return items


class BatchIn(Item):
    """Plain pydantic like the items (see Item): InputSchema would validate the whole batch twice."""

    batch: list[Annotated[TrackItem | IdentifyItem, Field(discriminator="type")]]

    _size = _size_checker(lambda: settings.KERVAN_EVENT_BATCH_MAX)


class IngestOut(Schema):
    accepted: int = Field(description="Events stored now.")
    duplicates: int = Field(description="Events whose event_id had been received before (not stored again).")
    identified: int = Field(0, description="Identify calls processed.")


class IdentifyOut(Schema):
    customer_id: int
    created: bool


class EventOut(Schema):
    id: int
    name: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    customer_id: int | None
    anonymous_id: str
    properties: dict
    source: str | None = Field(None, description="Key of the source the event came from.")


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None


# The browser tracker's body. No customer_id, and a store user id only with its signature: a visitor's browser may
# only speak for itself (kervan.events.storefront).
class CollectTrack(Item):
    type: Literal["track"]
    event_id: Text(100, 1)
    name: EventName
    occurred_at: IsoDatetime
    properties: dict[str, Any] = Field(default_factory=dict)
    anonymous_id: Text(100, 1)


class CollectIdentify(Item):
    type: Literal["identify"]
    anonymous_id: Text(100, 1)
    email: Text(254) | None = None
    phone: Text(40) | None = None
    user_id: Text(254) | None = Field(None, description="The shop's customer id; needs `signature`.")
    signature: Text(128) | None = Field(
        None, description="Hex HMAC-SHA256 of user_id (or else email, or else phone) with the site's identity secret."
    )
    traits: Traits = Field(default_factory=Traits)


class CollectIn(InputSchema):
    key: Text(40, 1) = Field(description="The site's publishable key.")
    sent_at: IsoDatetime | None = Field(None, description="The browser's clock when sending; corrects clock skew.")
    batch: list[Annotated[CollectTrack | CollectIdentify, Field(discriminator="type")]]

    _size = _size_checker(lambda: COLLECT_BATCH_MAX)
