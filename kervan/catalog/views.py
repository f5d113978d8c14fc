"""Catalogue pages: the product list (kervan.workspace.lists) with its CSV export, and one product's page: its
variants and stock, its sales, and what other apps add (recent orders containing it)."""

from django.conf import settings
from django.shortcuts import render

from kervan.accounts.decorators import require_access
from kervan.catalog import selectors
from kervan.catalog.lists import PRODUCT_LIST
from kervan.catalog.registry import product_panels
from kervan.core.errors import KervanError
from kervan.workspace.lists import export_list, read_state, render_list


def _period(values: dict) -> selectors.Period:
    try:
        return selectors.sales_period(values.get("sold_from", ""), values.get("sold_to", ""))
    except KervanError:
        return selectors.sales_period()


@require_access("catalog", "read")
def product_list(request):
    state = read_state(PRODUCT_LIST, request.GET)
    return render_list(
        request,
        PRODUCT_LIST,
        context={
            "period": _period(state.values),
            "reporting_currency": settings.KERVAN_REPORTING_CURRENCY,
            "low_stock_default": selectors.low_stock_default(),
        },
    )


@require_access("exports", "read")
def product_export(request):
    return export_list(request, PRODUCT_LIST)


@require_access("catalog", "read")
def product_detail(request, product_id: int):
    product = selectors.product_get(actor=request.actor, product_id=product_id)
    period = selectors.sales_period()
    days = selectors.product_sales_days(product=product, period=period)
    variants = list(product.variants.all())
    panels = [
        (panel, panel.context(request.actor, product))
        for panel in product_panels()
        if request.actor.can(panel.area, "read")
    ]
    return render(
        request,
        "catalog/product_detail.html",
        {
            "product": product,
            "variants": variants,
            "stock_total": sum(v.stock.quantity for v in variants if hasattr(v, "stock")),
            "low_stock_default": selectors.low_stock_default(),
            "period": period,
            "units_sold": sum(d.units for d in days),
            "revenue": sum((d.revenue for d in days), 0),
            "reporting_currency": settings.KERVAN_REPORTING_CURRENCY,
            "panels": panels,
        },
    )
