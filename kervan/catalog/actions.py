"""Writes to the catalogue: products, variants, categories, and stock with its history."""

from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.catalog.models import Category, Product, StockLevel, StockMovement, Variant
from kervan.core.audit import audit
from kervan.core.errors import Conflict, KervanError, check_choice
from kervan.core.money import to_amount, to_currency


@transaction.atomic
def category_create(*, actor: Actor, name: str, parent: Category | None = None) -> Category:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise KervanError(_("A category needs a name of 1–120 characters."), "invalid_name", field="name")
    base = slugify(name.replace("ı", "i"), allow_unicode=False) or "kategori"
    slug, n = base, 1
    while Category.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return Category.objects.create(name=name, slug=slug, parent=parent)


@transaction.atomic
def product_create(
    *,
    actor: Actor,
    title: str,
    variants: list[dict],
    category: Category | None = None,
    description: str = "",
    brand: str = "",
    source=None,
    external_id: str = "",
) -> Product:
    """Create a product with at least one variant: {sku, title, price, currency, compare_at_price, stock}."""
    title = (title or "").strip()
    if not title or len(title) > 255:
        raise KervanError(_("A product needs a title of 1–255 characters."), "invalid_title", field="title")
    if not variants:
        raise KervanError(_("A product needs at least one variant."), "no_variants", field="variants")
    product = Product.objects.create(
        title=title,
        category=category,
        description=description,
        brand=brand,
        source=source,
        external_id=str(external_id or ""),
    )
    for data in variants:
        variant_create(actor=actor, product=product, **data)
    return product


def variant_create(
    *,
    actor: Actor,
    product: Product,
    sku: str,
    price,
    title: str = "",
    currency: str | None = None,
    compare_at_price=None,
    stock: int = 0,
    barcode: str = "",
    external_id: str = "",
) -> Variant:
    sku = (sku or "").strip()
    if not sku or len(sku) > 64:
        raise KervanError(_("A variant needs a SKU of 1–64 characters."), "invalid_sku", field="sku")
    price = to_amount(price, "price")
    if price < 0:
        raise KervanError(_("price cannot be negative."), "invalid_amount", field="price")
    try:
        with transaction.atomic():
            variant = Variant.objects.create(
                product=product,
                sku=sku,
                title=title,
                price=price,
                currency=to_currency(currency),
                compare_at_price=to_amount(compare_at_price, "compare_at_price") if compare_at_price else None,
                barcode=barcode,
                external_id=str(external_id or ""),
            )
    except IntegrityError:
        raise Conflict(_("SKU '%(sku)s' already exists.") % {"sku": sku}, "duplicate_sku")
    StockLevel.objects.create(variant=variant, quantity=0)
    if stock:
        stock_adjust(actor=actor, variant=variant, delta=int(stock), reason=StockMovement.Reason.RESTOCK)
    return variant


@transaction.atomic
def variant_update(
    *, actor: Actor, variant: Variant, price=None, compare_at_price=None, title: str | None = None
) -> Variant:
    """Change a variant's price (a price drop is read from the change by flows) or title; audited."""
    changes = {}
    if price is not None:
        amount = to_amount(price, "price")
        if amount < 0:
            raise KervanError(_("price cannot be negative."), "invalid_amount", field="price")
        if amount != variant.price:
            changes["price"] = [str(variant.price), str(amount)]
            variant.price = amount
    if compare_at_price is not None:
        amount = to_amount(compare_at_price, "compare_at_price") if compare_at_price != "" else None
        if amount != variant.compare_at_price:
            changes["compare_at_price"] = [str(variant.compare_at_price), str(amount)]
            variant.compare_at_price = amount
    if title is not None and title.strip() != variant.title:
        changes["title"] = [variant.title, title.strip()]
        variant.title = title.strip()
    if changes:
        variant.save()
        audit(actor=actor, action="update", obj=variant, changes=changes)
    return variant


@transaction.atomic
def stock_adjust(*, actor: Actor, variant: Variant, delta: int, reason: str, reference: str = "") -> StockLevel:
    """Change a variant's stock by `delta` and record why. Stock may go negative (oversold), which is visible."""
    check_choice(reason, StockMovement.Reason, field="reason")
    if delta == 0:
        raise KervanError(_("A stock change of 0 changes nothing."), "zero_delta", field="delta")
    level, _created = StockLevel.objects.select_for_update().get_or_create(variant=variant)
    level.quantity += delta
    level.save()
    StockMovement.objects.create(
        variant=variant,
        delta=delta,
        quantity_after=level.quantity,
        reason=reason,
        reference=reference[:100],
        actor=actor.user,
    )
    return level
