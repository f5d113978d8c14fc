"""Connecting platforms, and what an Admin does with a connection: change or rotate its credentials, pause it,
replay a delivery, start, cancel or resume a backfill. Every change is audited; secrets never reach the audit log."""

from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.errors import Conflict, KervanError, check_choice
from kervan.core.models import Source
from kervan.integrations.models import Backfill, Connection, Delivery, Platform
from kervan.integrations.platforms import MODULES, platform_for
from kervan.integrations.platforms.base import CheckFailed

# The Source kind of each platform's connections (payment platforms are sources of payments, not of orders).
SOURCE_KINDS = {
    Platform.SHOPIFY: Source.Kind.SHOPIFY,
    Platform.WOOCOMMERCE: Source.Kind.WOOCOMMERCE,
    Platform.MAGENTO: Source.Kind.MAGENTO,
    Platform.OPENCART: Source.Kind.OPENCART,
    Platform.IYZICO: Source.Kind.PAYMENTS,
    Platform.STRIPE: Source.Kind.PAYMENTS,
}


def _clean(platform_key: str, name: str, base_url: str, credentials: dict, stored: dict | None = None) -> dict:
    platform = platform_for(platform_key)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise KervanError(_("A connection needs a name of 1–120 characters."), "invalid_name", field="name")
    base_url = (base_url or "").strip().rstrip("/")
    if platform.needs_base_url and not base_url.startswith(("http://", "https://")):
        raise KervanError(
            _("The store's address must start with https:// (or http://)."), "invalid_base_url", field="base_url"
        )
    cleaned = {}
    for spec in platform.credential_fields:
        value = str(credentials.get(spec.name) or "").strip()
        if not value and stored and spec.secret:
            value = stored.get(spec.name, "")  # a secret left blank on the edit form keeps the stored one
        if spec.required and not value:
            raise KervanError(
                _("%(field)s is required.") % {"field": spec.label}, "missing_credential", field=spec.name
            )
        cleaned[spec.name] = value
    return {"name": name, "base_url": base_url, "credentials": cleaned}


def _check(connection: Connection) -> str:
    try:
        return connection.platform_impl.check(connection)
    except CheckFailed as failed:
        raise KervanError(str(failed), "connection_check_failed")


@transaction.atomic
def connection_create(*, actor: Actor, platform: str, name: str, base_url: str = "", credentials: dict) -> Connection:
    """A new connection, its credentials checked against the platform first: nothing is saved if they fail."""
    actor.require("integrations", "write")
    if platform not in MODULES:
        raise KervanError(
            _("Unknown platform. Kervan connects to: %(platforms)s.") % {"platforms": ", ".join(MODULES)},
            "invalid_platform",
            field="platform",
        )
    cleaned = _clean(platform, name, base_url, credentials)
    connection = Connection(
        platform=platform, name=cleaned["name"], base_url=cleaned["base_url"], created_by=actor.user
    )
    connection.credentials = cleaned["credentials"]
    shop_name = _check(connection)
    key = _free_source_key(f"{platform}-{slugify(cleaned['name'])}"[:50])
    connection.source = Source.objects.create(
        key=key, name=cleaned["name"][:120], kind=SOURCE_KINDS[platform], currency="TRY"
    )
    connection.checked_at = clock.now()
    connection.save()
    audit(
        actor=actor,
        action="create",
        obj=connection,
        changes={"platform": [None, platform], "name": [None, connection.name], "shop": [None, shop_name]},
    )
    return connection


def _free_source_key(base: str) -> str:
    key, n = base, 1
    while Source.objects.filter(key=key).exists():
        n += 1
        key = f"{base}-{n}"
    return key


@transaction.atomic
def connection_update(
    *, actor: Actor, connection: Connection, name: str, base_url: str = "", credentials: dict
) -> Connection:
    """Change the name, address or credentials (blank secrets keep the stored ones); checked before saving."""
    actor.require("integrations", "write")
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    stored = connection.credentials
    cleaned = _clean(connection.platform, name, base_url, credentials, stored)
    changed = [k for k in cleaned["credentials"] if cleaned["credentials"][k] != stored.get(k)]
    old = {"name": connection.name, "base_url": connection.base_url}
    connection.name, connection.base_url = cleaned["name"], cleaned["base_url"]
    connection.credentials = cleaned["credentials"]
    _check(connection)
    connection.checked_at = clock.now()
    connection.save()
    changes = {k: [old[k], getattr(connection, k)] for k in old if old[k] != getattr(connection, k)}
    changes.update({f"credentials.{k}": ["•", "•"] for k in changed})  # which secret changed, never its value
    audit(actor=actor, action="update", obj=connection, changes=changes)
    return connection


