"""Every index the models declare exists in the migrated database.

On SQLite Django alters a table by rebuilding it and re-creates only the indexes it knows: an index made by raw SQL
in a migration silently disappeared that way once (the order list's, with orders/0009), and the lists read whole
tables. Declared indexes survive; this checks they are all there, on SQLite and PostgreSQL alike."""

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db


def test_every_declared_index_is_in_the_database():
    missing = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            if not model._meta.managed or not model._meta.indexes:
                continue
            present = connection.introspection.get_constraints(cursor, model._meta.db_table)
            missing += [
                f"{model._meta.db_table}.{index.name}" for index in model._meta.indexes if index.name not in present
            ]
    assert missing == []


def test_the_order_lists_indexes_are_declared():
    from kervan.orders.models import Order, Shipment

    names = {index.name for model in (Order, Shipment) for index in model._meta.indexes}
    assert {"order_status_time_idx", "order_total_idx", "order_number_idx", "shipment_tracking_idx"} <= names


def test_sqlite_statistics_are_refreshed_nightly():
    from kervan.core.schedule import _schedules
    from kervan.core.tasks import sqlite_statistics_refresh

    assert _schedules["sqlite_statistics_refresh"].at is not None
    result = sqlite_statistics_refresh.call()
    if connection.vendor == "sqlite":
        assert result == "analyzed"
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            assert cursor.fetchone()[0] == 1
    else:
        assert result == "not needed"
