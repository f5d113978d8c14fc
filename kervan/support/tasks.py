"""Background work for tickets: thin and idempotent."""

from django_tasks import task


@task()
def tickets_sla_check_task() -> dict:
    """Auto-close tickets long pending the customer, record SLA breaches and tickets at risk."""
    from kervan.support.sla_check import tickets_sla_check

    return tickets_sla_check()


@task()
def ticket_replies_send_task() -> int:
    """Woken when a reply is queued (and every few seconds as a safety net): email due replies until none is left."""
    from kervan.support.email_out import replies_send_due

    total = 0
    while True:
        done = sum(replies_send_due(limit=50).values())
        total += done
        if done < 50:
            return total


@task()
def csat_send_task() -> int:
    """Email the CSAT surveys that are due."""
    from kervan.support.csat import csat_send_due

    total = 0
    while True:
        done = sum(csat_send_due(limit=50).values())
        total += done
        if done < 50:
            return total


@task()
def chats_unanswered_task() -> int:
    """Waiting chats nobody joined in time become tickets."""
    from kervan.support.chat_actions import chats_unanswered_to_tickets

    return chats_unanswered_to_tickets()
