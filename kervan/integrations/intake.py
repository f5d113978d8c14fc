"""Webhook intake: POST /integrations/hooks/<connection token>/.

The signature is checked before anything of the body is read or stored (401, nothing stored); a verified delivery
is stored as it came (Delivery) and answered 200 at once; a worker processes it (kervan.integrations.worker). A slow
or busy database therefore never makes a platform time out and retry, and the raw payload stays for inspection and
replay. The same delivery again (the platform's delivery id, else the body's hash) is answered 200 and stored once.
"""

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from kervan.core import clock
from kervan.core.errors import KervanError
from kervan.core.web import json_error, read_body
from kervan.integrations.models import Connection, Delivery

# Headers kept with a delivery (the platforms' own X-… headers: topic, ids, signature, for processing and replay);
# cookies, credentials and what proxies add are not stored.
KEPT_HEADERS = ("content-type", "user-agent", "stripe-signature")
DROPPED_PREFIXES = ("x-forwarded-", "x-real-ip", "x-csrf", "x-amzn-")


@csrf_exempt
def webhook_receive(request: HttpRequest, token: str) -> JsonResponse:
    if request.method != "POST":
        return json_error(405, _("Webhooks are delivered with POST."), "method_not_allowed")
    connection = Connection.objects.select_related("source").filter(token=token).first()
    if connection is None:
        return json_error(404, _("No connection has this webhook address."), "unknown_connection")
    too_large = KervanError(_("The delivery is too large."), "payload_too_large", status=413)
    try:
        body = read_body(request, settings.KERVAN_WEBHOOK_MAX_BODY, too_large)
    except KervanError as refused:
        return json_error(refused.status, refused.detail, refused.code)
    headers = {name.lower(): value for name, value in request.headers.items()}
    platform = connection.platform_impl
    if platform.is_ping(headers, body):  # unsigned and carries nothing: answered so the platform saves the webhook
        return JsonResponse({"status": "ping"})
    if not platform.verify(connection, headers, body):
        return json_error(401, _("The signature does not match this connection's secret."), "bad_signature")
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return json_error(400, _("The body is not valid JSON."), "malformed_request")
    topic, delivery_id = platform.delivery_key(headers, body)
    kept = {
        k: v
        for k, v in headers.items()
        if k in KEPT_HEADERS or (k.startswith("x-") and not k.startswith(DROPPED_PREFIXES))
    }
    now = clock.now()
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(
                connection=connection,
                topic=topic[:100],
                delivery_id=delivery_id[:200],
                headers=kept,
                body=body.decode("utf-8", errors="replace"),
                received_at=now,
                due_at=now,
            )
    except IntegrityError:
        return JsonResponse({"status": "duplicate"})
    return JsonResponse({"status": "accepted", "delivery": delivery.pk})
