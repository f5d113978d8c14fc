"""Settings shared by every environment. Environment-specific files import * from here."""

import json
import os
from importlib.util import find_spec
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
    "ninja",  # only for its static files and templates: the API docs page serves Swagger UI from here, not a CDN
    "django_tasks",
    "django_tasks_db",
    "kervan.core",
    "kervan.accounts",
    "kervan.customers",
    "kervan.events",
    "kervan.currency",
    "kervan.catalog",
    "kervan.orders",
    "kervan.feedback",
    "kervan.imports",
    "kervan.segments",
    "kervan.predictions",
    "kervan.messaging",
    "kervan.campaigns",
    "kervan.flows",
    "kervan.outbound",
    "kervan.integrations",
    "kervan.reports",
    "kervan.workspace",
    "kervan.customer360",
    "kervan.support",
]  # kervan.demo (the demo-shop generator, `manage.py demo_load`) is added by local.py and test.py only

MIDDLEWARE = [
    "kervan.core.middleware.ApiErrorBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "kervan.core.middleware.ContentSecurityPolicyMiddleware",
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
LOGIN_REDIRECT_URL = "workspace:today"
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
                "kervan.workspace.context_processors.menu",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'kervan.sqlite3'}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (INCLUDE columns) serve PostgreSQL's index-only scans; SQLite builds them without the extra
# columns, as intended, so its warning on every command says nothing a user can act on.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

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
# Files served at the site's root by WhiteNoise: /favicon.ico, which browsers ask for on pages without an icon link.
WHITENOISE_ROOT = BASE_DIR / "kervan" / "core" / "static_root"
# Chart.js for the Today page's chart, as the django-admincharts package ships it (requirements/base.txt; MIT): served
# from the installed package at /static/vendor/chartjs/chart.min.js, not from a CDN and not copied into this tree.
STATICFILES_DIRS = [("vendor/chartjs", Path(find_spec("admincharts").origin).parent / "static" / "admincharts")]

# The Content-Security-Policy of every page (kervan.core.middleware.ContentSecurityPolicyMiddleware). Scripts only
# from Kervan itself, never inline (app.js binds behaviour by data attributes); nothing fetched from elsewhere (the
# chart library and the API docs' Swagger UI are static files here). Inline styles stay allowed: the templates use
# style attributes and htmx adds its indicator style; a style cannot run code.
KERVAN_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
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
# The Today page lists paid orders not shipped this many days after they were placed.
KERVAN_TODAY_UNSHIPPED_DAYS = int(os.environ.get("KERVAN_TODAY_UNSHIPPED_DAYS", "2"))
# A first customer import (no customers yet) of at least this many new customers builds the customer tables'
# indexes after its rows (kervan.imports.bulk.indexes_built_after): about twice as fast at a million rows, but on
# PostgreSQL every read of those tables — the event tracker's identity look-ups included — waits until it commits.
# Smaller first imports keep the indexes up row by row and block nobody.
KERVAN_IMPORT_REBUILD_INDEXES_FROM = 50_000
# How long a web request waits for a lock before it is answered 503 + Retry-After (kervan.core.db.limit_lock_waits,
# installed by config/wsgi.py): a PostgreSQL lock, or on SQLite the one write lock an import or the task worker holds
# (SQLite's busy timeout). "" waits for ever on PostgreSQL, 10 s on SQLite. The task worker always waits.
KERVAN_WEB_LOCK_TIMEOUT = os.environ.get("KERVAN_WEB_LOCK_TIMEOUT", "5s")

# The public tracker (/events/collect, kervan.events.storefront): requests per minute per address, the largest body,
# and what one visitor, one address and one site may send: (count, seconds) in fixed windows in the cache.
KERVAN_TRACKER_RATE_LIMIT = int(os.environ.get("KERVAN_TRACKER_RATE_LIMIT", "600"))
KERVAN_TRACKER_MAX_BODY = 1024 * 1024
# Store and payment integrations (kervan.integrations): the largest webhook body accepted (Shopify's orders with
# hundreds of lines stay well below), and the Fernet keys credentials are encrypted with — comma-separated, the
# first encrypts, all decrypt (rotation: kervan/integrations/crypto.py). Empty: a key derived from SECRET_KEY.
KERVAN_WEBHOOK_MAX_BODY = 5 * 1024 * 1024
KERVAN_WEBHOOK_RETENTION_DAYS = int(os.environ.get("KERVAN_WEBHOOK_RETENTION_DAYS", "30"))  # dead ones: 3× as long
KERVAN_ENCRYPTION_KEYS = os.environ.get("KERVAN_ENCRYPTION_KEYS", "")
KERVAN_TRACKER_LIMITS = {
    "visitors_per_request": 2,
    "visitor_items": (200, 600),
    "address_items": (1000, 600),
    "site_items": (int(os.environ.get("KERVAN_TRACKER_SITE_ITEMS", "100000")), 600),
    "visitor_new_profiles": (3, 86_400),
    "address_new_profiles": (20, 3_600),
    "site_new_profiles": (1_000, 3_600),
}
# Sign-in throttling (kervan.accounts.login_throttle): after `account_failures` wrong passwords for one username
# within `window` seconds, or `address_failures` from one address, sign-in is refused for `lock` seconds. A browser
# that has signed in to that account before keeps its own allowance, so a stranger cannot lock its owner out.
KERVAN_LOGIN_THROTTLE = {"account_failures": 5, "address_failures": 20, "window": 900, "lock": 300}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"kervan": {"level": "INFO"}},
}

