"""What every domain router shares: the strict input schema, the error body, and cursor-page output."""

from ninja import Schema
from pydantic import ConfigDict


class InputSchema(Schema):
    """Request bodies refuse fields they do not know, so a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    detail: str
    code: str


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut}


def page_out(page, serialise) -> dict:
    return {"items": [serialise(item) for item in page.items], "next_cursor": page.next_cursor}
