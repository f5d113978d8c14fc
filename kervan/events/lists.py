"""The event stream as the workspace shows it (kervan.workspace.lists): newest first, filtered by name, customer,
property and time, with new events prepended while the page is open (kervan.events.views.event_list_live)."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.events import selectors
from kervan.events.labels import event_label
from kervan.events.models import Event
from kervan.workspace.lists import Column, Filter, ListSpec


def name_choices() -> list[tuple[str, str]]:
    """The canonical names and the names seen lately (a cached facet), by their label in the UI language."""
    return sorted(((name, event_label(name)) for name in selectors.event_names_seen()), key=lambda c: c[1].lower())


def event_query(actor: Actor, values: dict[str, str], sort: str) -> tuple[QuerySet[Event], str]:
    if sort != "newest":
        raise KervanError(_("Events are listed newest first only."), "invalid_sort", field="sort")
    return selectors.event_list(
        actor=actor, filters=selectors.EventListFilters(**{k: values.get(k, "") for k in FILTER_KEYS})
    )


FILTER_KEYS = ("name", "customer", "prop", "since", "until")
MOMENT_FORMAT = gettext_lazy("YYYY-MM-DD or YYYY-MM-DD HH:MM")

EVENT_LIST = ListSpec(
    key="events",
    title=gettext_lazy("Events"),
    area="events",
    url_name="events:list",
    query=event_query,
    row_template="events/_rows.html",
    template="events/list.html",
    columns=(
        Column("time", pgettext_lazy("events list", "Time")),
        Column("name", gettext_lazy("Event")),
        Column("customer", gettext_lazy("Customer")),
        Column("properties", pgettext_lazy("events list", "Details")),
        Column("source", gettext_lazy("Source")),
    ),
    filters=(
        Filter("name", gettext_lazy("Event"), kind="choice", choices=name_choices),
        Filter("customer", gettext_lazy("Customer"), placeholder=gettext_lazy("Customer number or email")),
        Filter("prop", pgettext_lazy("events list", "Property"), placeholder="product_id=131"),
        Filter("since", pgettext_lazy("events list", "From"), placeholder=MOMENT_FORMAT),
        Filter("until", pgettext_lazy("events list", "Until"), placeholder=MOMENT_FORMAT),
    ),
    sorts=(("newest", gettext_lazy("Newest first")),),
    empty=gettext_lazy(
        "No events yet. Add the tracker snippet to your storefront (or send events through the API) and they "
        "appear here as they happen."
    ),
    empty_action=(gettext_lazy("Install the tracker"), "events:tracker"),
)
