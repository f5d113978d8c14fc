"""Small filters for the product pages (kervan/templates/catalog/)."""

from django import template

from kervan.core.templatetags.kervan import money

register = template.Library()


@register.filter
def price_range(variants) -> str:
    """ "₺199,00" or "₺199,00 – ₺449,00" over a product's (prefetched) variants."""
    variants = list(variants)
    if not variants:
        return "—"
    low = min(variants, key=lambda v: v.price)
    high = max(variants, key=lambda v: v.price)
    if low.price == high.price:
        return money(low.price, low.currency)
    return f"{money(low.price, low.currency)} – {money(high.price, high.currency)}"


@register.filter
def stock_of(variant) -> int:
    """A variant's stock (0 when it has no stock row)."""
    level = getattr(variant, "stock", None) if _has_stock(variant) else None
    return level.quantity if level is not None else 0


@register.simple_tag
def is_low(variant, default: int) -> bool:
    """Whether a variant's stock is at or below its threshold (or the shop's default)."""
    limit = variant.low_stock_threshold if variant.low_stock_threshold is not None else default
    return stock_of(variant) <= limit


def _has_stock(variant) -> bool:
    try:
        return variant.stock is not None
    except Exception:  # RelatedObjectDoesNotExist: no stock row yet
        return False
