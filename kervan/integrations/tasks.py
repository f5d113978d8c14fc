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
