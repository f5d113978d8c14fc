from .base import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "kervan.demo"]  # noqa: F405 - the demo shop of `make run`; never in production

DEBUG = True
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
