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
