from django.conf import settings
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from config.api import api


@csrf_exempt  # a POST to a path that does not exist is a 404, not a CSRF refusal
def api_not_found(request, rest=""):
    return JsonResponse({"detail": "No such API endpoint.", "code": "not_found"}, status=404)


urlpatterns = [
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("accounts/", include("kervan.accounts.urls")),
    path("", include("kervan.workspace.urls")),
    path("customers/", include("kervan.customers.urls")),
    path("customers/", include("kervan.customer360.urls")),
    path("events/", include("kervan.events.urls")),
    path("v1/", include("kervan.events.segment_urls")),
    path("catalog/", include("kervan.catalog.urls")),
    path("orders/", include("kervan.orders.urls")),
    path("settings/exchange-rates/", include("kervan.currency.urls")),
    path("imports/", include("kervan.imports.urls")),
    path("segments/", include("kervan.segments.urls")),
    path("analytics/", include("kervan.reports.urls")),
    path("analytics/", include("kervan.predictions.urls")),
    path("m/", include("kervan.messaging.urls")),
    path("messaging/", include("kervan.messaging.staff_urls")),
    path("campaigns/", include("kervan.campaigns.urls")),
    path("flows/", include("kervan.flows.urls")),
    path("support/", include("kervan.support.urls")),
    path("help/", include("kervan.support.public_urls")),
    path("chat/", include("kervan.support.chat_public_urls")),
    path("settings/outbound/", include("kervan.outbound.urls")),
    path("integrations/", include("kervan.integrations.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]

handler500 = "kervan.core.views.server_error"
handler404 = "kervan.core.views.page_not_found"
if settings.ANYMAIL.get("WEBHOOK_SECRET") and settings.KERVAN_ESP_WEBHOOKS:
    # The tracking webhooks of the ESPs the shop uses (kervan.messaging.channels.email.esp), only behind their
    # basic-auth secret: without one anymail would take anybody's "bounced" for any address (or anybody's
    # email as a customer's). Each ESP's own signing key, where it has one, goes in ANYMAIL too.
    from anymail.urls import urlpatterns as anymail_urls

    wanted = {f"{esp}_tracking_webhook" for esp in settings.KERVAN_ESP_WEBHOOKS}
    # And their inbound webhooks: email the ESP received for the support address (kervan.support.email_in).
    wanted |= {f"{esp}_inbound_webhook" for esp in settings.KERVAN_ESP_WEBHOOKS}
    urlpatterns.append(path("anymail/", include(([u for u in anymail_urls if u.name in wanted], "anymail"))))