# Email: Django's backends (SMTP by default; an ESP through django-anymail: EMAIL_BACKEND="anymail.backends.<esp>...").
EMAIL_BACKEND = os.environ.get("KERVAN_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("KERVAN_EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("KERVAN_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("KERVAN_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("KERVAN_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("KERVAN_EMAIL_STARTTLS", "") == "1"
EMAIL_TIMEOUT = 15  # seconds: a stuck relay must not hold a sending worker for ever
# SMS: {"provider": "netgsm" | "twilio" | "http", and that provider's settings} (kervan.messaging.channels).
KERVAN_SMS: dict = json.loads(os.environ.get("KERVAN_SMS", "{}"))
KERVAN_PUBLIC_URL = os.environ.get("KERVAN_PUBLIC_URL", "http://127.0.0.1:8000")  # links in messages point here
# django-anymail: the ESP's settings (API key...) and the basic-auth secret its tracking webhooks must present.
ANYMAIL: dict = {"WEBHOOK_SECRET": os.environ.get("KERVAN_ESP_WEBHOOK_SECRET", "")}
# The ESPs whose tracking webhooks are served (anymail's names: "postmark", "sendgrid", "mailgun", "brevo"...).
KERVAN_ESP_WEBHOOKS = [e.strip() for e in os.environ.get("KERVAN_ESP_WEBHOOKS", "").split(",") if e.strip()]
KERVAN_PUSH: dict = json.loads(os.environ.get("KERVAN_PUSH", "{}"))  # web push: vapid_private_key, subject

# Live chat (kervan.support.consumers, config/asgi.py): WebSockets through Django Channels. The channel layer carries
# a chat's messages between the sockets: in this process's memory by default (one web process), on Redis when
# KERVAN_CHANNEL_REDIS_URL is set (several web processes, and the task worker's unanswered-chat tickets reach the
# consoles).
ASGI_APPLICATION = "config.asgi.application"
if os.environ.get("KERVAN_CHANNEL_REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["KERVAN_CHANNEL_REDIS_URL"]]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# A waiting chat nobody joined within this many minutes becomes a ticket (the agents answer by email).
KERVAN_CHAT_UNANSWERED_MINUTES = int(os.environ.get("KERVAN_CHAT_UNANSWERED_MINUTES", "5"))
# (count, seconds): a visitor's chat messages per conversation, and the widget's HTTP calls per address.
KERVAN_CHAT_LIMITS = {
    "visitor_messages": (20, 10),
    "address_requests": (60, 60),
    "address_starts": (10, 600),  # new conversations: each one rings every agent's console
    "address_offline": (5, 600),
}
# Support by email (kervan.support.email_in / email_out): replies go From and Reply-To this address (empty: "destek@"
# and the host of KERVAN_PUBLIC_URL); the support mailbox (manage.py support_smtp, an ESP's inbound webhook) takes
# mail to it and to any address of KERVAN_SUPPORT_INBOUND_DOMAINS.
KERVAN_SUPPORT_EMAIL = os.environ.get("KERVAN_SUPPORT_EMAIL", "")
KERVAN_SUPPORT_INBOUND_DOMAINS = [
    d.strip().lower() for d in os.environ.get("KERVAN_SUPPORT_INBOUND_DOMAINS", "").split(",") if d.strip()
]
# Files on tickets (emailed in or uploaded by agents): each at most max_bytes, max_files per message, of these types
# (MIME types, "image/*", or file name extensions); a whole email at most max_message_bytes.
KERVAN_SUPPORT_ATTACHMENTS: dict = {
    "max_bytes": 10 * 1024 * 1024,
    "max_files": 10,
    "max_message_bytes": 25 * 1024 * 1024,
    "types": [
        "image/*",
        "application/pdf",
        "text/plain",
        "text/csv",
        ".pdf",
        ".txt",
        ".csv",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".odt",
        ".ods",
        ".zip",
    ],
}
# CSAT (kervan.support.csat): the "How did we do?" email goes this many minutes after a ticket is solved.
KERVAN_CSAT_DELAY_MINUTES = int(os.environ.get("KERVAN_CSAT_DELAY_MINUTES", "60"))
