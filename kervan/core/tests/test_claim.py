"""The claim helper for due rows: each due row goes to one worker at a time, a dead worker's rows are taken over
when its lease runs out, and a worker that lost its lease cannot finish the row. On PostgreSQL with real
concurrent sessions (threads, each with its own connection)."""

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections, models
from django.db.models import F
from django.test.utils import isolate_apps

from kervan.core import clock as core_clock
from kervan.core.claim import DEFAULT_LEASE, claim_due, extend, finish, held, held_all, release, release_all
from kervan.core.models import DueWork

pytestmark = pytest.mark.django_db(transaction=True)  # other sessions must see the rows; no migration has them

with isolate_apps("kervan.core"):  # a model for these tests only: not in the app registry, so no migration

    class Chore(DueWork):
        name = models.CharField(max_length=40)
        status = models.CharField(max_length=20, default="waiting")
        last_error = models.CharField(max_length=200, blank=True)

        class Meta:
            app_label = "core"
            db_table = "core_test_chore"


MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def chores(transactional_db) -> Iterator[type[Chore]]:
    with connection.schema_editor() as editor:
        editor.create_model(Chore)
    yield Chore
    connections.close_all()  # no thread's session may hold a lock on the table
    with connection.schema_editor() as editor:
        editor.delete_model(Chore)


def make(count: int, *, due: dt.datetime | None, prefix: str = "c") -> list[Chore]:
    return [Chore.objects.create(name=f"{prefix}{i}", due_at=due) for i in range(count)]


def in_threads(*work: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """Run each function in its own thread, so on its own database connection: all at once on PostgreSQL, one after
    the other on SQLite (threads sharing its in-memory test database fail with "table is locked" instead of
    waiting). Return their results in order, or raise the first error."""
    together = connection.vendor == "postgresql"
    start = threading.Barrier(len(work) if together else 1)
    results: list[Any] = [None] * len(work)
    errors: list[BaseException] = []

    def run(i: int, function: Callable[[], Any]) -> None:
        try:
            start.wait(10)
            results[i] = function()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(work)]
    for t in threads:
        t.start()
        if not together:
            t.join(timeout)
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    if errors:
        raise errors[0]
    return results


def test_due_rows_are_leased_earliest_first_up_to_the_limit(chores, clock):
    now = clock.now()
    later = Chore.objects.create(name="later", due_at=now - MINUTE)
    first = Chore.objects.create(name="first", due_at=now - 3 * MINUTE)
    second = Chore.objects.create(name="second", due_at=now - 2 * MINUTE)
    Chore.objects.create(name="future", due_at=now + MINUTE)
    Chore.objects.create(name="nothing due", due_at=None)

    claimed = claim_due(Chore, worker="w1", limit=2, lease=5 * MINUTE)

    assert [c.pk for c in claimed] == [first.pk, second.pk]
    for row in claimed:
        assert row.leased_by == "w1"
        assert row.leased_until == now + 5 * MINUTE
        assert row.attempts == 1
        assert row.lease_token is not None
    assert claimed[0].lease_token == claimed[1].lease_token  # one claim, one token
    later.refresh_from_db()
    assert later.leased_by == "" and later.leased_until is None and later.attempts == 0
    assert [c.name for c in claim_due(Chore, worker="w2")] == ["later"]
    assert claim_due(Chore, worker="w3") == []


def test_a_row_due_exactly_now_is_due(chores, clock):
    row = Chore.objects.create(name="now", due_at=clock.now())
    assert [c.pk for c in claim_due(Chore, worker="w1")] == [row.pk]


def test_a_leased_row_is_not_claimed_again_until_its_lease_runs_out(chores, clock):
    make(3, due=clock.now())
    assert len(claim_due(Chore, worker="w1", lease=5 * MINUTE)) == 3
    clock.advance(5 * MINUTE - dt.timedelta(microseconds=1))
    assert claim_due(Chore, worker="w2") == []
    clock.advance(dt.timedelta(microseconds=1))  # the lease's last moment has passed
    taken = claim_due(Chore, worker="w2", lease=5 * MINUTE)
    assert len(taken) == 3
    assert {(c.leased_by, c.attempts, c.leased_until) for c in taken} == {("w2", 2, clock.now() + 5 * MINUTE)}


