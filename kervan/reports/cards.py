"""The Today page's "Segment changes" card: customers who entered or left a segment today, across segments."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kervan.accounts.actors import Actor
from kervan.core.filters import day_start
from kervan.orders.daily_sales import shop_today
from kervan.workspace.today import TodayCard, bounded_count, register_today_card

TOP_SEGMENTS = 5


def _changes_today(kind: str, segment_ids: list[int]) -> QuerySet[Any]:
    from kervan.segments.models import SegmentChange

    # segment_id IN (…) lets each segment's (segment, at) index give its rows of today: no scan of the history.
    return SegmentChange.objects.filter(segment_id__in=segment_ids, kind=kind, at__gte=day_start(shop_today()))


def segment_changes_context(actor: Actor) -> dict[str, Any] | None:
    from kervan.segments.models import Segment, SegmentChange

    actor.require("segments", "read")
    segments = dict(Segment.objects.values_list("pk", "name"))
    if not segments:
        return None
    ids = list(segments)
    entered = bounded_count(_changes_today(SegmentChange.Kind.ENTERED, ids))
    exited = bounded_count(_changes_today(SegmentChange.Kind.EXITED, ids))
    top: list[dict[str, Any]] = []
    if entered or exited:
        per_segment: dict[int, dict[str, int]] = {}
        for segment_id in ids:
            counts = {
                kind: bounded_count(_changes_today(kind, [segment_id])).value
                for kind in (SegmentChange.Kind.ENTERED, SegmentChange.Kind.EXITED)
            }
            if any(counts.values()):
                per_segment[segment_id] = counts
        ranked = sorted(per_segment.items(), key=lambda item: (-sum(item[1].values()), item[0]))[:TOP_SEGMENTS]
        top = [
            {
                "name": segments[segment_id],
                "url": reverse("segments:detail", args=[segment_id]),
                "entered": counts[SegmentChange.Kind.ENTERED],
                "exited": counts[SegmentChange.Kind.EXITED],
            }
            for segment_id, counts in ranked
        ]
    return {"entered": entered, "exited": exited, "top": top, "url": reverse("segments:list")}


def register() -> None:
    register_today_card(
        TodayCard(
            "segment_changes",
            _("Segment changes"),
            area="segments",
            template="reports/today_segment_changes.html",
            context=segment_changes_context,
            position=65,
        )
    )
