"""Background work for tickets: thin and idempotent."""

from django_tasks import task


@task()
def tickets_sla_check_task() -> dict:
    """Auto-close tickets long pending the customer, record SLA breaches and tickets at risk."""
    from kervan.support.sla_check import tickets_sla_check

    return tickets_sla_check()