def test_the_holder_finishes_a_row_which_is_then_no_longer_due(chores, clock):
    make(1, due=clock.now())
    [row] = claim_due(Chore, worker="w1")
    assert finish(row, status="done") is True
    assert (row.status, row.due_at, row.leased_by, row.leased_until, row.lease_token) == ("done", None, "", None, None)
    stored = Chore.objects.get(pk=row.pk)
    assert (stored.status, stored.due_at, stored.leased_by, stored.leased_until, stored.lease_token) == (
        "done",
        None,
        "",
        None,
        None,
    )
    assert stored.attempts == 1
    clock.advance(dt.timedelta(days=365))
    assert claim_due(Chore, worker="w2") == []


def test_a_worker_whose_lease_was_taken_over_cannot_finish_release_or_extend(chores, clock):
    make(1, due=clock.now())
    [stale] = claim_due(Chore, worker="w1", lease=MINUTE)
    clock.advance(2 * MINUTE)
    [current] = claim_due(Chore, worker="w2", lease=MINUTE)

    assert finish(stale, status="done") is False
    assert release(stale, due_at=clock.now() + MINUTE, last_error="w1 failed") is False
    assert extend(stale, lease=MINUTE) is False
    with pytest.raises(ValueError):
        held(Chore(name="never claimed"))
    assert held(stale).delete()[0] == 0
    stored = Chore.objects.get(pk=current.pk)
    assert (stored.status, stored.last_error, stored.leased_by, stored.attempts) == ("waiting", "", "w2", 2)
    assert stored.leased_until == current.leased_until

    assert finish(current, status="done") is True
    assert Chore.objects.get(pk=current.pk).status == "done"


def test_the_same_worker_name_claiming_again_does_not_revive_its_old_claim(chores, clock):
    """The lease token names one claim, not a worker: a restarted worker with the same name is another claim."""
    make(1, due=clock.now())
    [old] = claim_due(Chore, worker="host:1", lease=MINUTE)
    clock.advance(2 * MINUTE)
    [new] = claim_due(Chore, worker="host:1", lease=MINUTE)
    assert finish(old, status="old") is False
    assert finish(new, status="new") is True


def test_a_holder_whose_lease_ran_out_may_still_finish_while_nobody_took_over(chores, clock):
    make(1, due=clock.now())
    [row] = claim_due(Chore, worker="w1", lease=MINUTE)
    clock.advance(10 * MINUTE)
    assert finish(row, status="done") is True


def test_release_makes_the_row_due_again_at_the_retry_time(chores, clock):
    make(1, due=clock.now())
    [row] = claim_due(Chore, worker="w1")
    retry_at = clock.now() + 10 * MINUTE
    assert release(row, due_at=retry_at, last_error="HTTP 503") is True
    stored = Chore.objects.get(pk=row.pk)
    assert (stored.due_at, stored.leased_by, stored.leased_until, stored.last_error) == (retry_at, "", None, "HTTP 503")
    assert claim_due(Chore, worker="w2") == []
    clock.advance(10 * MINUTE)
    [again] = claim_due(Chore, worker="w2")
    assert again.attempts == 2  # counts claims, so a retry limit can read it


def test_release_without_a_time_gives_the_row_back_due_at_once(chores, clock):
    due = clock.now() - MINUTE
    make(1, due=due)
    [row] = claim_due(Chore, worker="w1", lease=dt.timedelta(hours=1))
    assert release(row) is True
    [again] = claim_due(Chore, worker="w2")
    assert again.due_at == due and again.leased_by == "w2"


def test_release_may_reset_attempts_for_the_next_step(chores, clock):
    make(1, due=clock.now())
    [row] = claim_due(Chore, worker="w1")
    assert release(row, due_at=clock.now() + MINUTE, attempts=0, status="step 2") is True
    assert Chore.objects.get(pk=row.pk).attempts == 0


