"""The product list as the workspace shows it (kervan.workspace.lists), and the global search's products."""

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy

from kervan.catalog import selectors
from kervan.catalog.export import products_export_response
from kervan.catalog.models import Category
from kervan.workspace.lists import BulkAction, Column, Filter, ListSpec
from kervan.workspace.search import SearchHit

TEXT_FILTERS = ("q", "category", "low_stock", "sold_from", "sold_to")


def product_filters(values: dict, sort: str) -> selectors.ProductFilters:
    """The list's raw values (page query string or API parameters) as the selector's filters."""
    return selectors.ProductFilters(**{k: _clean(values.get(k)) for k in TEXT_FILTERS}, sort=_clean(sort) or "newest")


def _clean(value) -> str:
    """A raw value as text, without the NUL characters no database filter can take (PostgreSQL refuses them)."""
    return str(value or "").replace("\x00", "").strip()


def product_query(actor, values: dict, sort: str):
    qs, order = selectors.product_list(actor=actor, filters=product_filters(values, sort))
    return selectors.with_variants(qs), order


def category_choices() -> list[tuple[str, str]]:
    """Categories: a small table."""
    return [(str(pk), name) for pk, name in Category.objects.order_by("name").values_list("pk", "name")[:300]]


LOW_STOCK_CHOICES = (("yes", gettext_lazy("Low stock")), ("no", gettext_lazy("Stock above the threshold")))


def product_export(actor, values: dict, sort: str):
    return products_export_response(actor=actor, filters=product_filters(values, sort))


def _export(request, actor, ids: list[int], value: str):
    # The ticked products with their sales of the last 30 days (the list's default period).
    return products_export_response(actor=actor, filters=selectors.ProductFilters(ids=ids))


def product_search(actor, words: str, limit: int) -> list[SearchHit]:
    """The global search's products: a SKU exactly, or words of the name."""
    return [
        SearchHit(
            title=p.title,
            url=reverse("catalog:product", args=[p.pk]),
            subtitle=" · ".join(v for v in (", ".join(v.sku for v in p.variants.all()[:4]), p.brand) if v),
        )
        for p in selectors.product_search(actor=actor, words=_clean(words), limit=limit)
    ]


def product_search_more(words: str) -> str:
    return f"{reverse('catalog:products')}?{urlencode({'q': words})}"


PRODUCT_LIST = ListSpec(
    key="products",
    title=gettext_lazy("Products"),
    area="catalog",
    url_name="catalog:products",
    query=product_query,
    export=product_export,
    row_template="catalog/_rows.html",
    template="catalog/products.html",
    columns=(
        Column("product", gettext_lazy("Product"), sort="name"),
        Column("skus", gettext_lazy("SKU")),
        Column("variants", gettext_lazy("Variants and stock")),
        Column("stock", gettext_lazy("Stock"), num=True, sort="stock"),
        Column("units_sold", gettext_lazy("Units sold"), num=True, sort="units_sold"),
        Column("revenue", gettext_lazy("Revenue"), num=True, sort="revenue"),
        Column("price", gettext_lazy("Price"), num=True),
        Column("category", gettext_lazy("Category"), default=False),
        Column("created", gettext_lazy("Added"), default=False, sort="newest"),
    ),
    filters=(
        Filter("q", gettext_lazy("Search"), kind="search", placeholder=gettext_lazy("Product name or SKU"), wide=True),
        Filter("category", gettext_lazy("Category"), kind="choice", choices=category_choices),
        Filter("low_stock", gettext_lazy("Stock"), kind="choice", choices=lambda: LOW_STOCK_CHOICES),
        Filter("sold_from", gettext_lazy("Sales from"), kind="date"),
        Filter("sold_to", gettext_lazy("Sales until"), kind="date"),
    ),
    sorts=(
        ("newest", gettext_lazy("Newest")),
        ("name", gettext_lazy("Name")),
        ("units_sold", gettext_lazy("Units sold")),
        ("revenue", gettext_lazy("Revenue")),
        ("stock", gettext_lazy("Lowest stock")),
    ),
    bulk=(BulkAction("export", gettext_lazy("Export selected (CSV)"), "exports", "read", _export),),
    empty=gettext_lazy("No products yet. Import your product catalogue or add products through the API."),
    empty_action=(gettext_lazy("Import products"), "imports:list"),
)
