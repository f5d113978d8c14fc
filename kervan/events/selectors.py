"""Reads of the event store and of tracker sites."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kervan.core.errors import KervanError
from kervan.core.pagination import Page, paginate
from kervan.events.models import Event, TrackerSite


def events_list(
    *,
    customer_id: int | None = None,
    name: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet:
    """Events, newest first when paginated by `events_page`; `since` is inclusive, `until` exclusive."""
    for label, value in (("since", since), ("until", until)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise KervanError(
                _("%(label)s needs a UTC offset, e.g. 2026-05-01T00:00:00+03:00.") % {"label": label},
                "naive_datetime",
                status=422,
                field=label,
            )
    qs = Event.objects.select_related("source")
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if name:
        qs = qs.filter(name=name)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    return qs


def events_page(qs: QuerySet, *, cursor: str | None, limit: int) -> Page:
    try:
        return paginate(qs, order="-occurred_at", cursor=cursor, limit=limit)
    except (ValidationError, ValueError, TypeError, ArithmeticError):
        # A cursor that decodes but carries the wrong kinds of values.
        raise KervanError(_("The cursor is not valid; start again without it."), "invalid_cursor")


def tracker_site_for_key(public_key: str) -> TrackerSite | None:
    return TrackerSite.objects.filter(public_key=public_key, is_active=True).select_related("source").first()


def tracker_sites() -> QuerySet:
    return TrackerSite.objects.select_related("source").order_by("id")
