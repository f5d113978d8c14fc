"""Background work for orders: thin and idempotent."""

from django_tasks import task


@task()
def stats_check_sample(size: int = 1000) -> int:
    """Check `size` random customers' totals against their orders, refunds and returns; each that differs is logged
    as a warning ("stats.drift", with the fields and both values). Returns how many differed. Changes nothing: put
    them right with `manage.py stats_rebuild --customer ID` (or all with `stats_rebuild`). The scheduler
    (`manage.py run_scheduler`) runs it each night (OrdersConfig.ready); from cron instead:
    `manage.py stats_rebuild --check --sample 1000` (exit status 1 on drift)."""
    from kervan.orders.stats_rebuild import stats_check_sample as check

    return len(check(size))


@task()
def daily_sales_refresh() -> int:
    """Re-sum the recent closed days of the daily sales rollup (kervan.orders.daily_sales) from the orders; idempotent.
    Scheduled every hour (OrdersConfig.ready). Returns how many days were stored."""
    from kervan.orders.daily_sales import daily_sales_refresh as refresh

    return refresh()
