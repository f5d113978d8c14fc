"""Feedback records: a customer's review of an order or a product (imported from a shop's export, for now)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Review(models.Model):
    """A rating (1–5) with an optional title and text. A review of a guest order keeps the order's customer (the
    guest's own profile, kervan.imports.orders_plan), so every imported review has a customer; `customer` is
    nullable only for a review that names no order and no customer. `source` + `external_id` identify it in its
    shop (Olist's review_id): a re-import never makes a second one."""

    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="reviews"
    )
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product = models.ForeignKey("catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rating = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=255, blank=True)
    text = models.TextField(blank=True)
    submitted_at = models.DateTimeField()
    source = models.ForeignKey("core.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    external_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="review_rating_1_5"),
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~models.Q(external_id=""),
                name="review_source_external_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["customer", "-submitted_at"], name="review_customer_time_idx")]
        verbose_name = _("review")
        verbose_name_plural = _("reviews")

    def __str__(self) -> str:
        return f"{self.rating}/5 {self.title}".strip()
