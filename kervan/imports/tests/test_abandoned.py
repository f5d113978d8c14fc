"""A job whose worker ended mid-run (killed, out of memory, a reboot) is failed when read, not left "checking" for
ever; a job whose worker is alive is left alone. The worker is real: a process on SQLite, a PostgreSQL session
holding the job's lock on PostgreSQL (what a running worker holds)."""

import pytest
from django.db import connection
from django.test import Client

from kervan.core.models import AuditLog
from kervan.core.testing import other_session
from kervan.imports import liveness
from kervan.imports.actions import import_job_run, import_job_start, import_job_upload
from kervan.imports.models import ImportJob, ImportStatus

from .conftest import csv_file, worker_running

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_job(admin_actor):
    upload = csv_file([["Ad", "E-posta"], ["Ayşe", "ayse@example.com"]])
    job = import_job_upload(actor=admin_actor, kind="customers", upload=upload)
    return import_job_start(actor=admin_actor, job=job)  # its task is never run: on_commit does not fire here


@pytest.fixture
def api_get(make_api_key):
    _, secret = make_api_key()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def get(path: str) -> dict:
        response = client.get(path)
        assert response.status_code == 200, response.content
        return response.json()

    return get


def test_a_job_whose_worker_ended_is_failed_when_read(queued_job, admin_client, api_get):
    client = admin_client
    api = f"/api/v1/imports/{queued_job.pk}"
    ImportJob.objects.filter(pk=queued_job.pk).update(status=ImportStatus.SAVING)
    with worker_running(queued_job) as stop:
        assert api_get(api)["status"] == "saving"
        assert client.get(f"/imports/{queued_job.pk}/").status_code == 200
        assert ImportJob.objects.get(pk=queued_job.pk).status == ImportStatus.SAVING  # alive: left alone
        stop()
        body = api_get(api)
    assert body["status"] == "failed"
    assert "process running it ended" in body["failure"]
    job = ImportJob.objects.get(pk=queued_job.pk)
    assert job.status == ImportStatus.FAILED and job.finished_at is not None
    # Read again (the list, the page): failed once, audited once.
    client.get("/imports/")
    client.get(f"/imports/{queued_job.pk}/")
    audits = AuditLog.objects.filter(action="import", object_id=str(queued_job.pk))
    assert [a.changes["status"] for a in audits] == ["failed"]


def test_the_list_fails_abandoned_jobs_too(queued_job, api_get):
    ImportJob.objects.filter(pk=queued_job.pk).update(status=ImportStatus.CHECKING)
    with worker_running(queued_job) as stop:
        stop()
        items = api_get("/api/v1/imports/")["items"]
    assert [(i["id"], i["status"]) for i in items] == [(queued_job.pk, "failed")]


def test_the_worker_records_itself_and_lets_go_of_the_job(queued_job):
    job = import_job_run(job_id=queued_job.pk)
    assert job.status == ImportStatus.DONE
    assert job.worker == liveness.worker_name()
    if connection.vendor == "postgresql":  # the lock went with the run: another session can take it
        with other_session() as session:
            row = session.execute("SELECT pg_try_advisory_lock(%s, %s)", [liveness.LOCK_SPACE, job.pk]).fetchone()
        assert row[0] is True


def test_a_job_another_worker_holds_is_not_run_again(queued_job):
    if connection.vendor != "postgresql":
        # SQLite has one worker machine: the claim (queued → checking) alone keeps a job from running twice.
        assert import_job_run(job_id=queued_job.pk).status == ImportStatus.DONE
        assert import_job_run(job_id=queued_job.pk) is None
        return
    with other_session() as session:
        session.execute("SELECT pg_advisory_lock(%s, %s)", [liveness.LOCK_SPACE, queued_job.pk])
        assert import_job_run(job_id=queued_job.pk) is None
    assert ImportJob.objects.get(pk=queued_job.pk).status == ImportStatus.QUEUED


@pytest.mark.django_db(transaction=True)  # the other session must see the job row
def test_a_worker_whose_job_was_failed_meanwhile_writes_nothing(admin_actor, monkeypatch):
    """A reader may take a live worker for dead (e.g. its lock lost with a dropped connection): the job it failed
    then never gets rows — the worker notices before writing, or its write rolls back."""
    from kervan.customers.models import Customer
    from kervan.imports.customers import CustomerImport

    upload = csv_file([["Ad", "E-posta"], ["Ayşe", "ayse@example.com"]])
    queued_job = import_job_upload(actor=admin_actor, kind="customers", upload=upload)
    # Queued without import_job_start, whose task would run at once here (on_commit fires in this test).
    ImportJob.objects.filter(pk=queued_job.pk).update(status=ImportStatus.QUEUED)

    def failed_by_a_reader():
        ImportJob.objects.filter(pk=queued_job.pk).update(status=ImportStatus.FAILED, failure="taken for dead")

    real_check = CustomerImport.check
    monkeypatch.setattr(CustomerImport, "check", lambda self: (real_check(self), failed_by_a_reader()))
    assert import_job_run(job_id=queued_job.pk).status == ImportStatus.FAILED
    assert Customer.objects.count() == 0

    if connection.vendor != "postgresql":
        return  # SQLite has one writer: no reader can change the job while the worker's write transaction is open
    monkeypatch.setattr(CustomerImport, "check", real_check)
    ImportJob.objects.filter(pk=queued_job.pk).update(status=ImportStatus.QUEUED, failure="")
    real_write = CustomerImport.write

    def write_then_failed_by_a_reader_elsewhere(self, first_ids):
        real_write(self, first_ids)
        with other_session() as session:  # another connection, committed at once, as a reader's request would be
            session.execute("UPDATE imports_importjob SET status = 'failed' WHERE id = %s", [queued_job.pk])

    monkeypatch.setattr(CustomerImport, "write", write_then_failed_by_a_reader_elsewhere)
    job = import_job_run(job_id=queued_job.pk)
    assert job.status == ImportStatus.FAILED
    assert Customer.objects.count() == 0  # the rows it wrote were rolled back
