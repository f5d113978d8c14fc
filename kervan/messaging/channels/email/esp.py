"""What an ESP reports about our email (through django-anymail's tracking webhooks, /anymail/<esp>/tracking/): the
same recording as our own pixel, redirect and bounce mailbox, so a shop on Postmark, SendGrid, Mailgun... sees the
same timeline and reports. The webhook's basic auth (ANYMAIL["WEBHOOK_SECRET"]) is anymail's to check."""

from typing import Any

from kervan.messaging import actions
from kervan.messaging.models import Message


def on_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """anymail.signals.tracking's receiver. An event for a message we do not know (another system's mail on the same
    ESP account) is ignored."""
    message = (
        Message.objects.select_related("customer")
        .filter(channel="email", provider_id=event.message_id or "")
        .exclude(provider_id="")
        .first()
    )
    if message is None:
        return
    kind = event.event_type
    source = f"{esp_name} webhook"
    if kind == "delivered":
        actions.message_delivery_update(channel="email", provider_id=message.provider_id, delivered=True)
    elif kind in ("bounced", "rejected", "failed", "deferred"):
        actions.bounce_record(
            address=event.recipient or message.to_address,
            permanent=kind != "deferred",
            source=source,
            message_key=actions.message_key(message),
        )
    elif kind == "opened":
        actions.message_opened(message=message, machine=False)
    elif kind == "clicked":
        actions.message_clicked(message=message, url=event.click_url or "")
    elif kind == "complained":
        actions.complaint_record(message=message, source=source)
    elif kind == "unsubscribed":
        actions.opt_out(customer=message.customer, channel="email", source=source, message=message)
