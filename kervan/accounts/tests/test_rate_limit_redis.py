"""The per-key rate limit counts in the shared cache, so several web processes enforce one limit together.

Uses the real Redis on 127.0.0.1:6379 through the backend production uses (the `redis_cache` fixture)."""

import time

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_requests_counted_by_another_process_count_here_too(make_api_key, redis_cache, settings):
    import redis

    settings.KERVAN_API_RATE_LIMIT = 5
    key, secret = make_api_key({"customers": "read"})
    other_process = redis.Redis.from_url(redis_cache)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/customers/").status_code == 200
    # Another web process (a raw Redis client here) has used the rest of this minute's allowance.
    window = int(time.time() // 60)
    for w in (window, window + 1):
        other_process.set(f":1:ratelimit:{key.pk}:{w}", 5, ex=61)
    response = client.get("/api/v1/customers/")
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) <= 60
