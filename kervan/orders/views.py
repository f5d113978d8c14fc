"""Order pages: one order's lines, payments, shipments, status timeline, returns and refunds, and the forms
that move it along (for roles that may write orders)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kervan.accounts.decorators import require_access
from kervan.core.web import form_action
from kervan.orders import actions, selectors
from kervan.orders.lists import ORDER_LIST
from kervan.orders.models import NEXT_STATUSES, OrderStatus, ReturnReason
from kervan.workspace.lists import export_list, render_list


@require_access("orders", "read")
def order_list(request):
    return render_list(request, ORDER_LIST)


@require_access("exports", "read")
def order_export(request):
    return export_list(request, ORDER_LIST)


@require_access("orders", "read")
def order_detail(request, order_id: int):
    order = selectors.order_get(actor=request.actor, order_id=order_id)
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "lines": order.lines.all(),
            "timeline": order.status_changes.select_related("actor"),
            "payments": order.payments.all(),
            "shipments": order.shipments.all(),
            "returns": order.returns.prefetch_related("lines__order_line"),
            "waiting_returns": order.returns.filter(waiting=True).order_by("-created_at"),
            "refunds": order.refunds.all(),
            "next_statuses": [
                (s, OrderStatus(s).label) for s in OrderStatus.values if s in NEXT_STATUSES[order.status]
            ],
            "reasons": ReturnReason.choices,
            "refundable": order.total - order.refunded_total,
        },
    )


@require_POST
@require_access("orders", "write")
def order_status(request, order_id: int):
    order = selectors.order_get(actor=request.actor, order_id=order_id)
    form_action(
        request,
        actions.order_set_status,
        order=order,
        **{name: request.POST.get(name, "") for name in ("status", "carrier", "tracking_number", "note")},
    )
    return redirect("orders:detail", order_id=order.pk)


@require_POST
@require_access("orders", "write")
def order_return(request, order_id: int):
    order = selectors.order_get(actor=request.actor, order_id=order_id)
    lines = []
    for line in order.lines.all():
        raw = request.POST.get(f"qty_{line.pk}", "").strip()
        if raw:
            if not raw.isdigit():
                messages.error(request, _("Quantities must be whole numbers."))
                return redirect("orders:detail", order_id=order.pk)
            if int(raw):
                lines.append({"order_line_id": line.pk, "quantity": int(raw)})
    form_action(
        request,
        actions.return_create,
        success=_("Return recorded."),
        order=order,
        lines=lines,
        reason=request.POST.get("reason", ""),
        note=request.POST.get("note", ""),
        restock=request.POST.get("restock") == "on",
    )
    return redirect("orders:detail", order_id=order.pk)


@require_POST
@require_access("orders", "write")
def order_refund(request, order_id: int):
    order = selectors.order_get(actor=request.actor, order_id=order_id)
    return_id = request.POST.get("return_id", "").strip()
    form_action(
        request,
        actions.refund_create,
        success=_("Refund recorded."),
        order=order,
        amount=request.POST.get("amount", ""),
        reason=request.POST.get("reason", "other"),
        note=request.POST.get("note", ""),
        # the return this refund settles (one of the order's own, or none)
        return_request=order.returns.filter(pk=int(return_id)).first() if return_id.isdigit() else None,
    )
    return redirect("orders:detail", order_id=order.pk)
