"""enqueue_on_commit: a task runs after the commit that asked for it, never after a rollback, and takes ids only."""

import datetime as dt

import pytest
from django.db import transaction
from django_tasks import task

from kervan.core.models import Source
from kervan.core.queue import enqueue_on_commit

ran: list[tuple[object, ...]] = []


@task()
def remember(*ids: int | str) -> None:
    ran.append(ids)


@pytest.fixture(autouse=True)
def _forget():
    ran.clear()
    yield
    ran.clear()


@pytest.mark.django_db
def test_the_task_is_enqueued_when_the_transaction_commits_not_before(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        enqueue_on_commit(remember, 7, "order-9")
        assert ran == []
    assert len(callbacks) == 1
    assert ran == []
    callbacks[0]()
    assert ran == [(7, "order-9")]


@pytest.mark.django_db(transaction=True)
def test_a_committed_transaction_runs_the_task_once():
    with transaction.atomic():
        Source.objects.create(key="shop", name="Shop")
        enqueue_on_commit(remember, 1)
        assert ran == []
    assert ran == [(1,)]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_enqueues_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(remember, 1)
        raise RuntimeError("the write failed")
    assert ran == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_drops_its_task_but_not_the_outer_one():
    with transaction.atomic():
        enqueue_on_commit(remember, 1)
        with pytest.raises(RuntimeError), transaction.atomic():
            enqueue_on_commit(remember, 2)
            raise RuntimeError("the inner write failed")
    assert ran == [(1,)]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_task_is_enqueued_at_once():
    enqueue_on_commit(remember, 3)
    assert ran == [(3,)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad",
    [None, 1.5, True, {"id": 1}, [1], dt.date(2026, 1, 1), b"1"],
    ids=["none", "float", "bool", "dict", "list", "date", "bytes"],
)
def test_anything_but_ids_is_refused_at_the_call(bad, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(TypeError, match="ids"):
        enqueue_on_commit(remember, 1, bad)
    assert callbacks == []


@pytest.mark.django_db
def test_a_model_instance_is_refused_tasks_read_the_row_again(django_capture_on_commit_callbacks):
    source = Source.objects.create(key="shop", name="Shop")
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(TypeError, match="pk"):
        enqueue_on_commit(remember, source)
    assert callbacks == []


@pytest.mark.django_db
def test_a_plain_function_is_refused(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(TypeError, match="@task"):
        enqueue_on_commit(remember.func, 1)  # type: ignore[arg-type]
    assert callbacks == []