def test_changes_may_be_expressions_and_the_row_shows_the_stored_value(chores, clock):
    make(1, due=clock.now())
    [row] = claim_due(Chore, worker="w1")
    assert finish(row, attempts=F("attempts") + 10) is True
    assert row.attempts == 11


def test_the_lease_fields_are_the_helpers_to_write(chores, clock):
    make(1, due=clock.now())
    [row] = claim_due(Chore, worker="w1")
    for field in ("leased_by", "leased_until", "lease_token", "due_at"):
        with pytest.raises(ValueError, match=field):
            finish(row, **{field: None})
    with pytest.raises(ValueError, match="time zone"):
        release(row, due_at=dt.datetime(2026, 1, 1, 10, 0))
    stored = Chore.objects.get(pk=row.pk)
    assert stored.leased_by == "w1" and stored.status == "waiting"


def test_extend_keeps_the_row_past_its_first_lease(chores, clock):
    make(1, due=clock.now())
    [row] = claim_due(Chore, worker="w1", lease=MINUTE)
    clock.advance(50 * dt.timedelta(seconds=1))
    assert extend(row, lease=5 * MINUTE) is True
    assert row.leased_until == clock.now() + 5 * MINUTE
    clock.advance(2 * MINUTE)  # past the first lease, within the extended one
    assert claim_due(Chore, worker="w2") == []
    assert finish(row, status="done") is True


def test_held_delete_removes_a_finished_row_only_for_its_holder(chores, clock):
    make(1, due=clock.now())
    [row] = claim_due(Chore, worker="w1")
    assert held(row).delete()[0] == 1
    assert not Chore.objects.exists()


def test_a_batch_is_deleted_or_released_only_where_its_claim_still_holds(chores, clock, django_assert_num_queries):
    make(3, due=clock.now())
    batch = claim_due(Chore, worker="w1", lease=MINUTE, limit=3)
    clock.advance(2 * MINUTE)
    [taken] = claim_due(Chore.objects.filter(pk=batch[0].pk), worker="w2", lease=MINUTE)  # w1's lease ran out
    assert held_all(batch).filter(pk=batch[1].pk).delete()[0] == 1
    with django_assert_num_queries(1):
        assert release_all(batch, due_at=clock.now() + MINUTE) == 1  # batch[2]; batch[0] is w2's now
    assert Chore.objects.get(pk=batch[2].pk).leased_by == ""
    assert Chore.objects.get(pk=batch[2].pk).due_at == clock.now() + MINUTE
    assert Chore.objects.get(pk=taken.pk).leased_by == "w2"
    with pytest.raises(ValueError):
        held_all([Chore(name="never claimed")])


def test_a_queryset_narrows_what_is_claimed(chores, clock):
    make(3, due=clock.now(), prefix="sms-")
    make(3, due=clock.now(), prefix="email-")
    claimed = claim_due(Chore.objects.filter(name__startswith="sms-"), worker="sms worker", limit=10)
    assert sorted(c.name for c in claimed) == ["sms-0", "sms-1", "sms-2"]
    assert Chore.objects.filter(name__startswith="email-", leased_by="").count() == 3


@pytest.mark.parametrize(
    "arguments",
    [
        {"worker": ""},
        {"worker": "w" * 101},
        {"worker": "w", "limit": 0},
        {"worker": "w", "lease": dt.timedelta(0)},
        {"worker": "w", "lease": -MINUTE},
    ],
)
def test_bad_arguments_are_refused_and_claim_nothing(chores, clock, arguments):
    make(1, due=clock.now())
    with pytest.raises(ValueError):
        claim_due(Chore, **arguments)
    assert Chore.objects.get().leased_by == ""


def test_the_default_lease(chores, clock):
    make(1, due=clock.now())
    [row] = claim_due(Chore, worker="w1")
    assert row.leased_until == clock.now() + DEFAULT_LEASE


