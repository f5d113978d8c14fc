"""Settings → Integrations: the connections, connecting a platform (credentials checked on save, secrets never
shown again), and each connection's sync health: last delivery, backlog, error rate, the dead-letter list with
inspect and replay, backfills with their progress and end report."""

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.integrations import actions, selectors
from kervan.integrations.models import Backfill, Connection, Delivery, kind_label
from kervan.integrations.platforms import available, platform_for


def _connection(request, pk: int) -> Connection:
    return selectors.connection_get(actor=request.actor, connection_id=pk)


def _webhook_url(request, connection: Connection) -> str:
    return request.build_absolute_uri(reverse("integrations:webhook", args=[connection.token]))


@require_access("integrations", "read")
def connection_list(request):
    rows = [(c, selectors.connection_health(c)) for c in selectors.connection_list(actor=request.actor)]
    return render(request, "integrations/list.html", {"rows": rows, "platforms": available()})


def _credentials_from(request, platform) -> dict:
    return {spec.name: request.POST.get(f"credential_{spec.name}", "") for spec in platform.credential_fields}


@require_access("integrations", "write")
def connection_create_view(request, platform: str):
    if platform not in available():
        return redirect("integrations:list")
    impl = platform_for(platform)
    error = None
    if request.method == "POST":
        try:
            connection = actions.connection_create(
                actor=request.actor,
                platform=platform,
                name=request.POST.get("name", ""),
                base_url=request.POST.get("base_url", ""),
                credentials=_credentials_from(request, impl),
            )
        except KervanError as refused:
            error = refused
        else:
            messages.success(request, _("Connected. Give the platform the webhook address below."))
            return redirect("integrations:detail", pk=connection.pk)
    context = {"platform_key": platform, "platform": impl, "label": impl.label, "error": error,
               "values": request.POST if request.method == "POST" else {}}  # fmt: skip
    return render(request, "integrations/form.html", context)


@require_access("integrations", "write")
def connection_edit(request, pk: int):
    connection = _connection(request, pk)
    impl = connection.platform_impl
    error = None
    if request.method == "POST":
        try:
            actions.connection_update(
                actor=request.actor,
                connection=connection,
                name=request.POST.get("name", ""),
                base_url=request.POST.get("base_url", ""),
                credentials=_credentials_from(request, impl),
            )
        except KervanError as refused:
            error = refused
        else:
            messages.success(request, _("Saved; the new credentials work."))
            return redirect("integrations:detail", pk=connection.pk)
    stored = connection.credentials
    values = request.POST if request.method == "POST" else {
        "name": connection.name,
        "base_url": connection.base_url,
        **{f"credential_{s.name}": stored.get(s.name, "") for s in impl.credential_fields if not s.secret},
    }  # fmt: skip
    context = {"connection": connection, "platform_key": connection.platform, "platform": impl,
               "label": connection.get_platform_display(), "error": error, "values": values,
               "masked": dict(selectors.masked_credentials(connection))}  # fmt: skip
    return render(request, "integrations/form.html", context)


@require_access("integrations", "read")
def connection_detail(request, pk: int):
    connection = _connection(request, pk)
    shown = request.GET.get("show", "")
    if shown not in Delivery.Status.values:
        shown = ""
    context = {
        "connection": connection,
        "health": selectors.connection_health(connection),
        "credentials": selectors.masked_credentials(connection),
        "webhook_url": _webhook_url(request, connection),
        "dead": selectors.deliveries(connection, status=Delivery.Status.DEAD, limit=100),
        "recent": selectors.deliveries(connection, status=shown, limit=50),
        "shown": shown,
        "statuses": Delivery.Status.choices,
        "backfills": connection.backfills.all()[:10],
        "backfill_kinds": [(kind, kind_label(kind)) for kind in connection.platform_impl.backfill_kinds],
    }
    return render(request, "integrations/detail.html", context)


@require_POST
@require_access("integrations", "write")
def connection_status(request, pk: int):
    connection = _connection(request, pk)
    try:
        if request.POST.get("rotate_token"):
            actions.connection_rotate_token(actor=request.actor, connection=connection)
            messages.success(request, _("New webhook address made: give it to the platform."))
        else:
            actions.connection_set_status(
                actor=request.actor, connection=connection, status=request.POST.get("status", "")
            )
    except KervanError as refused:
        messages.error(request, refused.detail)
    return redirect("integrations:detail", pk=connection.pk)


@require_POST
@require_access("integrations", "write")
def backfill_start_view(request, pk: int):
    connection = _connection(request, pk)
    try:
        backfill = actions.backfill_start(
            actor=request.actor, connection=connection, kinds=request.POST.getlist("kinds") or None
        )
    except KervanError as refused:
        messages.error(request, refused.detail)
        return redirect("integrations:detail", pk=connection.pk)
    return redirect("integrations:backfill", pk=connection.pk, backfill_pk=backfill.pk)


@require_access("integrations", "read")
def backfill_detail(request, pk: int, backfill_pk: int):
    connection = _connection(request, pk)
    backfill = selectors.backfill_get(actor=request.actor, connection=connection, backfill_id=backfill_pk)
    running = backfill.status in (Backfill.Status.QUEUED, Backfill.Status.RUNNING)
    rows = [(kind_label(kind), backfill.counts.get(kind, {}), backfill.totals.get(kind)) for kind in backfill.kinds]
    context = {"connection": connection, "backfill": backfill, "running": running, "rows": rows,
               "kind": kind_label(backfill.kind)}  # fmt: skip
    return render(request, "integrations/backfill.html", context)


@require_POST
@require_access("integrations", "write")
def backfill_action(request, pk: int, backfill_pk: int, action: str):
    connection = _connection(request, pk)
    backfill = selectors.backfill_get(actor=request.actor, connection=connection, backfill_id=backfill_pk)
    handlers = {"cancel": actions.backfill_cancel, "resume": actions.backfill_resume}
    if action in handlers:
        try:
            handlers[action](actor=request.actor, backfill=backfill)
        except KervanError as refused:
            messages.error(request, refused.detail)
    return redirect("integrations:backfill", pk=connection.pk, backfill_pk=backfill.pk)


@require_access("integrations", "read")
def delivery_detail(request, pk: int, delivery_pk: int):
    connection = _connection(request, pk)
    delivery = selectors.delivery_get(actor=request.actor, connection=connection, delivery_id=delivery_pk)
    try:
        body = json.dumps(json.loads(delivery.body), indent=2, ensure_ascii=False)
    except ValueError:
        body = delivery.body
    context = {"connection": connection, "delivery": delivery, "body": body[:200_000],
               "result": json.dumps(delivery.result, indent=2, ensure_ascii=False, default=str)}  # fmt: skip
    return render(request, "integrations/delivery.html", context)


@require_POST
@require_access("integrations", "write")
def delivery_replay_view(request, pk: int, delivery_pk: int):
    connection = _connection(request, pk)
    delivery = selectors.delivery_get(actor=request.actor, connection=connection, delivery_id=delivery_pk)
    try:
        actions.delivery_replay(actor=request.actor, delivery=delivery)
    except KervanError as refused:
        messages.error(request, refused.detail)
    else:
        messages.success(request, _("The delivery will be processed again in a few seconds."))
    return redirect("integrations:delivery", pk=connection.pk, delivery_pk=delivery.pk)
