"""Background work for outbound: thin and idempotent."""

from django_tasks import task

from kervan.core.claim import worker_name

BATCH = 50


@task()
def outbound_send_task() -> int:
    """Every few seconds: send the due webhook deliveries until none is due."""
    from kervan.outbound.sending import deliver_due

    total = 0
    while True:
        done = sum(deliver_due(worker=worker_name(), limit=BATCH).values())
        total += done
        if done < BATCH:
            return total


@task()
def exports_run_task() -> int:
    """Every minute: mail the scheduled exports that are due."""
    from kervan.outbound.schedules import run_due

    return run_due(worker=worker_name())
