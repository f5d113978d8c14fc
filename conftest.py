"""Test-wide set-up: the database switch (SQLite by default, PostgreSQL via DATABASE_URL) and shared fixtures."""

import os

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make around it are
# ordinary synchronous calls, so Django's async-safety guard would be a false alarm here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

_POSTGRES_PROBLEM: str | None = None


def pytest_configure(config):
    global _POSTGRES_PROBLEM
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    from config.database import database_from_url

    db = database_from_url(url)
    try:
        psycopg.connect(
            host=db["HOST"],
            port=db["PORT"],
            user=db["USER"],
            password=db["PASSWORD"],
            dbname="postgres",
            connect_timeout=5,
        ).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("KERVAN_REQUIRE_POSTGRES") == "1":
            raise pytest.UsageError(f"PostgreSQL is required (KERVAN_REQUIRE_POSTGRES=1) but unreachable: {exc}")
        _POSTGRES_PROBLEM = f"PostgreSQL unreachable at {db['HOST']}:{db['PORT']}: {exc}".strip()


def pytest_collection_modifyitems(config, items):
    if _POSTGRES_PROBLEM:
        skip = pytest.mark.skip(reason=_POSTGRES_PROBLEM)
        for item in items:
            item.add_marker(skip)


def pytest_report_header(config):
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
