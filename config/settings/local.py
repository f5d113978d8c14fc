import os

from .base import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "kervan.demo"]  # noqa: F405 - the demo shop of `make run`; never in production

# `make run` serves as a product does: DEBUG off, so a missing page or a crash is Kervan's own page in the user's
# language, never Django's debug page with the URL list. `make dev` sets KERVAN_DEBUG=1 (debug pages, auto-reload).
DEBUG = os.environ.get("KERVAN_DEBUG", "") == "1"
# WhiteNoise serves the apps' static files straight from their folders (no collectstatic step); with DEBUG it also
# picks up files changed or added while the server runs.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# A trial has no mail relay: email is written to var/sent-mail/ (one file per message) instead, to be read there.
# Set KERVAN_EMAIL_BACKEND (and KERVAN_EMAIL_HOST...) to send for real.
if "KERVAN_EMAIL_BACKEND" not in os.environ:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "sent-mail"  # noqa: F405
