import os
from pathlib import Path

from .base import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "kervan.demo"]  # noqa: F405 - its tests run with the suite

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
LANGUAGE_CODE = "en"
KERVAN_CACHE_SHARED = True  # a test runs in one process (live servers are threads): its memory cache is shared
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not SQLite's in-memory test database: with one in memory, Django hands the live server's request
    # threads the test's own connection, so a browser's parallel requests share one connection and its transaction
    # state, and one request's failed statement leaves every later test "in a broken transaction". With a file each
    # thread opens its own connection and SQLite's write lock orders them, as in production. In /dev/shm (memory)
    # where there is one, named after the process so two suites running at once never share it.
    _memory = Path("/dev/shm")
    _folder = _memory if _memory.is_dir() else BASE_DIR / "var"  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(_folder / f"kervan-test-{os.getpid()}.sqlite3")}  # noqa: F405
ANYMAIL = {"WEBHOOK_SECRET": "esp:webhook-secret"}  # the ESP webhook tests post with it
KERVAN_ESP_WEBHOOKS = ["postmark"]
