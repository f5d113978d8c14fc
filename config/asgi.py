"""The ASGI entry point (`make run` serves it with granian): Django's pages over HTTP and live chat over WebSockets
(Django Channels, kervan.support.ws_routing). Static files are served by WhiteNoise's middleware inside the Django app,
as under WSGI."""

import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_application = get_asgi_application()  # sets Django up before anything imports models

from channels.routing import ProtocolTypeRouter  # noqa: E402 - after the app is set up
from django.conf import settings  # noqa: E402

from kervan.core.db import limit_lock_waits  # noqa: E402
from kervan.support.ws_routing import websocket_application  # noqa: E402

# WhiteNoise hands Django a file's chunks as a synchronous iterator; under ASGI Django reads them in a thread and
# warns on every static file. Small files, read once per browser cache: not worth a warning per request.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")

# Django: "When using ASGI, persistent connections should be disabled" — each request's sync code may run in a new
# thread, and a connection kept open per thread is never reused nor closed (config/database.py keeps them 60 s for
# the WSGI server and the workers). Set before the first connection is opened.
for database in settings.DATABASES.values():
    database["CONN_MAX_AGE"] = 0

if settings.KERVAN_WEB_LOCK_TIMEOUT:
    limit_lock_waits(settings.KERVAN_WEB_LOCK_TIMEOUT)

application = ProtocolTypeRouter({"http": django_application, "websocket": websocket_application()})
