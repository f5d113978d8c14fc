"""Every write to webhook endpoints and deliveries: checked, written and audited in one transaction. Admin only
(the "outbound" permission area has no other role)."""

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.claim import claim_due
from kervan.core.errors import Conflict, KervanError
from kervan.core.outgoing import outbound_events
from kervan.outbound.models import WebhookDelivery, WebhookEndpoint
from kervan.outbound.outbox import envelope
from kervan.outbound.sending import send

AREA = "outbound"
TEST_EVENT = "kervan.test"
MAX_URL = 500
MAX_DESCRIPTION = 200
_url_check = URLValidator(schemes=["http", "https"])


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _clean_url(url: object) -> str:
    value = str(url or "").strip()
    if not value:
        raise KervanError(_("Give the address that receives the webhooks."), "invalid_url", field="url")
    try:
        if len(value) > MAX_URL:
            raise ValidationError("too long")
        _url_check(value)
    except ValidationError:
        raise KervanError(
            _("'%(url)s' is not an http(s) address (at most 500 characters).") % {"url": value[:100]},
            "invalid_url",
            field="url",
        ) from None
    return value


def _clean_events(events: object) -> list[str]:
    known = [e.name for e in outbound_events()]
    if not isinstance(events, list | tuple) or not events:
        raise KervanError(_("Choose at least one event."), "invalid_events", field="events")
    unknown = [str(e) for e in events if e not in known]
    if unknown:
        raise KervanError(
            _("Unknown events: %(events)s. Known: %(known)s.")
            % {"events": ", ".join(unknown)[:200], "known": ", ".join(known)},
            "invalid_events",
            field="events",
        )
    return [name for name in known if name in events]  # registry order, each once


def _clean_description(description: object) -> str:
    value = str(description or "").strip()
    if len(value) > MAX_DESCRIPTION:
        raise KervanError(
            _("The description is too long (at most 200 characters)."), "invalid_description", field="description"
        )
    return value


@transaction.atomic
def endpoint_create(
    *, actor: Actor, url: str, events: list[str], description: str = "", active: bool = True
) -> WebhookEndpoint:
    """A new endpoint with a fresh secret (endpoint.secret: show it to the user now, it is not shown again)."""
    actor.require(AREA, "write")
    endpoint = WebhookEndpoint.objects.create(
        url=_clean_url(url),
        events=_clean_events(events),
        description=_clean_description(description),
        active=bool(active),
        secret=new_secret(),
        created_by=actor.user if getattr(actor.user, "pk", None) else None,
    )
    audit(actor=actor, action="create", obj=endpoint,
          changes={"url": [None, endpoint.url], "events": [None, endpoint.events]})  # fmt: skip
    return endpoint


@transaction.atomic
def endpoint_update(
    *,
    actor: Actor,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    actor.require(AREA, "write")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    wanted = {}
    if url is not None:
        wanted["url"] = _clean_url(url)
    if events is not None:
        wanted["events"] = _clean_events(events)
    if description is not None:
        wanted["description"] = _clean_description(description)
    if active is not None:
        wanted["active"] = bool(active)
    changes = {
        name: [getattr(endpoint, name), value] for name, value in wanted.items() if getattr(endpoint, name) != value
    }
    if not changes:
        return endpoint
    for name, (_old, value) in changes.items():
        setattr(endpoint, name, value)
    endpoint.save()
    if changes.get("active") == [False, True]:
        # What waited while it was off (the worker set it aside, not due) is due again.
        endpoint.deliveries.filter(status=WebhookDelivery.Status.PENDING, due_at__isnull=True).update(
            due_at=clock.now()
        )
    audit(actor=actor, action="update", obj=endpoint, changes=changes)
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, actor: Actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret, at once: deliveries from now on are signed with it (show it to the user now)."""
    actor.require(AREA, "write")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret_encrypted", "updated_at"])
    audit(actor=actor, action="update", obj=endpoint, changes={"secret": ["rotated"]})
    return endpoint


@transaction.atomic
def endpoint_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """The endpoint and its delivery log."""
    actor.require(AREA, "write")
    audit(actor=actor, action="delete", obj=endpoint, changes={"url": [endpoint.url, None]})
    endpoint.delete()


@transaction.atomic
def delivery_replay(*, actor: Actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again, whatever became of it: the same body and event id, due now, tries counted afresh."""
    actor.require(AREA, "write")
    now = clock.now()
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    updated = WebhookDelivery.objects.filter(free, pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING,
        due_at=now,
        attempts=0,
        replays=delivery.replays + 1,
        leased_by="",
        leased_until=None,
        lease_token=None,
    )
    if not updated:  # a worker holds it (sending it now): its outcome is written in a moment
        raise Conflict(_("This delivery is being sent right now; try again in a minute."), "delivery_busy")
    delivery.refresh_from_db()
    audit(actor=actor, action="update", obj=delivery,
          changes={"replayed": [None, delivery.event_id], "endpoint": delivery.endpoint_id})  # fmt: skip
    return delivery


def endpoint_send_test(*, actor: Actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A test event to the endpoint, sent now (outside any transaction: the call is made while nothing is locked);
    it appears in the delivery log like any other, and is retried like any other if the endpoint is down."""
    actor.require(AREA, "write")
    now = clock.now()
    event_id = f"test:{uuid.uuid4()}"
    data = {"message": "This is a test event from Kervan.", "endpoint_id": endpoint.pk}
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event=TEST_EVENT, event_id=event_id, payload=envelope(TEST_EVENT, event_id, data, now),
            due_at=now,
        )  # fmt: skip
        audit(actor=actor, action="create", obj=delivery, changes={"test": [None, endpoint.url]})
    claimed = claim_due(WebhookDelivery.objects.filter(pk=delivery.pk), worker=f"test:{actor.user_id or 0}")
    if claimed:
        send(claimed[0], endpoint)
    delivery.refresh_from_db()
    return delivery
