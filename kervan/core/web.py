"""What the web views share: form posts that call an action, and the JSON answers of the public endpoints a shop's
pages call (the tracker's collect, the push subscribe prompt)."""

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import pydantic
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from kervan.core.errors import KervanError

Schema = TypeVar("Schema", bound=pydantic.BaseModel)


def form_action(request: Any, action: Callable[..., object], *, success: str | None = None, **kwargs: Any) -> bool:
    """Run `action(actor=request.actor, **kwargs)` for a form post. A refusal becomes an error message on the next
    page (the action wrote nothing); success optionally says so. Returns whether the action went through."""
    try:
        action(actor=request.actor, **kwargs)
    except KervanError as exc:
        messages.error(request, exc.detail)
        return False
    if success:
        messages.success(request, success)
    return True


def parse_json(schema: type[Schema], body: bytes, *, status: int = 400) -> Schema:
    """A JSON body read into `schema`, or a KervanError: "malformed_request" (400) when it is not JSON,
    "validation_error" (`status`) naming the first field the schema refuses."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise KervanError(_("The body is not valid JSON."), "malformed_request")
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        raise KervanError(
            f"{field}: {first.get('msg', 'invalid')}" if field else first.get("msg", "invalid"),
            "validation_error",
            status=status,
            field=field or None,
        )


def read_body(request: HttpRequest, limit: int, too_large: KervanError) -> bytes:
    """The request body, refused with `too_large` past `limit` bytes: by its declared length before it is read,
    and as read (Django's own refusal of a body over DATA_UPLOAD_MAX_MEMORY_SIZE is an HTML page)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    try:
        body: bytes = request.body
    except RequestDataTooBig:
        raise too_large from None
    if len(body) > limit:
        raise too_large
    return body


def json_error(status: int, detail: str, code: str, field: str | None = None) -> JsonResponse:
    """The one error shape: {"detail", "code"} and, when a field is to blame, "field"."""
    body = {"detail": detail, "code": code}
    if field:
        body["field"] = field
    return JsonResponse(body, status=status)


def allow_origin(response: HttpResponse, origin: str | None) -> HttpResponse:
    """Let a page on `origin` read the answer. Refusals for a foreign origin are sent with the header too, so a
    script sees the 4xx (and stops retrying) instead of a network error."""
    if origin is not None:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response
