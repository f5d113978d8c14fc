"""What every domain router shares: the strict input schema, the error body, and cursor-page output.

Input types here keep values the databases cannot store (NUL characters, ids beyond 64 bits, time offsets
PostgreSQL refuses, times with no UTC equivalent) out with a 422, instead of letting them fail as a 500 at insert.
"""

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja import Field, Schema
from ninja.errors import ValidationError
from ninja.parser import Parser
from pydantic import AfterValidator, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

MAX_ID = 2**63 - 1  # bigint, the primary keys' type on both databases
NUL = "\x00"
NUL_MESSAGE = "contains a NUL character (\\u0000), which cannot be stored"
STORABLE = r"^[^\x00]*$"  # a pattern for text path parameters: no NUL, so it can reach a database filter


def nul_path(value: object, path: str = "") -> str | None:
    """Where the first NUL character is in parsed JSON (a dotted path; "" for the top), or None."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                return where
            found = nul_path(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_path(item, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None


class InputSchema(Schema):
    """Request bodies refuse fields they do not know, so a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")
    # PostgreSQL refuses NUL in text and JSON; refused on SQLite too, so both give the same answer. A schema whose
    # fields all check it themselves (with their own error codes) may turn this off.
    refuse_nul: ClassVar[bool] = True

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        where = nul_path(data) if cls.refuse_nul else None
        if where is not None:
            raise PydanticCustomError("nul_character", "{where} " + NUL_MESSAGE, {"where": where or "the value"})
        return data


class ApiParser(Parser):
    """Query and form values with a NUL character are refused (422) before they reach a database filter."""

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        for key, values in data.lists():
            if NUL in key or any(isinstance(v, str) and NUL in v for v in values):
                raise ValidationError([{"loc": ("query", key.replace(NUL, "\\u0000")), "msg": NUL_MESSAGE}])
        return super().parse_querydict(data, list_fields, request)


Id = Annotated[int, Field(ge=1, le=MAX_ID)]

# PostgreSQL stores offsets up to ±15:59 (real zones use -12:00 to +14:00); within a day of year 1 or 9999 a time
# may have no UTC equivalent, and a naive time is read in Europe/Istanbul.
_MAX_OFFSET = dt.timedelta(hours=15, minutes=59)
_EARLIEST, _LATEST = dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30)


def _storable_datetime(value: dt.datetime) -> dt.datetime:
    offset = value.utcoffset()
    if offset is not None and abs(offset) > _MAX_OFFSET:
        raise PydanticCustomError("datetime_offset", "has a UTC offset beyond ±15:59")
    if not _EARLIEST <= value.replace(tzinfo=None) <= _LATEST:
        raise PydanticCustomError("datetime_range", "must be between 0001-01-02 and 9999-12-30")
    return value


DateTimeIn = Annotated[dt.datetime, AfterValidator(_storable_datetime)]


class ErrorOut(Schema):
    detail: str
    code: str


ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    413: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}


def page_out(page: Any, serialise: Callable[[Any], Any]) -> dict[str, Any]:
    return {"items": [serialise(item) for item in page.items], "next_cursor": page.next_cursor}
