"""Background work for messaging: thin and idempotent."""

import os
import socket

from django_tasks import task

BATCH = 200


@task()
def messages_send_task() -> int:
    """Woken when messages are queued (and every few seconds as a safety net): send what is due until nothing is."""
    from kervan.messaging.sending import deliver_due

    worker = f"{socket.gethostname()}:{os.getpid()}"[:100]
    total = 0
    while True:
        outcome = deliver_due(worker=worker, limit=BATCH)
        done = sum(outcome.values())
        total += done
        if done < BATCH:
            return total
