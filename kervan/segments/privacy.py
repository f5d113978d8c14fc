"""Segments in a privacy request (kervan.customers.privacy): the segments the person is in and when they entered or
left them. Nothing to erase: a membership names no one, and it follows the (emptied) profile as segments
re-evaluate it."""

from typing import Any

from kervan.customers.registry import PrivacyHandler, PrivacySubject
from kervan.segments.models import SegmentChange, SegmentMembership


def export(subject: PrivacySubject) -> dict[str, Any]:
    ids = subject.customer_ids
    return {
        "segments": list(
            SegmentMembership.objects.filter(customer_id__in=ids).order_by("id").values("segment__name", "entered_at")
        ),
        "segment_changes": list(
            SegmentChange.objects.filter(customer_id__in=ids).order_by("at", "id").values("segment__name", "kind", "at")
        ),
    }


def anonymise(subject: PrivacySubject) -> list[str]:
    return []


HANDLER = PrivacyHandler(
    name="segments",
    export=export,
    anonymise=anonymise,
    models=("segments.SegmentMembership", "segments.SegmentChange", "segments.SegmentTouch"),
)
