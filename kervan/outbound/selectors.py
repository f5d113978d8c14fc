"""Reads of endpoints, deliveries and export schedules, scoped to the actor (the "outbound" area: Admin only)."""

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError, NotFound, check_choice
from kervan.outbound.models import ExportSchedule, WebhookDelivery, WebhookEndpoint

AREA = "outbound"
LOG_LIMIT = 200


def endpoint_list(*, actor: Actor) -> QuerySet[WebhookEndpoint]:
    statuses = WebhookDelivery.Status
    return actor.scope(AREA, WebhookEndpoint.objects.all()).annotate(
        pending=Count("deliveries", filter=Q(deliveries__status=statuses.PENDING)),
        failing=Count("deliveries", filter=Q(deliveries__status__in=[statuses.FAILED, statuses.DEAD])),
    )


def endpoint_get(*, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    endpoint = actor.scope(AREA, WebhookEndpoint.objects.all()).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(_("Webhook endpoint %(id)s does not exist.") % {"id": endpoint_id}, "endpoint_not_found")
    return endpoint


def delivery_list(
    *, actor: Actor, endpoint: WebhookEndpoint | None = None, status: str = "", before_id: int | None = None,
    limit: int = LOG_LIMIT,
) -> list[WebhookDelivery]:  # fmt: skip
    """The newest deliveries first (of one endpoint, in one status); `before_id` pages back."""
    rows = actor.scope(AREA, WebhookDelivery.objects.all())
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    if status:
        rows = rows.filter(status=check_choice(status, WebhookDelivery.Status, field="status"))
    if before_id is not None:
        rows = rows.filter(pk__lt=before_id)
    if not 1 <= limit <= 500:
        raise KervanError(_("limit must be from 1 to 500."), "invalid_limit", field="limit")
    return list(rows.order_by("-pk")[:limit])


def delivery_get(*, actor: Actor, delivery_id: int) -> WebhookDelivery:
    delivery = actor.scope(AREA, WebhookDelivery.objects.select_related("endpoint")).filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(_("Delivery %(id)s does not exist.") % {"id": delivery_id}, "delivery_not_found")
    return delivery


def schedule_list(*, actor: Actor) -> QuerySet[ExportSchedule]:
    return actor.scope(AREA, ExportSchedule.objects.all())


def schedule_get(*, actor: Actor, schedule_id: int) -> ExportSchedule:
    schedule = actor.scope(AREA, ExportSchedule.objects.all()).filter(pk=schedule_id).first()
    if schedule is None:
        raise NotFound(_("Export %(id)s does not exist.") % {"id": schedule_id}, "export_not_found")
    return schedule
