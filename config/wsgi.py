import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - after the app is set up

from kervan.core.db import limit_lock_waits  # noqa: E402

if settings.KERVAN_WEB_LOCK_TIMEOUT:
    limit_lock_waits(settings.KERVAN_WEB_LOCK_TIMEOUT)
