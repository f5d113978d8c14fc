"""The Customer 360 cache on the real Redis: a change announced by another process reaches this one at once.

That other process is real: `manage.py shell` in a subprocess, like the task worker finishing an import."""

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from kervan.customers.models import Customer
from kervan.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def _announce_from_another_process(redis_url: str, customer_id: int) -> None:
    env = {
        **os.environ,
        "KERVAN_CACHE_BACKEND": "kervan.core.redis_cache.RedisCache",
        "KERVAN_CACHE_LOCATION": redis_url,
    }
    code = f"from kervan.customers.cache import customers_changed; customers_changed([{customer_id}])"
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=django_settings.BASE_DIR, env=env, check=True
    )


def test_a_change_announced_by_another_process_reaches_the_cached_360(api, redis_cache):
    customer = make_customer(city="İzmir")
    assert api.get(f"/customers/{customer.pk}").json()["city"] == "İzmir"
    # Written behind the cache's back: the 360 still comes from Redis…
    Customer.objects.filter(pk=customer.pk).update(city="Trabzon")
    assert api.get(f"/customers/{customer.pk}").json()["city"] == "İzmir"
    # …until a process announces the change.
    _announce_from_another_process(redis_cache, customer.pk)
    assert api.get(f"/customers/{customer.pk}").json()["city"] == "Trabzon"
