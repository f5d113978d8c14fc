"""Settings → Webhooks and Settings → Exports: endpoints (list, add, change, rotate the secret, send a test, the
delivery log, replay) and scheduled exports (list, add, change, download now). Admin only. Views parse and call
actions."""

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.core.outgoing import outbound_events
from kervan.outbound import actions, exports, schedules, selectors
from kervan.outbound.models import ExportSchedule, WebhookDelivery

AREA = "outbound"
WEEKDAYS = [(0, gettext_lazy("Monday")), (1, gettext_lazy("Tuesday")), (2, gettext_lazy("Wednesday")),
            (3, gettext_lazy("Thursday")), (4, gettext_lazy("Friday")), (5, gettext_lazy("Saturday")),
            (6, gettext_lazy("Sunday"))]  # fmt: skip


def _get(getter, **kwargs):  # noqa: ANN001, ANN202 - a selector and its arguments
    try:
        return getter(**kwargs)
    except KervanError as error:
        raise Http404(error.detail) from None


# --- webhooks ------------------------------------------------------------------------------------------------


@require_access(AREA, "write")
def endpoint_list(request):
    return render(request, "outbound/webhooks.html", {"endpoints": selectors.endpoint_list(actor=request.actor)})


def _endpoint_values(post) -> dict:
    return {
        "url": post.get("url", ""),
        "description": post.get("description", ""),
        "events": post.getlist("events"),
        "active": post.get("active") == "on",
    }


def _form(request, values: dict, endpoint=None, status: int = 200):
    context = {"values": values, "events": outbound_events(), "endpoint": endpoint}
    return render(request, "outbound/webhook_form.html", context, status=status)


@require_access(AREA, "write")
def endpoint_new(request):
    if request.method != "POST":
        return _form(request, {"url": "", "description": "", "events": [], "active": True})
    values = _endpoint_values(request.POST)
    try:
        endpoint = actions.endpoint_create(actor=request.actor, **values)
    except KervanError as error:
        messages.error(request, error.detail)
        return _form(request, values, status=error.status)
    return _detail(request, endpoint, new_secret=endpoint.secret)


@require_access(AREA, "write")
def endpoint_edit(request, endpoint_id: int):
    endpoint = _get(selectors.endpoint_get, actor=request.actor, endpoint_id=endpoint_id)
    if request.method != "POST":
        values = {name: getattr(endpoint, name) for name in ("url", "description", "events", "active")}
        return _form(request, values, endpoint)
    values = _endpoint_values(request.POST)
    try:
        actions.endpoint_update(actor=request.actor, endpoint=endpoint, **values)
    except KervanError as error:
        messages.error(request, error.detail)
        return _form(request, values, endpoint, status=error.status)
    messages.success(request, _("Saved."))
    return redirect("outbound:webhook", endpoint_id=endpoint.pk)


def _detail(request, endpoint, *, new_secret: str = ""):
    status = request.GET.get("status", "")
    try:
        deliveries = selectors.delivery_list(actor=request.actor, endpoint=endpoint, status=status)
    except KervanError as error:
        messages.error(request, error.detail)
        status, deliveries = "", selectors.delivery_list(actor=request.actor, endpoint=endpoint)
    labels = {e.name: e.label for e in outbound_events()}
    context = {
        "endpoint": endpoint,
        "event_labels": [labels.get(name, name) for name in endpoint.events],
        "deliveries": deliveries,
        "statuses": WebhookDelivery.Status.choices,
        "status": status,
        "new_secret": new_secret,
    }
    return render(request, "outbound/webhook.html", context)


@require_access(AREA, "write")
def endpoint_detail(request, endpoint_id: int):
    return _detail(request, _get(selectors.endpoint_get, actor=request.actor, endpoint_id=endpoint_id))


@require_POST
@require_access(AREA, "write")
def endpoint_rotate(request, endpoint_id: int):
    endpoint = _get(selectors.endpoint_get, actor=request.actor, endpoint_id=endpoint_id)
    endpoint = actions.endpoint_rotate_secret(actor=request.actor, endpoint=endpoint)
    messages.success(request, _("A new secret is in use from now on. Give it to the receiving system."))
    return _detail(request, endpoint, new_secret=endpoint.secret)


@require_POST
@require_access(AREA, "write")
def endpoint_test(request, endpoint_id: int):
    endpoint = _get(selectors.endpoint_get, actor=request.actor, endpoint_id=endpoint_id)
    delivery = actions.endpoint_send_test(actor=request.actor, endpoint=endpoint)
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        messages.success(
            request, _("The test event was delivered (HTTP %(code)s).") % {"code": delivery.last_status_code}
        )
    else:
        messages.error(request, _("The test event was not delivered: %(error)s") % {"error": delivery.last_error})
    return redirect("outbound:webhook", endpoint_id=endpoint.pk)


@require_POST
@require_access(AREA, "write")
def endpoint_delete(request, endpoint_id: int):
    endpoint = _get(selectors.endpoint_get, actor=request.actor, endpoint_id=endpoint_id)
    actions.endpoint_delete(actor=request.actor, endpoint=endpoint)
    messages.success(request, _("The endpoint and its delivery log were deleted."))
    return redirect("outbound:webhooks")


@require_access(AREA, "write")
def delivery_detail(request, delivery_id: int):
    delivery = _get(selectors.delivery_get, actor=request.actor, delivery_id=delivery_id)
    payload = json.dumps(delivery.payload, ensure_ascii=False, indent=2)
    return render(request, "outbound/delivery.html", {"delivery": delivery, "payload": payload})


