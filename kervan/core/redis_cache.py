"""Django's Redis cache backend, keeping one Redis client object per connection pool.

Django builds a new `redis.Redis` object for every cache call; on the hottest pages (the Customer 360, the API
key's rate limit) that construction cost more than the Redis round trip itself. A `redis.Redis` object is
thread-safe (each command borrows a connection from the pool), so one per pool serves every call.
Use it with KERVAN_CACHE_BACKEND=kervan.core.redis_cache.RedisCache.
"""

from typing import TYPE_CHECKING, Any

from django.core.cache.backends import redis as django_redis

if TYPE_CHECKING:
    from redis import Redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Redis] = {}

    def get_client(self, key: str | bytes | memoryview | None = None, *, write: bool = False) -> "Redis":
        index: int = self._get_connection_pool_index(write)  # type: ignore[attr-defined]  # private, not in the stubs
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = super().get_client(key, write=write)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