# Concurrent workers, each on its own connection.


def _drain(worker: str, limit: int, work: float = 0) -> list[int]:
    """A worker loop: claim, work `work` seconds a row, finish, until nothing is due; the ids of the rows it claimed."""
    mine: list[int] = []
    while claimed := claim_due(Chore, worker=worker, limit=limit):
        for row in claimed:
            mine.append(row.pk)
            time.sleep(work)
            assert finish(row, status=f"done by {worker}")
    return mine


def test_concurrent_workers_never_claim_the_same_row(chores, clock):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the race between workers exists on PostgreSQL only")
    rows = make(300, due=clock.now() - MINUTE)
    results = in_threads(*[lambda w=f"w{i}": _drain(w, limit=7) for i in range(8)])

    everything = [pk for mine in results for pk in mine]
    assert Counter(everything).most_common(1)[0][1] == 1  # no row twice
    assert sorted(everything) == sorted(r.pk for r in rows)  # and none left behind
    assert sum(1 for mine in results if mine) > 1  # the workers really shared the work
    assert set(Chore.objects.values_list("attempts", flat=True)) == {1}
    for worker, mine in enumerate(results):
        assert set(Chore.objects.filter(pk__in=mine).values_list("status", flat=True)) <= {f"done by w{worker}"}


def test_the_update_takes_only_rows_still_free_when_another_claim_came_between(chores, clock):
    """The compare-and-set: a claim that chose its rows, then lost them to another claim before its UPDATE (possible
    on SQLite in a deferred transaction), takes none of them and returns only what it really got."""
    make(4, due=clock.now() - MINUTE)
    stolen: list[Chore] = []
    came_between = threading.Event()

    def another_claim_first(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.startswith("UPDATE") and not came_between.is_set():
            came_between.set()
            stolen.extend(claim_due(Chore, worker="quicker", limit=3))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(another_claim_first):
        got = claim_due(Chore, worker="slower", limit=3)
    assert len(stolen) == 3
    assert got == []
    assert Counter(Chore.objects.values_list("leased_by", flat=True)) == {"quicker": 3, "": 1}
    assert set(Chore.objects.values_list("attempts", flat=True)) == {0, 1}


WORKER_PROCESS = """
import os, sys, time, json
import django
django.setup()
from kervan.core.tests.test_claim import _drain
print("ready", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.005)
print(json.dumps(_drain(sys.argv[1], limit=3, work=0.001)), flush=True)
"""


def test_worker_processes_share_the_rows_of_a_sqlite_file(tmp_path):
    """SQLite as installed: a database file, worker processes, IMMEDIATE transactions. (The test database in memory
    cannot be shared by processes, and threads sharing it get "table is locked" instead of waiting.)"""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's concurrent workers are tested with threads above")
    rows = 120
    database = tmp_path / "work.sqlite3"
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        editor.create_model(Chore)
    due = connection.ops.adapt_datetimefield_value(dt.datetime.now(dt.UTC) - MINUTE)
    with closing(sqlite3.connect(database)) as db, db:
        db.executescript(";\n".join(editor.collected_sql))
        db.executemany(
            "INSERT INTO core_test_chore (name, due_at, leased_by, status, last_error, attempts) "
            "VALUES (?, ?, '', 'waiting', '', 0)",
            [(f"c{i}", due) for i in range(rows)],
        )
    go = tmp_path / "go"
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    run = {"cwd": settings.BASE_DIR, "env": environment, "text": True}
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER_PROCESS, f"p{i}", str(go)], stdout=subprocess.PIPE, **run)
        for i in range(3)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        go.touch()  # all at once
        results = [json.loads(worker.communicate(timeout=60)[0]) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert [worker.returncode for worker in workers] == [0] * 3
    everything = [pk for mine in results for pk in mine]
    assert len(everything) == len(set(everything)) == rows
    assert sum(1 for mine in results if mine) > 1  # the processes really shared the work
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT DISTINCT attempts, status LIKE 'done by p%' FROM core_test_chore").fetchall() == [
            (1, 1)
        ]


