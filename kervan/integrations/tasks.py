"""Background work for integrations: thin and idempotent."""

from django_tasks import task

TICK_SECONDS = 4.0  # what one tick may spend on backfill pages (the next tick comes 5 s later)


@task()
def integrations_tick_task() -> dict:
    from kervan.integrations.backfill import backfills_run
    from kervan.integrations.worker import deliveries_process

    processed = 0
    while taken := deliveries_process():
        processed += taken
        if processed >= 2_000:
            break
    return {"deliveries": processed, "backfill_pages": backfills_run(budget=TICK_SECONDS)}


@task()
def integrations_poll_task() -> dict:
    from kervan.integrations.backfill import connections_poll

    return {"records": connections_poll()}


@task()
def deliveries_prune_task() -> dict:
    """Stored deliveries are kept for inspection and replay, not for ever: processed and ignored ones for
    KERVAN_WEBHOOK_RETENTION_DAYS, dead ones (waiting for an Admin) three times as long."""
    import datetime as dt

    from django.conf import settings

    from kervan.core import clock
    from kervan.integrations.models import Delivery

    keep = dt.timedelta(days=settings.KERVAN_WEBHOOK_RETENTION_DAYS)
    now = clock.now()
    done, _ = Delivery.objects.filter(
        status__in=(Delivery.Status.DONE, Delivery.Status.IGNORED), received_at__lt=now - keep
    ).delete()
    dead, _ = Delivery.objects.filter(status=Delivery.Status.DEAD, received_at__lt=now - 3 * keep).delete()
    return {"deleted": done + dead}
