"""The catalogue part of kervan.integrations.sync's Writer: products, variants and stock as the store keeps them.
A mixin of Writer (it uses Writer's connection, source, actor, result and newer())."""

from decimal import Decimal

from kervan.catalog.actions import product_create, stock_adjust, variant_create, variant_update
from kervan.catalog.models import Product, StockMovement, Variant
from kervan.integrations import canonical as c


class CatalogueWriter:
    def product(self, record: c.StoreProduct) -> None:
        if not self.newer("product", record.external_id, record.updated_at):
            return
        product = Product.objects.filter(source=self.source, external_id=record.external_id).first()
        variants = {v.sku: v for v in Variant.objects.filter(sku__in=[self.sku(v) for v in record.variants])}
        if product is None and not variants:
            if not record.variants:  # a WooCommerce variable product announced before its variations: nothing to
                self.result.count("products", "ignored")  # create yet (each variation brings the product with it)
                return
            created = product_create(
                actor=self.actor,
                title=record.title[:255] or record.external_id,
                source=self.source,
                external_id=record.external_id,
                variants=[self.variant_values(record, v) for v in record.variants],
            )
            if not record.active:  # a product the shop has switched off (draft, disabled): known, not for sale
                Product.objects.filter(pk=created.pk).update(is_active=False)
            self.result.count("products", "created")
            return
        product = product or next(iter(variants.values())).product
        if record.title and product.title != record.title[:255] or product.is_active != record.active:
            product.title = record.title[:255] or product.title
            product.is_active = record.active
            product.save(update_fields=["title", "is_active", "updated_at"])
        for store_variant in record.variants:
            variant = variants.get(self.sku(store_variant))
            if variant is None:
                variant_create(actor=self.actor, product=product, **self.variant_values(record, store_variant))
                continue
            variant_update(
                actor=self.actor,
                variant=variant,
                price=store_variant.price,
                compare_at_price=store_variant.compare_at_price if store_variant.compare_at_price else "",
                title=store_variant.title or None,
            )
            if store_variant.stock is not None:
                self.set_stock(variant, store_variant.stock)
        self.result.count("products", "updated")

    def sku(self, variant: c.StoreVariant) -> str:
        # A variant the shop gave no SKU is still a product Kervan must know (orders name it): the platform's id.
        return (variant.sku or f"{self.source.key}-{variant.external_id}")[:64]

    def variant_values(self, product: c.StoreProduct, variant: c.StoreVariant) -> dict:
        return {
            "sku": self.sku(variant),
            "title": variant.title[:255],
            "price": variant.price or Decimal(0),
            "currency": product.currency,
            "compare_at_price": variant.compare_at_price,
            "stock": max(variant.stock or 0, 0),
            "external_id": variant.external_id[:64],
        }

    def set_stock(self, variant: Variant, units: int) -> None:
        current = variant.stock.quantity
        if units != current:
            stock_adjust(
                actor=self.actor,
                variant=variant,
                delta=units - current,
                reason=StockMovement.Reason.RESTOCK if units > current else StockMovement.Reason.ADJUSTMENT,
                reference=self.connection.name[:64],
            )

    def product_deleted(self, record: c.ProductDeleted) -> None:
        updated = Product.objects.filter(source=self.source, external_id=record.external_id).update(is_active=False)
        self.result.count("products", "deactivated" if updated else "ignored")

    def stock(self, record: c.StockLevel) -> None:
        if not self.newer("stock", record.sku, record.updated_at):
            return
        variant = Variant.objects.filter(sku=record.sku).select_related("stock").first()
        if variant is None:
            self.result.count("stock", "ignored")
            return
        self.set_stock(variant, record.stock)
        self.result.count("stock", "updated")
