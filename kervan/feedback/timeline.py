"""Reviews on the Customer 360 timeline ("Submitted Review"), and how a merge moves them. Registered in
FeedbackConfig.ready()."""

from typing import Any

from django.utils.translation import gettext_lazy, pgettext

from kervan.customers.registry import register_merge, register_model_timeline
from kervan.feedback.actions import reviews_reassign
from kervan.feedback.models import Review


def _review(review: Review) -> dict[str, Any]:
    stars = "★" * review.rating + "☆" * (5 - review.rating)
    summary = " · ".join(part for part in (stars, review.title, review.text[:300]) if part)
    shown: dict[str, Any] = {
        "title": pgettext("event", "Submitted Review"),
        "data": {
            "rating": review.rating,
            "title": review.title,
            "text": review.text,
            "order_id": review.order_id,
            "product_id": review.product_id,
        },
        "summary": summary,
    }
    if review.order_id:
        shown["link"] = ("orders:detail", review.order_id, "orders")
    return shown


def register() -> None:
    register_merge("feedback", reviews_reassign)
    from kervan.customers.registry import register_privacy
    from kervan.feedback import privacy

    register_privacy(privacy.HANDLER)  # its part of a personal data export or erasure
    register_model_timeline("review", gettext_lazy("Reviews"), 35, "customers", Review, "submitted_at", _review)
