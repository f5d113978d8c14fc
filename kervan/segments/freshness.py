"""Incremental freshness: customers touched by a change are re-evaluated in every dynamic segment by a worker, never
inside the request that changed them.

    segments_touch([customer_id, ...])   # from any writer (in its transaction): queue them
    segments_refresh_touched()           # the worker (task segments_refresh_touched_task, every few seconds)

The queue is SegmentTouch rows claimed with kervan.core.claim (several workers share it safely). Each batch runs the
set-based rebuild limited to those customers (actions.segment_rebuild(customer_ids=...)), so one order costs a few
indexed probes per segment, not a rebuild of everyone."""

import os
import socket

from django.db import transaction
from django.db.models import F

from kervan.core import claim, clock
from kervan.segments.actions import rebuild_order, segment_rebuild
from kervan.segments.models import Segment, SegmentTouch

BATCH = 1000


def segments_touch(customer_ids) -> None:
    ids = sorted({int(c) for c in customer_ids if c})
    if not ids:
        return
    now = clock.now()
    SegmentTouch.objects.bulk_create(
        [SegmentTouch(customer_id=c, touched_at=now, due_at=now) for c in ids], ignore_conflicts=True, batch_size=BATCH
    )
    SegmentTouch.objects.filter(customer_id__in=ids, touched_at__lt=now).update(touched_at=now, due_at=F("due_at"))


def segments_refresh_touched(*, worker: str | None = None, limit: int = BATCH) -> int:
    """Claim up to `limit` touched customers, re-evaluate them in every dynamic segment; returns how many."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    started = clock.now()
    rows = claim.claim_due(SegmentTouch.objects.all(), worker=worker, limit=limit)
    if not rows:
        return 0
    ids = [r.customer_id for r in rows]
    for segment in rebuild_order(list(Segment.objects.filter(kind=Segment.Kind.DYNAMIC))):
        segment_rebuild(segment=segment, customer_ids=ids)
    for row in rows:
        with transaction.atomic():
            # Touched again while we worked: keep it for the next pass; otherwise done.
            if not claim.held(row).filter(touched_at__lte=started).delete()[0]:
                claim.release(row, due_at=clock.now())
    return len(rows)
