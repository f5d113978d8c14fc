"""Every order gets a source (issue 20, defect 1): replays of an order stored without one were stored again, since the
unique constraint on (source, external_id) never matches a NULL.

Orders stored without a source came from the API (the only channel that left it empty), so they get the API's own,
kervan.core.sources.api_source: a client that replays one of them is then recognised. Copies of one external id that
the old race stored stay (they are orders, counted in the customers' totals, for staff to cancel), but only the first
keeps the external id, since the constraint allows one: the others' ids are logged. 0003 then makes the column NOT
NULL; a separate migration, as PostgreSQL refuses to alter a table with pending foreign-key checks in one transaction.
"""

import logging

from django.db import migrations
from django.db.models import Count

logger = logging.getLogger(__name__)


def orders_get_the_api_source(apps, schema_editor):
    Source = apps.get_model("core", "Source")
    Order = apps.get_model("orders", "Order")
    orphans = Order.objects.filter(source__isnull=True)
    if not orphans.exists():
        return
    source, _created = Source.objects.get_or_create(key="api", defaults={"name": "API", "kind": "api"})
    with_id = orphans.exclude(external_id="")
    repeated = set(
        with_id.values("external_id").annotate(n=Count("id")).filter(n__gt=1).values_list("external_id", flat=True)
    )
    taken = set(
        with_id.filter(
            external_id__in=Order.objects.filter(source=source).exclude(external_id="").values("external_id")
        ).values_list("external_id", flat=True)
    )
    for external_id in sorted(repeated | taken):
        copies = list(with_id.filter(external_id=external_id).order_by("id").values_list("id", flat=True))
        cleared = copies if external_id in taken else copies[1:]
        Order.objects.filter(id__in=cleared).update(external_id="")
        logger.warning(
            "orders.source_backfill.copies",
            extra={"external_id": external_id, "kept": None if external_id in taken else copies[0], "cleared": cleared},
        )
    orphans.update(source=source)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial"), ("orders", "0001_initial")]

    operations = [migrations.RunPython(orders_get_the_api_source, migrations.RunPython.noop)]
