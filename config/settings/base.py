"""Settings shared by every environment. Environment-specific files import * from here."""

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from config.database import database_from_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("KERVAN_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("KERVAN_SECRET_KEY", "dev-insecure-change-me")
DEBUG = False
ALLOWED_HOSTS = os.environ.get("KERVAN_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "kervan.core",
    "kervan.accounts",
    "kervan.customers",
    "kervan.events",
    "kervan.currency",
    "kervan.catalog",
    "kervan.orders",
    "kervan.imports",
    "kervan.customer360",
]  # kervan.demo (the demo-shop generator, `manage.py demo_load`) is added by local.py and test.py only

MIDDLEWARE = [
    "kervan.core.middleware.ApiErrorBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kervan.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kervan.core.middleware.KervanErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["kervan.accounts.backends.CachedModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "customers:list"
LOGOUT_REDIRECT_URL = "accounts:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "kervan" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "kervan.accounts.context_processors.access",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'kervan.sqlite3'}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "tr"
LANGUAGES = [("tr", _("Turkish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Istanbul"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

# Uploaded import files can be large; they are streamed to disk, not held in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

CACHES = {
    "default": {
        "BACKEND": os.environ.get("KERVAN_CACHE_BACKEND", "django.core.cache.backends.locmem.LocMemCache"),
        "LOCATION": os.environ.get("KERVAN_CACHE_LOCATION", "kervan"),
    }
}

# True when every process (web workers, the task worker) reads the same cache, e.g. Redis. Only then is state that
# changes served from the cache (sessions, API keys, the Customer 360): a per-process memory cache never hears of a
# change made in another process.
KERVAN_CACHE_SHARED = bool(os.environ.get("KERVAN_CACHE_BACKEND"))

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Sessions are read on every page: with a shared cache they are served from it and written through to the database.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db" if KERVAN_CACHE_SHARED else "django.contrib.sessions.backends.db"
)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

# Business defaults: one install serves one business, most of them in Türkiye.
KERVAN_DEFAULT_CURRENCY = "TRY"
# Customer totals (CustomerStats) are kept in this currency, each order converted at its date's rate.
KERVAN_REPORTING_CURRENCY = os.environ.get("KERVAN_REPORTING_CURRENCY", "TRY")
KERVAN_TCMB_URL = os.environ.get("KERVAN_TCMB_URL", "https://www.tcmb.gov.tr/kurlar")
KERVAN_DEFAULT_COUNTRY = "TR"
KERVAN_DEFAULT_PHONE_REGION = "TR"
KERVAN_API_RATE_LIMIT = int(os.environ.get("KERVAN_API_RATE_LIMIT", "600"))  # requests/minute/key
# How many reverse proxies (nginx, a load balancer) stand in front of Kervan. With none, X-Forwarded-* headers are
# the client's own words and are ignored; with N, the client's address is the N-th from the right of
# X-Forwarded-For (each proxy appends the address it was reached from) and X-Forwarded-Proto tells https.
KERVAN_TRUSTED_PROXIES = int(os.environ.get("KERVAN_TRUSTED_PROXIES", "0"))
if KERVAN_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
KERVAN_EVENT_BATCH_MAX = 1000
# A first customer import (no customers yet) of at least this many new customers builds the customer tables'
# indexes after its rows (kervan.imports.bulk.indexes_built_after): about twice as fast at a million rows, but on
# PostgreSQL every read of those tables — the event tracker's identity look-ups included — waits until it commits.
# Smaller first imports keep the indexes up row by row and block nobody.
KERVAN_IMPORT_REBUILD_INDEXES_FROM = 50_000
# How long a web request waits for a PostgreSQL lock before it is answered 503 + Retry-After (kervan.core.db
# .limit_lock_waits, installed by config/wsgi.py); "" waits for ever. The task worker always waits.
KERVAN_WEB_LOCK_TIMEOUT = os.environ.get("KERVAN_WEB_LOCK_TIMEOUT", "5s")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"kervan": {"level": "INFO"}},
}
