from django.conf import settings
from django.db import models
from django.db.models import Q

from kervan.core.models import TimeStampedModel
from kervan.core.money import AmountField, CurrencyField


class Category(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True, allow_unicode=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(TimeStampedModel):
    source = models.ForeignKey("core.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    external_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    brand = models.CharField(max_length=120, blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products")
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~Q(external_id=""), name="product_source_external_unique"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Variant(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=255, blank=True)  # "Kırmızı / M"
    price = AmountField()
    compare_at_price = AmountField(null=True, blank=True, default=None)
    currency = CurrencyField()
    barcode = models.CharField(max_length=64, blank=True)
    external_id = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.product.title} {self.title}".strip()


class StockLevel(models.Model):
    variant = models.OneToOneField(Variant, primary_key=True, on_delete=models.CASCADE, related_name="stock")
    quantity = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)


class StockMovement(models.Model):
    """Stock history: every change to a StockLevel, with why."""

    class Reason(models.TextChoices):
        ADJUSTMENT = "adjustment", "Adjustment"
        SALE = "sale", "Sale"
        RETURN = "return", "Return"
        RESTOCK = "restock", "Restock"
        IMPORT = "import", "Import"

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="stock_movements")
    delta = models.IntegerField()
    quantity_after = models.IntegerField()
    reason = models.CharField(max_length=12, choices=Reason.choices)
    reference = models.CharField(max_length=100, blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["variant", "-occurred_at"], name="stock_move_variant_idx")]
