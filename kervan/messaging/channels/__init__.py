"""Which transport serves a channel, from settings (like Django's EMAIL_BACKEND): email goes through Django's email
backends (SMTP by default, an ESP through django-anymail); SMS through the provider KERVAN_SMS names; push through
web push with the VAPID keys in KERVAN_PUSH."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from kervan.messaging.channels.base import Transport

SMS_PROVIDERS = {
    "netgsm": "kervan.messaging.channels.sms.netgsm.NetgsmTransport",
    "twilio": "kervan.messaging.channels.sms.twilio.TwilioTransport",
    "http": "kervan.messaging.channels.sms.generic.HttpTransport",
}


def transport_for(channel: str) -> Transport:
    if channel == "email":
        from kervan.messaging.channels.email.transport import EmailTransport

        return EmailTransport()
    if channel == "sms":
        conf = dict(getattr(settings, "KERVAN_SMS", None) or {})
        provider = conf.pop("provider", "")
        if provider not in SMS_PROVIDERS:
            raise ImproperlyConfigured(f"KERVAN_SMS['provider'] must be one of {sorted(SMS_PROVIDERS)}.")
        return import_string(SMS_PROVIDERS[provider])(**conf)
    if channel == "push":
        from kervan.messaging.channels.push.transport import WebPushTransport

        return WebPushTransport(**(getattr(settings, "KERVAN_PUSH", None) or {}))
    raise ImproperlyConfigured(f"No transport for the channel {channel!r}.")
