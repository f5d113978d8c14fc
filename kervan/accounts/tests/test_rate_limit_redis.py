"""The per-key rate limit counts in the shared cache, so several web processes enforce one limit together.

Uses the real Redis on 127.0.0.1:6379 (as in production with KERVAN_CACHE_BACKEND=…RedisCache)."""

import socket
import time

import pytest
from django.core.cache import caches
from django.test import Client, override_settings

REDIS_URL = "redis://127.0.0.1:6379/15"
REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "kervan-test",
    }
}


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not redis_up(), reason="Redis is not running on 127.0.0.1:6379")
@pytest.mark.django_db
def test_requests_counted_by_another_process_count_here_too(make_api_key):
    import redis

    key, secret = make_api_key({"customers": "read"})
    other_process = redis.Redis.from_url(REDIS_URL)
    with override_settings(CACHES=REDIS, KERVAN_API_RATE_LIMIT=5):
        caches["default"].clear()
        client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert client.get("/api/v1/customers/").status_code == 200
        # Another web process (a raw Redis client here) has used the rest of this minute's allowance.
        window = int(time.time() // 60)
        for w in (window, window + 1):
            other_process.set(f"kervan-test:1:ratelimit:{key.pk}:{w}", 5, ex=61)
        response = client.get("/api/v1/customers/")
        assert response.status_code == 429 and response.json()["code"] == "rate_limited"
        assert int(response["Retry-After"]) <= 60
        caches["default"].clear()
