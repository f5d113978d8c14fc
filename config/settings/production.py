import os

from .base import *  # noqa: F403


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value in (None, "") else value.strip().lower() in ("1", "true", "yes", "on")


SECRET_KEY = os.environ["KERVAN_SECRET_KEY"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# HTTPS only. A plain-http request is redirected to https. Behind a proxy that terminates TLS, set
# KERVAN_TRUSTED_PROXIES (base.py) so the proxy's X-Forwarded-Proto tells Django the visitor used https, or set
# KERVAN_SSL_REDIRECT=0 if the proxy redirects by itself (or for a plain-http test on 127.0.0.1).
SECURE_SSL_REDIRECT = _env_flag("KERVAN_SSL_REDIRECT", True)
# Strict-Transport-Security on https responses: browsers then use only https for this host for a year.
# KERVAN_HSTS_SECONDS=0 turns it off (while trying https out: a browser remembers the header for that long);
# KERVAN_HSTS_INCLUDE_SUBDOMAINS / KERVAN_HSTS_PRELOAD=0 when other hosts of the domain still serve plain http.
SECURE_HSTS_SECONDS = int(os.environ.get("KERVAN_HSTS_SECONDS") or 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_flag("KERVAN_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = _env_flag("KERVAN_HSTS_PRELOAD", True)
