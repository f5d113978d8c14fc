"""Background work for campaigns: thin and idempotent."""

from django_tasks import task


@task()
def campaign_start_task(campaign_id: int) -> int:
    from kervan.campaigns.actions import campaign_start

    return campaign_start(campaign_id=campaign_id)


@task()
def campaigns_advance_task() -> int:
    """Every few seconds: campaigns whose time has come start, A/B tests pick their winner, finished ones end."""
    from kervan.campaigns.actions import campaigns_advance

    return campaigns_advance()
