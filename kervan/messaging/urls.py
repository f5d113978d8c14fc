from django.urls import path

from kervan.messaging import recipient_views as views
from kervan.messaging.channels.push import subscribe as push
from kervan.messaging.channels.sms import webhooks as sms_webhooks

app_name = "messaging"

# The recipient's links (short: they are in every message) and the providers' webhooks, under /m/.
urlpatterns = [
    path("o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/<str:token>/", views.click, name="click"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("p/<str:token>/", views.preferences, name="preferences"),
    path("push/key", push.public_key, name="push-key"),
    path("push/subscribe", push.subscribe, name="push-subscribe"),
    path("push/unsubscribe", push.unsubscribe, name="push-unsubscribe"),
    path("hooks/twilio/status/", sms_webhooks.twilio_status, name="twilio-status"),
    path("hooks/twilio/inbound/", sms_webhooks.twilio_inbound, name="twilio-inbound"),
    path("hooks/netgsm/report/", sms_webhooks.netgsm_report, name="netgsm-report"),
]
