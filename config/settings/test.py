from .base import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "kervan.demo"]  # noqa: F405 - its tests run with the suite

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
LANGUAGE_CODE = "en"
KERVAN_CACHE_SHARED = True  # a test runs in one process (live servers are threads): its memory cache is shared
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