def connection_set_status(*, actor: Actor, connection: Connection, status: str) -> Connection:
    """Pause (deliveries are still received and stored, not processed) or resume a connection."""
    actor.require("integrations", "write")
    check_choice(status, Connection.Status, field="status")
    old = connection.status
    if old != status:
        Connection.objects.filter(pk=connection.pk).update(status=status)
        connection.status = status
        audit(actor=actor, action="update", obj=connection, changes={"status": [old, status]})
    return connection


def connection_rotate_token(*, actor: Actor, connection: Connection) -> Connection:
    """A new webhook address: deliveries to the old one are refused from now on (the platform must be told)."""
    actor.require("integrations", "write")
    from kervan.integrations.models import _new_token

    connection.token = _new_token()
    connection.save(update_fields=["token", "updated_at"])
    audit(actor=actor, action="update", obj=connection, changes={"webhook_address": ["•", "•"]})
    return connection


def delivery_replay(*, actor: Actor, delivery: Delivery) -> Delivery:
    """Process a stored delivery again (a dead one after a fix, or any one an Admin wants re-read). Processing is
    idempotent: what it already wrote is not written twice."""
    actor.require("integrations", "write")
    with transaction.atomic():
        row = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if row.leased_until and row.leased_until > clock.now():
            raise Conflict(_("This delivery is being processed right now."), "delivery_busy")
        old = row.status
        Delivery.objects.filter(pk=row.pk).update(
            status=Delivery.Status.PENDING, due_at=clock.now(), attempts=0, error="", processed_at=None
        )
        audit(actor=actor, action="update", obj=row, changes={"status": [old, Delivery.Status.PENDING]})
    delivery.refresh_from_db()
    return delivery


def backfill_start(*, actor: Actor, connection: Connection, kinds: list[str] | None = None) -> Backfill:
    actor.require("integrations", "write")
    platform = connection.platform_impl
    if not platform.backfill_kinds:  # iyzico: no API lists past payments; they arrive only as webhooks
        raise KervanError(
            _("%(platform)s has no API to read past records from: only what it sends from now on reaches Kervan.")
            % {"platform": connection.get_platform_display()},
            "backfill_unsupported",
        )
    kinds = list(kinds or platform.backfill_kinds)
    unknown = [k for k in kinds if k not in platform.backfill_kinds]
    if not kinds or unknown:
        raise KervanError(
            _("%(platform)s can backfill: %(kinds)s.")
            % {"platform": connection.get_platform_display(), "kinds": ", ".join(platform.backfill_kinds) or "—"},
            "invalid_kinds",
            field="kinds",
        )
    with transaction.atomic():
        Connection.objects.select_for_update().get(pk=connection.pk)  # one start at a time per connection
        running = connection.backfills.filter(status__in=(Backfill.Status.QUEUED, Backfill.Status.RUNNING))
        if running.exists():
            raise Conflict(_("A backfill of this connection is already running."), "backfill_running")
        backfill = Backfill.objects.create(
            connection=connection, kinds=kinds, kind=kinds[0], due_at=clock.now(), created_by=actor.user
        )
        audit(actor=actor, action="create", obj=backfill, changes={"kinds": [None, ", ".join(kinds)]})
    return backfill


def backfill_cancel(*, actor: Actor, backfill: Backfill) -> Backfill:
    actor.require("integrations", "write")
    updated = Backfill.objects.filter(
        pk=backfill.pk, status__in=(Backfill.Status.QUEUED, Backfill.Status.RUNNING)
    ).update(status=Backfill.Status.CANCELLED, due_at=None, finished_at=clock.now())
    if updated:
        audit(actor=actor, action="update", obj=backfill, changes={"status": [backfill.status, "cancelled"]})
    backfill.refresh_from_db()
    return backfill


def backfill_resume(*, actor: Actor, backfill: Backfill) -> Backfill:
    """Go on from the saved cursor of a failed or cancelled backfill."""
    actor.require("integrations", "write")
    if backfill.status not in (Backfill.Status.FAILED, Backfill.Status.CANCELLED):
        raise Conflict(_("Only a failed or cancelled backfill can be resumed."), "backfill_not_stopped")
    Backfill.objects.filter(pk=backfill.pk).update(
        status=Backfill.Status.RUNNING, due_at=clock.now(), retries=0, finished_at=None
    )
    audit(actor=actor, action="update", obj=backfill, changes={"status": [backfill.status, "running"]})
    backfill.refresh_from_db()
    return backfill
