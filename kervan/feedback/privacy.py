"""Reviews in a privacy request (kervan.customers.privacy): exported whole; on erasure the rating stays (the
product's average must not change) and the person's own words go."""

from typing import Any

from django.db.models import Q

from kervan.customers.registry import PrivacyHandler, PrivacySubject
from kervan.feedback.models import Review


def export(subject: PrivacySubject) -> dict[str, Any]:
    rows = Review.objects.filter(customer_id__in=subject.customer_ids).order_by("submitted_at", "id")
    return {
        "reviews": list(
            rows.values("rating", "title", "text", "submitted_at", "order__number", "product__title", "external_id")
        )
    }


def anonymise(subject: PrivacySubject) -> list[str]:
    rows = Review.objects.filter(customer_id__in=subject.customer_ids).filter(~Q(title="") | ~Q(text=""))
    return ["feedback.Review.title", "feedback.Review.text"] if rows.update(title="", text="") else []


HANDLER = PrivacyHandler(name="feedback", export=export, anonymise=anonymise, models=("feedback.Review",))
