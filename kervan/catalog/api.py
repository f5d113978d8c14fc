import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status

from kervan.catalog import actions, selectors
from kervan.catalog.lists import product_filters
from kervan.catalog.models import Category, Product, StockMovement, Variant
from kervan.core.api import ERRORS, STORABLE, Id, InputSchema
from kervan.core.errors import NotFound
from kervan.core.money import CENT
from kervan.core.pagination import paginate

router = Router(tags=["catalog"])


class VariantIn(InputSchema):
    sku: str = Field(..., min_length=1, max_length=64)
    title: str = Field("", max_length=255)
    price: Decimal = Field(..., ge=0, max_digits=14, decimal_places=2)
    compare_at_price: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    currency: str = "TRY"
    stock: int = Field(0, ge=0, le=10_000_000)
    barcode: str = Field("", max_length=64)


class ProductIn(InputSchema):
    title: str = Field(..., min_length=1, max_length=255)
    description: str = Field("", max_length=20_000)
    brand: str = Field("", max_length=120)
    category_id: int | None = None
    variants: list[VariantIn] = Field(..., min_length=1, max_length=200)


class VariantOut(Schema):
    id: int
    sku: str
    title: str
    price: Decimal
    compare_at_price: Decimal | None
    currency: str
    stock: int

    @staticmethod
    def resolve_stock(variant):
        return variant.stock.quantity if hasattr(variant, "stock") else 0


class ProductOut(Schema):
    id: int
    title: str
    brand: str
    category_id: int | None
    is_active: bool
    variants: list[VariantOut]


class ProductPage(Schema):
    items: list[ProductOut]
    next_cursor: str | None


class CategoryIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=120)
    parent_id: int | None = None


class CategoryOut(Schema):
    id: int
    name: str
    slug: str
    parent_id: int | None


class StockIn(InputSchema):
    delta: int = Field(..., ge=-10_000_000, le=10_000_000)
    reason: str = "adjustment"
    reference: str = Field("", max_length=100)


class StockMovementOut(Schema):
    delta: int
    quantity_after: int
    reason: str
    reference: str
    occurred_at: dt.datetime


def _category(category_id: int | None) -> Category | None:
    if category_id is None:
        return None
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise NotFound(
            _("Category %(category_id)s does not exist.") % {"category_id": category_id}, "category_not_found"
        )
    return category


def _variant(sku: str) -> Variant:
    variant = Variant.objects.filter(sku=sku).first()
    if variant is None:
        raise NotFound(_("No variant with SKU '%(sku)s'.") % {"sku": sku}, "variant_not_found")
    return variant


class ProductListOut(ProductOut):
    stock_total: int
    units_sold: int
    revenue: Decimal  # in the page's currency (the reporting currency), over sold_from..sold_to

    @staticmethod
    def resolve_revenue(product):
        return Decimal(product.revenue).quantize(CENT)


class ProductListPage(Schema):
    items: list[ProductListOut]
    next_cursor: str | None
    sold_from: dt.date
    sold_to: dt.date
    currency: str


class ProductQuery(Schema):
    """The product list's filters, with the names and values of the list page (kervan/catalog/lists.py)."""

    q: str = Field("", max_length=200, description="Words of the name (Turkish-folded), or a SKU (or its start).")
    category: str = Field("", description="A category id (its sub-categories included).")
    category_id: Id | None = None
    low_stock: str = Field("", description="yes: a variant at or below its low-stock threshold; no: none.")
    sold_from: str = Field("", description="YYYY-MM-DD: the period of units_sold and revenue (default: 30 days).")
    sold_to: str = ""
    sort: str = Field("newest", description="newest, name, units_sold, revenue or stock (lowest first).")
    cursor: str | None = None
    limit: int = 50


@router.get("/products", response={200: ProductListPage, **ERRORS})
def list_products(request, query: Query[ProductQuery]):
    """Products with their variants' stock, and units sold and revenue (reporting currency) over a period."""
    request.auth.require("catalog", "read")
    filters = product_filters(query.dict(exclude={"cursor", "limit", "sort", "category_id"}), query.sort)
    filters.category = filters.category or (str(query.category_id) if query.category_id else "")
    qs, order = selectors.product_list(actor=request.auth, filters=filters)
    page = paginate(selectors.with_variants(qs), order=order, cursor=query.cursor, limit=query.limit)
    period = selectors.sales_period(filters.sold_from, filters.sold_to)
    return {
        "items": page.items,
        "next_cursor": page.next_cursor,
        "sold_from": period.first,
        "sold_to": period.last,
        "currency": settings.KERVAN_REPORTING_CURRENCY,
    }


@router.post("/products", response={201: ProductOut, **ERRORS})
def create_product(request, payload: ProductIn):
    request.auth.require("catalog", "write")
    data = payload.dict()
    product = actions.product_create(actor=request.auth, category=_category(data.pop("category_id")), **data)
    return Status(201, Product.objects.prefetch_related("variants__stock").get(pk=product.pk))


@router.get("/products/{int:product_id}", response={200: ProductOut, **ERRORS})
def get_product(request, product_id: int):
    request.auth.require("catalog", "read")
    product = Product.objects.prefetch_related("variants__stock").filter(pk=product_id).first()
    if product is None:
        raise NotFound(_("Product %(product_id)s does not exist.") % {"product_id": product_id}, "product_not_found")
    return product


@router.post("/variants/{sku}/stock", response={200: VariantOut, **ERRORS})
def adjust_stock(request, payload: StockIn, sku: str = Path(..., pattern=STORABLE)):
    request.auth.require("catalog", "write")
    variant = _variant(sku)
    actions.stock_adjust(actor=request.auth, variant=variant, **payload.dict())
    return Variant.objects.select_related("stock").get(pk=variant.pk)


@router.get("/variants/{sku}/stock-history", response={200: list[StockMovementOut], **ERRORS})
def stock_history(request, sku: str = Path(..., pattern=STORABLE)):
    request.auth.require("catalog", "read")
    return list(StockMovement.objects.filter(variant=_variant(sku)).order_by("-occurred_at", "-id")[:200])


@router.get("/categories", response={200: list[CategoryOut], **ERRORS})
def list_categories(request):
    request.auth.require("catalog", "read")
    return list(Category.objects.all())


@router.post("/categories", response={201: CategoryOut, **ERRORS})
def create_category(request, payload: CategoryIn):
    request.auth.require("catalog", "write")
    return Status(
        201, actions.category_create(actor=request.auth, name=payload.name, parent=_category(payload.parent_id))
    )
