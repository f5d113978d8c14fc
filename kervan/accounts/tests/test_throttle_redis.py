"""The throttle's counters work on the cache production uses across processes (Redis), not only in memory: the
tracker's limits and the sign-in lock are shared by every web process."""

import pytest
from django.test import Client

from kervan.accounts import throttle
from kervan.accounts.permissions import Role
from kervan.accounts.testing import make_role_user

pytestmark = pytest.mark.django_db


def test_counts_add_up_give_back_and_refuse_past_the_limit(redis_cache):
    limit = throttle.Limit(3, 60)
    assert throttle.hit("redis-test", limit, cost=2)[0] == 2
    throttle.give_back("redis-test", limit)
    assert throttle.used("redis-test", limit) == 1
    throttle.check("redis-test", limit, cost=2, detail="too many", code="x")
    with pytest.raises(throttle.RateLimited) as refused:
        throttle.check("redis-test", limit, detail="too many", code="x")
    assert refused.value.status == 429 and 1 <= refused.value.retry_after <= 60


def test_a_sign_in_locked_in_one_process_is_locked_in_another(redis_cache):
    make_role_user(Role.SUPPORT, username="ayse", password="Kervan-2026-strong")
    for _ in range(5):
        Client().post("/accounts/login/", {"username": "ayse", "password": "wrong"})
    # A fresh client (another browser, another web process reading the same Redis) is refused too.
    response = Client().post("/accounts/login/", {"username": "ayse", "password": "Kervan-2026-strong"})
    assert response.status_code == 429