@require_POST
@require_access(AREA, "write")
def delivery_replay(request, delivery_id: int):
    delivery = _get(selectors.delivery_get, actor=request.actor, delivery_id=delivery_id)
    try:
        actions.delivery_replay(actor=request.actor, delivery=delivery)
    except KervanError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The delivery will be sent again in a few seconds."))
    if request.POST.get("back") == "delivery":
        return redirect("outbound:delivery", delivery_id=delivery.pk)
    return redirect("outbound:webhook", endpoint_id=delivery.endpoint_id)


# --- exports -------------------------------------------------------------------------------------------------


@require_access(AREA, "write")
def export_list(request):
    return render(request, "outbound/exports.html", {"schedules": selectors.schedule_list(actor=request.actor),
                                                     "kinds": ExportSchedule.Kind.choices})  # fmt: skip


def _field_rows(kind: str, columns: list[dict]) -> list[dict]:
    """Every field of `kind` for the form: chosen ones first in their order, with their titles."""
    chosen = {c["field"]: (i, c["title"]) for i, c in enumerate(columns)}
    rows = []
    for field in exports.FIELDS[kind].values():
        position, title = chosen.get(field.key, (None, ""))
        rows.append({"key": field.key, "label": field.label, "chosen": position is not None,
                     "position": "" if position is None else position + 1, "title": title})  # fmt: skip
    return sorted(rows, key=lambda r: (not r["chosen"], r["position"] or 0))


def _export_values(post, kind: str) -> dict:
    picked = []
    for key in exports.FIELDS[kind]:
        if post.get(f"use_{key}") == "on":
            try:
                position = int(post.get(f"pos_{key}") or 999)
            except ValueError:
                position = 999
            picked.append((position, len(picked), {"field": key, "title": post.get(f"title_{key}", "")}))
    return {
        "name": post.get("name", ""),
        "kind": kind,
        "format": post.get("format", ""),
        "period": post.get("period", ""),
        "frequency": post.get("frequency", ""),
        "at_time": post.get("at_time", ""),
        "weekday": post.get("weekday", "0"),
        "day_of_month": post.get("day_of_month", "1"),
        "time_zone": post.get("time_zone", "Europe/Istanbul"),
        "recipients": post.get("recipients", ""),
        "active": post.get("active") == "on",
        "columns": [column for _p, _i, column in sorted(picked, key=lambda t: (t[0], t[1]))],
    }


def _export_form(request, values: dict, schedule=None, status: int = 200):
    columns = values["columns"] if isinstance(values["columns"], list) else []
    recipients = values["recipients"]
    context = {
        "values": {**values, "recipients": ", ".join(recipients) if isinstance(recipients, list) else recipients},
        "schedule": schedule,
        "fields": _field_rows(values["kind"], columns),
        "formats": ExportSchedule.Format.choices,
        "periods": ExportSchedule.Period.choices,
        "frequencies": ExportSchedule.Frequency.choices,
        "weekdays": WEEKDAYS,
        "kind_label": ExportSchedule.Kind(values["kind"]).label,
    }
    return render(request, "outbound/export_form.html", context, status=status)


@require_access(AREA, "write")
def export_new(request):
    kind = request.POST.get("kind") or request.GET.get("kind") or ExportSchedule.Kind.ORDERS
    if kind not in ExportSchedule.Kind.values:
        kind = ExportSchedule.Kind.ORDERS
    if request.method != "POST":
        columns = [{"field": k, "title": str(exports.FIELDS[kind][k].label)} for k in exports.DEFAULT_COLUMNS[kind]]
        values = {"name": "", "kind": kind, "format": "csv", "period": "last_day", "frequency": "daily",
                  "at_time": "06:00", "weekday": 0, "day_of_month": 1, "time_zone": "Europe/Istanbul",
                  "recipients": [], "active": True, "columns": columns}  # fmt: skip
        return _export_form(request, values)
    values = _export_values(request.POST, kind)
    try:
        schedule = schedules.schedule_create(actor=request.actor, **values)
    except KervanError as error:
        messages.error(request, error.detail)
        return _export_form(request, values, status=error.status)
    messages.success(request, _("Saved."))
    return redirect("outbound:export", schedule_id=schedule.pk)


@require_access(AREA, "write")
def export_edit(request, schedule_id: int):
    schedule = _get(selectors.schedule_get, actor=request.actor, schedule_id=schedule_id)
    if request.method != "POST":
        return _export_form(request, schedules._as_values(schedule) | {"at_time": schedule.at_time.strftime("%H:%M")},
                            schedule)  # fmt: skip
    values = _export_values(request.POST, schedule.kind)
    try:
        schedules.schedule_update(actor=request.actor, schedule=schedule, **values)
    except KervanError as error:
        messages.error(request, error.detail)
        return _export_form(request, values, schedule, status=error.status)
    messages.success(request, _("Saved."))
    return redirect("outbound:export", schedule_id=schedule.pk)


@require_access(AREA, "write")
def export_download(request, schedule_id: int):
    schedule = _get(selectors.schedule_get, actor=request.actor, schedule_id=schedule_id)
    return schedules.download_response(actor=request.actor, schedule=schedule)


@require_POST
@require_access(AREA, "write")
def export_delete(request, schedule_id: int):
    schedule = _get(selectors.schedule_get, actor=request.actor, schedule_id=schedule_id)
    schedules.schedule_delete(actor=request.actor, schedule=schedule)
    messages.success(request, _("The export was deleted."))
    return redirect("outbound:exports")
