"""Background work for flows: thin and idempotent."""

from django_tasks import task

from kervan.core.claim import worker_name

TICK_RUNS = 2_000  # due runs one tick executes at most (the next tick, seconds later, takes the rest)


@task()
def flows_tick_task() -> dict:
    """Read new events into the flows (entries, exits, conversions, wake-ups), then run the steps that are due."""
    from kervan.flows.engine import run_due
    from kervan.flows.triggers import read_events

    read = read_events()
    done: dict[str, int] = {}
    while sum(done.values()) < TICK_RUNS:
        outcome = run_due(worker=worker_name())
        if not outcome:
            break
        for key, n in outcome.items():
            done[key] = done.get(key, 0) + n
    return {"events": read, **done}


@task()
def flows_scan_task() -> dict:
    from kervan.flows.triggers import scan_all

    return scan_all()
