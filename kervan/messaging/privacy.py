"""Messages in a privacy request (kervan.customers.privacy): every message sent (or not sent) to the person, their
push subscriptions and topic choices in the export. On erasure a message keeps its channel, status and times (a
campaign's report still counts it) and loses where it went, its subject (written for the person: "Ayşe, …"), the
provider's error text (which quotes the address) and the data a flow gave it (a cart, a coupon); the person's push
subscriptions are deleted: a browser endpoint is an identifier, and nothing may be sent there any more."""

from typing import Any

from django.db.models import Q

from kervan.customers.registry import PrivacyHandler, PrivacySubject
from kervan.messaging.models import Message, PushSubscription, TopicOptOut


def _subscriptions(subject: PrivacySubject):
    mine = Q(customer_id__in=subject.customer_ids)
    if subject.anonymous_ids:
        mine |= Q(customer__isnull=True, anonymous_id__in=subject.anonymous_ids)
    return PushSubscription.objects.filter(mine)


def export(subject: PrivacySubject) -> dict[str, Any]:
    messages = Message.objects.filter(customer_id__in=subject.customer_ids).order_by("created_at", "id")
    fields = (
        "origin", "channel", "purpose", "template__name", "status", "skip_reason", "to_address", "subject", "error",
        "created_at", "sent_at", "delivered_at", "opened_at", "clicked_at", "bounced_at", "unsubscribed_at", "opens",
        "clicks", "data",
    )  # fmt: skip
    return {
        "messages": [{**m, "template": m.pop("template__name")} for m in messages.values(*fields)],
        "push_subscriptions": list(
            _subscriptions(subject).order_by("id").values("endpoint", "user_agent", "created_at", "last_sent_at")
        ),
        "topic_opt_outs": list(
            TopicOptOut.objects.filter(customer_id__in=subject.customer_ids)
            .order_by("id")
            .values("topic__name_tr", "topic__name_en", "created_at")
        ),
    }


def anonymise(subject: PrivacySubject) -> list[str]:
    erased = []
    messages = Message.objects.filter(customer_id__in=subject.customer_ids).filter(
        ~Q(to_address="") | ~Q(subject="") | ~Q(error="") | ~Q(data={})
    )
    if messages.update(to_address="", subject="", error="", data={}):
        erased += ["messaging.Message.to_address", "messaging.Message.subject", "messaging.Message.data"]
    if _subscriptions(subject).delete()[0]:
        erased.append("messaging.PushSubscription")
    return erased


HANDLER = PrivacyHandler(
    name="messaging",
    export=export,
    anonymise=anonymise,
    models=("messaging.Message", "messaging.PushSubscription", "messaging.TopicOptOut"),
)