def test_rows_locked_by_another_session_are_skipped_not_waited_for(chores, clock):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and SKIP LOCKED are PostgreSQL's")
    from kervan.core.testing import other_session

    rows = make(6, due=clock.now() - MINUTE)
    locked = [r.pk for r in rows[:3]]
    with other_session(autocommit=False) as other:
        # Another worker in the middle of its claim: it holds these rows' locks until its transaction ends.
        other.execute("SELECT id FROM core_test_chore WHERE id = ANY(%s) FOR UPDATE", [locked])
        with connection.cursor() as cursor:  # if the claim waited, fail after 3 s rather than hang
            cursor.execute("SET lock_timeout = '3s'")
        started = time.monotonic()
        claimed = claim_due(Chore, worker="w1", limit=10)
        waited = time.monotonic() - started
        other.rollback()
    assert sorted(c.pk for c in claimed) == sorted(r.pk for r in rows[3:])
    assert waited < 1
    assert sorted(c.pk for c in claim_due(Chore, worker="w2", limit=10)) == locked


def test_a_dead_workers_rows_are_taken_over_by_another_session_when_its_lease_ends(chores, clock):
    make(20, due=clock.now() - MINUTE)
    [dead_claim] = in_threads(lambda: claim_due(Chore, worker="dead", limit=20, lease=5 * MINUTE))
    assert len(dead_claim) == 20  # ...and the worker dies holding them

    [before_expiry] = in_threads(lambda: claim_due(Chore, worker="alive", limit=20))
    assert before_expiry == []
    clock.advance(5 * MINUTE)
    first, second = in_threads(
        lambda: claim_due(Chore, worker="alive-1", limit=20), lambda: claim_due(Chore, worker="alive-2", limit=20)
    )
    taken = [row.pk for row in first + second]
    assert sorted(taken) == sorted(row.pk for row in dead_claim)  # each row once, by one of them
    assert set(Chore.objects.values_list("attempts", flat=True)) == {2}

    # The dead worker comes back (it was only paused): it finishes nothing, the new holders everything.
    [finished_by_dead] = in_threads(lambda: [finish(row, status="dead") for row in dead_claim])
    assert finished_by_dead == [False] * 20
    [finished] = in_threads(lambda: [finish(row, status="done") for row in first + second])
    assert finished == [True] * 20
    assert set(Chore.objects.values_list("status", flat=True)) == {"done"}


def test_a_stale_finish_racing_a_takeover_lets_exactly_one_win(chores, clock):
    """The old holder finishes while a new worker claims the expired rows, at the same moment: each row is either
    finished by the old holder or claimed by the new worker, never both, never neither."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the race exists on PostgreSQL only")
    make(200, due=clock.now() - MINUTE)
    stale = claim_due(Chore, worker="old", limit=200, lease=MINUTE)
    clock.advance(2 * MINUTE)

    def old_finishes() -> set[int]:
        return {row.pk for row in stale if finish(row, status="done by old")}

    def new_claims() -> set[int]:
        taken: set[int] = set()
        while claimed := claim_due(Chore, worker="new", limit=5):
            taken.update(row.pk for row in claimed)
        return taken

    finished_by_old, claimed_by_new = in_threads(old_finishes, new_claims)
    assert not finished_by_old & claimed_by_new
    assert finished_by_old | claimed_by_new == {row.pk for row in stale}
    for pk in claimed_by_new:
        assert Chore.objects.get(pk=pk).leased_by == "new"
    assert Chore.objects.filter(status="done by old").count() == len(finished_by_old)


def test_the_clock_decides_what_is_due(chores):
    noon = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    Chore.objects.create(name="at noon", due_at=noon)
    with core_clock.frozen(noon - dt.timedelta(seconds=1)):
        assert claim_due(Chore, worker="w1") == []
    with core_clock.frozen(noon):
        assert [c.name for c in claim_due(Chore, worker="w1")] == ["at noon"]
