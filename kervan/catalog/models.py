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


class ProductQuerySet(models.QuerySet):
    """Bulk writes keep the search key too (the product import creates and updates products in bulk)."""

    def bulk_create(self, objs, *args, **kwargs):
        from kervan.catalog.search import product_search_key

        objs = list(objs)
        for product in objs:
            product.search_key = product_search_key(product.title, product.brand)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        from kervan.catalog.search import product_search_key

        objs = list(objs)
        if {"title", "brand"} & set(fields):
            for product in objs:
                product.search_key = product_search_key(product.title, product.brand)
            fields = [*fields, "search_key"]
        return super().bulk_update(objs, fields, *args, **kwargs)


class Product(TimeStampedModel):
    """A product the shop sells, in one or more variants (SKUs)."""

    source = models.ForeignKey("core.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    external_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    brand = models.CharField(max_length=120, blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products")
    is_active = models.BooleanField(default=True)
    # Turkish-folded "title brand" (kervan.catalog.search.product_search_key): what the product list and the global
    # search match words against, and the name sort. Set on every save() and bulk write (ProductQuerySet).
    search_key = models.CharField(max_length=400, blank=True, default="")

    objects = ProductQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~Q(external_id=""), name="product_source_external_unique"
            )
        ]
        # The name sort and prefix search (a trigram GIN index for "contains" is added on PostgreSQL by migration
        # 0002, like the customers' search key).
        indexes = [models.Index(fields=["search_key"], name="product_search_key_idx")]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        from kervan.catalog.search import product_search_key

        self.search_key = product_search_key(self.title, self.brand)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"title", "brand"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_key"}
        super().save(*args, **kwargs)


class Variant(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=255, blank=True)  # "Kırmızı / M"
    price = AmountField()
    compare_at_price = AmountField(null=True, blank=True, default=None)
    currency = CurrencyField()
    barcode = models.CharField(max_length=64, blank=True)
    external_id = models.CharField(max_length=64, blank=True)
    # Stock at or below this is low (the product list's low-stock filter); empty: settings.KERVAN_LOW_STOCK_DEFAULT.
    low_stock_threshold = models.PositiveIntegerField(null=True, blank=True)

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


class ProductDailySales(models.Model):
    """Units sold and revenue of one product on one shop day: the rollup the product list sums over a period instead
    of reading order lines (kervan.catalog.sales fills it from the orders app's feed). Revenue is in the reporting
    currency (settings.KERVAN_REPORTING_CURRENCY)."""

    # No index of its own: the unique (product, day) below leads with it.
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="daily_sales", db_index=False)
    day = models.DateField()
    units = models.IntegerField(default=0)
    revenue = AmountField()

    class Meta:
        # (product, day): one product's period (its page, the list's per-product sums), and the upsert key.
        constraints = [models.UniqueConstraint(fields=["product", "day"], name="product_sales_day_unique")]
        # day: refreshing a day replaces its rows (a few writes a day, so the index costs nothing that matters).
        indexes = [models.Index(fields=["day"], name="product_sales_day_idx")]


class SalesDay(models.Model):
    """A shop day the rollup holds: when it was counted, and whether orders of that day arrived since (stale)."""

    day = models.DateField(primary_key=True)
    filled_at = models.DateTimeField()
    stale = models.BooleanField(default=False)


class SalesMark(models.Model):
    """One row: the newest order id the rollup has seen, so orders recorded later (new ones, or an import of past
    ones) mark their days stale."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_order_id = models.BigIntegerField(default=0)
