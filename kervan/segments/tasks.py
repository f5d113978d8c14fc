"""Background work for segments: thin and idempotent."""

from django_tasks import task


@task()
def segment_rebuild_task(segment_id: int) -> int:
    from kervan.segments.actions import segment_rebuild
    from kervan.segments.models import Segment

    segment = Segment.objects.filter(pk=segment_id, kind=Segment.Kind.DYNAMIC).first()
    if segment is None:
        return 0
    result = segment_rebuild(segment=segment)
    return len(result.entered) + len(result.exited)


@task()
def segments_rebuild_relative() -> int:
    """Every five minutes: the segments whose conditions move with time ("ordered in the last 30 days")."""
    from kervan.segments.actions import segments_rebuild_many

    return segments_rebuild_many(relative_only=True)


@task()
def segments_rebuild_all() -> int:
    """Every hour: every dynamic segment (a safety net behind the on-change rebuilds)."""
    from kervan.segments.actions import segments_rebuild_many

    return segments_rebuild_many(relative_only=False)


@task()
def segments_refresh_touched_task() -> int:
    """Every few seconds: re-evaluate the customers touched since the last pass (kervan.segments.freshness)."""
    from kervan.segments.freshness import segments_refresh_touched

    total = 0
    while True:
        done = segments_refresh_touched()
        total += done
        if not done:
            return total
