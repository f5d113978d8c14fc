"""Fixtures every domain's tests share: a cast of staff users (one per role), actors and API clients."""

import json

import pytest
from django.test import Client

from kervan.accounts.actors import Actor
from kervan.accounts.models import ApiKey, User
from kervan.accounts.permissions import Role, area_keys


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and lockouts live in the cache, keyed by ids a new test database reuses: start clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():
    """kervan.core.clock, frozen at the current time for the test: clock.advance(timedelta), clock.now(); nest
    clock.frozen(at) to jump to a given time. Process-wide, so a live server's thread sees the same time."""
    from kervan.core import clock

    with clock.frozen():
        yield clock


REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_cache(settings):
    """The default cache on the real Redis (database 15, emptied before and after), as production runs it with
    several processes: kervan.core.redis_cache.RedisCache. Skipped only when no Redis listens on 127.0.0.1:6379."""
    import socket

    from django.core.cache import caches

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    settings.CACHES = {"default": {"BACKEND": "kervan.core.redis_cache.RedisCache", "LOCATION": REDIS_TEST_URL}}
    caches["default"].clear()
    yield REDIS_TEST_URL
    caches["default"].clear()


@pytest.fixture
def make_user(db):
    def make(role: str = Role.ADMIN, username: str | None = None, **extra) -> User:
        username = username or f"{role}-user"
        extra.setdefault("language", "en")  # tests read English text; Turkish is tested on its own
        return User.objects.create_user(username=username, password="kervan-test-pw", role=role, **extra)

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user(Role.ADMIN, "ayse", first_name="Ayşe", last_name="Yılmaz")


@pytest.fixture
def admin_actor(admin_user):
    return Actor.for_user(admin_user)


@pytest.fixture
def system_actor():
    return Actor.system()


@pytest.fixture
def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def make_api_key(db, admin_user):
    def make(scopes: dict | None = None, name: str = "test key") -> tuple[ApiKey, str]:
        prefix, secret = ApiKey.generate_secret()
        key = ApiKey.objects.create(
            name=name,
            prefix=prefix,
            key_hash=ApiKey.hash_secret(secret),
            scopes=scopes if scopes is not None else {d: "write" for d in area_keys()},
            created_by=admin_user,
        )
        return key, secret

    return make


@pytest.fixture
def api(make_api_key):
    """A JSON client authenticated with a full-access API key: api.get("/customers/"), api.post(path, data)."""
    _, secret = make_api_key()
    return ApiClient(secret)


class ApiClient:
    def __init__(self, secret: str):
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def _url(self, path: str) -> str:
        return path if path.startswith("/api/") else "/api/v1" + path

    def get(self, path, params=None):
        return self.client.get(self._url(path), params or {})

    def post(self, path, data=None, raw: str | bytes | None = None):
        body = raw if raw is not None else json.dumps(data if data is not None else {})
        return self.client.post(self._url(path), body, content_type="application/json")

    def patch(self, path, data):
        return self.client.patch(self._url(path), json.dumps(data), content_type="application/json")

    def delete(self, path):
        return self.client.delete(self._url(path))


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-gpu",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (never a downloaded browser build)."""
    import os

    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package.")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="en-GB", base_url=live_server.url)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback that Django's email backend sends to (kervan.core.testing.Mailbox)."""
    from aiosmtpd.controller import Controller

    from kervan.core.testing import Mailbox, free_port

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = False
    settings.KERVAN_PUBLIC_URL = "https://crm.example.com"
    yield mailbox
    controller.stop()
