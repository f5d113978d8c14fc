"""Background work of the shell: thin and idempotent."""

from django_tasks import task


@task()
def today_counts_refresh() -> int:
    """Recount the Today cards' figures that can be slow in a large shop (kervan.workspace.today); scheduled every
    ten minutes by the first register_today_count."""
    from kervan.workspace.today import today_counts_refresh as refresh

    return refresh()
