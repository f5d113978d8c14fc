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
def segments_move_with_time() -> int:
    """Every 20 seconds: the customers who crossed the edge of a time window ("ordered in the last 30 days")."""
    from kervan.segments.freshness import segments_move_with_time

    return segments_move_with_time()


@task()
def segments_rebuild_all() -> int:
    """Every hour: every dynamic segment (a safety net behind the on-change rebuilds)."""
    from kervan.segments.actions import segments_rebuild_all

    return segments_rebuild_all()


@task()
def segments_refresh_touched_task() -> int:
    """Woken by a touch (and every few seconds as a safety net): re-evaluate the customers touched since the last
    pass (kervan.segments.freshness)."""
    from kervan.segments.freshness import segments_refresh_all_touched

    return segments_refresh_all_touched()
