"""Product import: one row per variant (SKU), grouped into products by a product id column, else by title.

Rules are the catalogue's: a SKU is unique (in the file and in the database), a price is a Decimal ≥ 0 with a
currency, stock is a whole number kept as a StockLevel with a StockMovement (reason "import") for each change.
A known SKU is updated; an empty cell changes nothing.
"""

from django.conf import settings
from django.utils.translation import gettext as _

from kervan.catalog.actions import category_create
from kervan.catalog.models import Category, Product, StockLevel, StockMovement, Variant
from kervan.core import clock
from kervan.core.errors import KervanError
from kervan.imports.base import Importer, memoized, text
from kervan.imports.sources import import_source
from kervan.imports.values import parse_currency, parse_int, parse_non_negative_amount, parse_yes_no

LOOKUP_CHUNK = 900


class ProductImport(Importer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[tuple[int, list[str], dict]] = []
        self.first_row_of_sku: dict[str, int] = {}

    def parser(self, field: str):
        limits = {
            "sku": 64,
            "title": 255,
            "variant_title": 255,
            "product_id": 64,
            "barcode": 64,
            "brand": 120,
            "category": 120,
            "description": 100_000,
        }
        if field in limits:
            return text(limits[field]) if field not in ("brand", "category") else memoized(text(limits[field]))
        if field in ("price", "compare_at_price"):
            return parse_non_negative_amount
        if field == "currency":
            return memoized(parse_currency)
        if field == "stock":
            return parse_int
        if field == "is_active":
            return memoized(parse_yes_no)
        raise KervanError(_("Unknown field %(field)s.") % {"field": field}, "unknown_field")

    def check_row(self, number: int, cells: list[str]) -> None:
        values = self.parse(number, cells)
        if values is None:
            self.report.skipped += 1
            return
        sku = values.get("sku")
        if not sku:
            self.row_error(number, cells, "sku", _("Every row needs a SKU."), "missing_sku")
            self.report.skipped += 1
            return
        if sku in self.first_row_of_sku:
            self.row_error(
                number,
                cells,
                "sku",
                _("SKU '%(sku)s' is already on row %(row)s.") % {"sku": sku, "row": self.first_row_of_sku[sku]},
                "duplicate_sku",
            )
            self.report.skipped += 1
            return
        self.first_row_of_sku[sku] = number
        self.rows.append((number, cells, values))

    def finish_check(self) -> None:
        """Decide, for each row, which product and variant it creates or changes; refuse new SKUs that lack what a
        new variant needs."""
        skus = [v["sku"] for _, _, v in self.rows]
        self.variants: dict[str, Variant] = {}
        for start in range(0, len(skus), LOOKUP_CHUNK):
            chunk = skus[start : start + LOOKUP_CHUNK]
            for variant in Variant.objects.filter(sku__in=chunk).select_related("product", "product__category"):
                self.variants[variant.sku] = variant
        levels = {}
        ids = [v.pk for v in self.variants.values()]
        for start in range(0, len(ids), LOOKUP_CHUNK):
            levels.update(
                StockLevel.objects.filter(variant_id__in=ids[start : start + LOOKUP_CHUNK]).values_list(
                    "variant_id", "quantity"
                )
            )
        self.levels = levels
        group_ids = {v["product_id"] for _, _, v in self.rows if v.get("product_id")}
        self.products_by_key: dict[str, Product] = {}
        group_list = sorted(group_ids)
        for start in range(0, len(group_list), LOOKUP_CHUNK):
            for product in Product.objects.filter(external_id__in=group_list[start : start + LOOKUP_CHUNK]):
                self.products_by_key.setdefault(product.external_id, product)
        # One Python object per product, so changes from several rows of the same product add up.
        products = {p.pk: p for p in self.products_by_key.values()}
        for variant in self.variants.values():
            variant.product = products.setdefault(variant.product_id, variant.product)
        titles: dict[str, str] = {}  # group key → a title given on any of its rows
        for _number, _cells, values in self.rows:
            key = _group_key(values)
            if key and values.get("title"):
                titles.setdefault(key, values["title"])
        self.good: list[tuple[int, dict]] = []
        for number, cells, values in self.rows:
            if values["sku"] not in self.variants:
                key = _group_key(values)
                known_product = key in self.products_by_key
                if not known_product and not titles.get(key):
                    self.row_error(number, cells, "title", _("A new product needs a title."), "missing_title")
                    self.report.skipped += 1
                    continue
                if "price" not in values:
                    self.row_error(number, cells, "price", _("A new SKU needs a price."), "missing_price")
                    self.report.skipped += 1
                    continue
                values.setdefault("title", titles.get(key, ""))
            self.good.append((number, values))
        self.rows = []

    def write(self, first_ids: dict[str, int]) -> None:
        source = import_source()
        categories = self._categories()
        created: dict[str, Product] = {}  # products made by this file, by group key
        changed_products: dict[int, Product] = {}
        new_variants: list[tuple[Variant, int]] = []
        changed_variants: list[Variant] = []
        movements: list[StockMovement] = []
        levels: dict[int, int] = {}
        for _number, values in self.good:
            variant = self.variants.get(values["sku"])
            if variant is None:
                key = _group_key(values)
                product = created.get(key) or self.products_by_key.get(key)
                if product is None:
                    product = Product.objects.create(
                        title=values["title"],
                        brand=values.get("brand", ""),
                        description=values.get("description", ""),
                        category=categories.get(values.get("category")),
                        is_active=values.get("is_active", True),
                        source=source,
                        external_id=values.get("product_id", ""),
                    )
                    created[key] = product
                elif key not in created:
                    _apply_product(product, values, categories, changed_products)
                variant = Variant(
                    product=product,
                    sku=values["sku"],
                    title=values.get("variant_title", ""),
                    price=values["price"],
                    compare_at_price=values.get("compare_at_price"),
                    currency=values.get("currency", settings.KERVAN_DEFAULT_CURRENCY),
                    barcode=values.get("barcode", ""),
                )
                new_variants.append((variant, values.get("stock", 0)))
                self.report.imported += 1
                continue
            product_changed = _apply_product(variant.product, values, categories, changed_products)
            variant_changed = _apply_variant(variant, values)
            if variant_changed:
                changed_variants.append(variant)
            stock = values.get("stock")
            current = self.levels.get(variant.pk, 0)
            if stock is not None and stock != current:
                levels[variant.pk] = stock
                movements.append(self._movement(variant, stock - current, stock))
            if product_changed or variant_changed or variant.pk in levels:
                self.report.updated += 1
            else:
                self.report.unchanged += 1
        Variant.objects.bulk_create([v for v, _ in new_variants], batch_size=1000)
        StockLevel.objects.bulk_create([StockLevel(variant=v, quantity=n) for v, n in new_variants], batch_size=1000)
        movements.extend(self._movement(v, n, n) for v, n in new_variants if n)
        now = clock.now()
        for item in (*changed_variants, *changed_products.values()):
            item.updated_at = now
        Variant.objects.bulk_update(
            changed_variants,
            ["title", "price", "compare_at_price", "currency", "barcode", "updated_at"],
            batch_size=1000,
        )
        Product.objects.bulk_update(
            list(changed_products.values()),
            ["title", "brand", "description", "category", "is_active", "updated_at"],
            batch_size=1000,
        )
        for variant_id, quantity in levels.items():
            StockLevel.objects.update_or_create(variant_id=variant_id, defaults={"quantity": quantity})
        StockMovement.objects.bulk_create(movements, batch_size=1000)

    def _movement(self, variant: Variant, delta: int, after: int) -> StockMovement:
        return StockMovement(
            variant=variant,
            delta=delta,
            quantity_after=after,
            reason=StockMovement.Reason.IMPORT,
            reference=f"import #{self.job.pk}",
            actor=self.actor.user,
        )

    def _categories(self) -> dict[str, Category]:
        names = {v["category"] for _, v in self.good if v.get("category")}
        found = {c.name: c for c in Category.objects.filter(name__in=names)}
        for name in sorted(names - set(found)):
            found[name] = category_create(actor=self.actor, name=name)
        return found


def _group_key(values: dict) -> str:
    return values.get("product_id") or values.get("title") or values["sku"]


def _apply_product(product: Product, values: dict, categories: dict, changed: dict) -> bool:
    """Product-level cells (title, brand, description, category, active) of a row applied to its product."""
    updates = {
        "title": values.get("title"),
        "brand": values.get("brand"),
        "description": values.get("description"),
        "category": categories.get(values["category"]) if values.get("category") else None,
        "is_active": values.get("is_active"),
    }
    any_change = False
    for name, value in updates.items():
        if value is not None and getattr(product, name) != value:
            setattr(product, name, value)
            any_change = True
    if any_change:
        changed[product.pk] = product
    return any_change


def _apply_variant(variant: Variant, values: dict) -> bool:
    updates = {
        "title": values.get("variant_title"),
        "price": values.get("price"),
        "compare_at_price": values.get("compare_at_price"),
        "currency": values.get("currency"),
        "barcode": values.get("barcode"),
    }
    any_change = False
    for name, value in updates.items():
        if value is not None and getattr(variant, name) != value:
            setattr(variant, name, value)
            any_change = True
    return any_change
