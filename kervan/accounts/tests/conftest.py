import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters, wrong-code counters and used codes live in the cache: start every test clean."""
    cache.clear()
    yield
    cache.clear()
