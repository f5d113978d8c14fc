"""The segments app in the workspace: a chip per segment on the Customer 360, the customer list's "Add to a list"."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from kervan.core.errors import KervanError


def _chips(customer):
    from kervan.segments.selectors import customer_segments

    return {"customer_segments": customer_segments(customer_id=customer.pk)}


def _add_to_list(request, actor, ids: list[int], value: str) -> str:
    from kervan.segments.actions import segment_create, static_list_add
    from kervan.segments.models import Segment

    name = value.strip()
    if not name:
        raise KervanError(_("Name the list to add the customers to."), "invalid_name", field="value")
    segment = Segment.objects.filter(kind=Segment.Kind.STATIC, name=name).first()
    if segment is None:
        segment = segment_create(actor=actor, name=name, kind=Segment.Kind.STATIC)
    added = static_list_add(actor=actor, segment=segment, customer_ids=ids)
    return ngettext("%(count)s customer added to %(name)s.", "%(count)s customers added to %(name)s.", added) % {
        "count": added,
        "name": segment.name,
    }


def register() -> None:
    from kervan.customers.registry import Card, register_card
    from kervan.workspace.lists import BulkAction, register_bulk_action

    register_card(
        Card(name="segments", template="segments/_chips_card.html", area="segments", context=_chips, position=5)
    )
    register_bulk_action(
        "customers",
        BulkAction(
            "add_to_list",
            gettext_lazy("Add to a list"),
            "segments",
            "write",
            _add_to_list,
            needs_value=gettext_lazy("List name"),
        ),
    )
