"""/api/v1/messaging: templates (with their rendering checked on save) and the suppression list."""

import datetime as dt
from typing import Any

from ninja import Router, Schema, Status

from kervan.core.api import ERRORS
from kervan.core.errors import NotFound
from kervan.messaging import actions
from kervan.messaging.models import Suppression, Template

router = Router(tags=["messaging"])


class TemplateIn(Schema):
    name: str
    channel: str
    purpose: str = "marketing"
    content: dict[str, dict[str, str]]
    strict: bool = False


class TemplateOut(Schema):
    id: int
    name: str
    channel: str
    purpose: str
    content: dict[str, Any]
    updated_at: dt.datetime


class SuppressionIn(Schema):
    channel: str
    address: str
    reason: str = "manual"
    note: str = ""


class SuppressionOut(Schema):
    id: int
    channel: str
    address: str
    reason: str
    note: str
    created_at: dt.datetime


def _template_out(t: Template) -> dict:
    return {
        "id": t.pk,
        "name": t.name,
        "channel": t.channel,
        "purpose": t.purpose,
        "content": t.content,
        "updated_at": t.updated_at,
    }


def _template(request, template_id: int) -> Template:
    request.auth.require("messaging", "read")
    template = Template.objects.filter(pk=template_id).first()
    if template is None:
        raise NotFound("No such template.", "not_found")
    return template


@router.get("/templates", response={200: list[TemplateOut], **ERRORS}, summary="List message templates")
def list_templates(request):
    request.auth.require("messaging", "read")
    return [_template_out(t) for t in Template.objects.all()]


@router.post("/templates", response={201: TemplateOut, **ERRORS}, summary="Create a template")
def create_template(request, payload: TemplateIn):
    """content: {"tr": {"subject", "html", "text"}, "en": {...}}. A template that does not render (a syntax error,
    a forbidden lookup) is refused with 400 "template_invalid" and the reason."""
    template = actions.template_save(
        actor=request.auth,
        name=payload.name,
        channel=payload.channel,
        purpose=payload.purpose,
        content=payload.content,
        strict=payload.strict,
    )
    return Status(201, _template_out(template))


@router.get("/templates/{template_id}", response={200: TemplateOut, **ERRORS}, summary="One template")
def get_template(request, template_id: int):
    return _template_out(_template(request, template_id))


@router.put("/templates/{template_id}", response={200: TemplateOut, **ERRORS}, summary="Change a template")
def update_template(request, template_id: int, payload: TemplateIn):
    template = actions.template_save(
        actor=request.auth,
        name=payload.name,
        channel=payload.channel,
        purpose=payload.purpose,
        content=payload.content,
        strict=payload.strict,
        template=_template(request, template_id),
    )
    return _template_out(template)


@router.get("/suppressions", response={200: list[SuppressionOut], **ERRORS}, summary="The suppression list")
def list_suppressions(request, channel: str | None = None, limit: int = 500):
    request.auth.require("messaging", "read")
    rows = Suppression.objects.all()
    if channel:
        rows = rows.filter(channel=channel)
    return [_suppression_out(s) for s in rows[: max(1, min(limit, 5000))]]


@router.post("/suppressions", response={201: SuppressionOut, **ERRORS}, summary="Suppress an address")
def add_suppression(request, payload: SuppressionIn):
    suppression = actions.suppression_add(
        actor=request.auth, channel=payload.channel, address=payload.address, reason=payload.reason, note=payload.note
    )
    return Status(201, _suppression_out(suppression))


@router.delete("/suppressions/{suppression_id}", response={204: None, **ERRORS}, summary="Lift a suppression")
def lift_suppression(request, suppression_id: int):
    request.auth.require("messaging", "write")
    suppression = Suppression.objects.filter(pk=suppression_id).first()
    if suppression is None:
        raise NotFound("No such suppression.", "not_found")
    actions.suppression_lift(actor=request.auth, suppression=suppression)
    return Status(204, None)


def _suppression_out(s: Suppression) -> dict:
    return {
        "id": s.pk,
        "channel": s.channel,
        "address": s.address,
        "reason": s.reason,
        "note": s.note,
        "created_at": s.created_at,
    }
