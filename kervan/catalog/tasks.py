"""Background work for the catalogue: thin and idempotent."""

from django_tasks import task


@task()
def product_sales_refresh() -> int:
    """Count the last weeks' product sales again and fill missing history (kervan.catalog.sales.refresh); run each
    night by the scheduler (CatalogConfig.ready). Returns how many days were counted."""
    from kervan.catalog import sales

    return sales.refresh()
