"""Writing feedback records. Bulk imports write reviews in the import's own transaction (kervan.imports.related);
review_create is the one-by-one path (an integration, a test) and is audited like every change to a customer."""

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.audit import audit
from kervan.core.errors import KervanError
from kervan.feedback.models import Review


def check_rating(value) -> int:
    try:
        rating = int(str(value).strip())
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5 or str(value).strip() not in {str(rating), f"{rating}.0"}:
        raise KervanError(
            _("'%(value)s' is not a rating from 1 to 5.") % {"value": value}, "invalid_rating", field="rating"
        )
    return rating


@transaction.atomic
def review_create(
    *,
    actor: Actor,
    customer=None,
    order=None,
    product=None,
    rating,
    submitted_at: dt.datetime,
    title: str = "",
    text: str = "",
    source=None,
    external_id: str = "",
) -> tuple[Review, bool]:
    """Record a review; (the review, created). A review of an order is its customer's. The same source and
    external id again returns the stored review unchanged."""
    actor.require("customers", "write")
    if order is not None and customer is None:
        customer = order.customer
    if customer is None:
        raise KervanError(_("A review needs a customer or an order."), "missing_customer", field="customer")
    if submitted_at.tzinfo is None:
        raise KervanError(_("The review's time needs a time zone."), "invalid_datetime", field="submitted_at")
    if external_id:
        found = Review.objects.filter(source=source, external_id=external_id).first()
        if found is not None:
            return found, False
    review = Review.objects.create(
        customer=customer,
        order=order,
        product=product,
        rating=check_rating(rating),
        title=(title or "").strip()[:255],
        text=(text or "").strip(),
        submitted_at=submitted_at,
        source=source,
        external_id=(external_id or "")[:100],
    )
    audit(actor=actor, action="create", obj=review, customer_id=customer.pk, changes={"rating": [None, review.rating]})
    return review, True


def reviews_reassign(*, from_customer_id: int, to_customer_id: int) -> None:
    """A merged customer's reviews follow them to the surviving profile."""
    Review.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
