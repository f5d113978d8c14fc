"""Background work for messaging: thin and idempotent."""

from django_tasks import task

from kervan.core.claim import worker_name

BATCH = 200


@task()
def messages_send_task() -> int:
    """Woken when messages are queued (and every few seconds as a safety net): send what is due until nothing is."""
    from kervan.messaging.sending import deliver_due

    worker = worker_name()
    total = 0
    while True:
        outcome = deliver_due(worker=worker, limit=BATCH)
        done = sum(outcome.values())
        total += done
        if done < BATCH:
            return total
