"""Helpers for import tests: files in memory (CSV in any encoding, XLSX), and running a job to the end."""

import io
import subprocess
import sys
from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from kervan.core.testing import other_session
from kervan.imports import liveness
from kervan.imports.actions import import_job_create
from kervan.imports.models import ImportJob


def csv_file(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8", name: str = "data.csv"):
    text = "\r\n".join(delimiter.join(_quote(c, delimiter) for c in row) for row in rows) + "\r\n"
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def _quote(cell: str, delimiter: str) -> str:
    if any(ch in cell for ch in (delimiter, '"', "\n")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def xlsx_file(rows: list[list], name: str = "data.xlsx"):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/vnd.ms-excel")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def run_import(admin_actor, django_capture_on_commit_callbacks):
    """run_import(kind, upload, mapping=None, mode="skip", actor=admin) → the job, after the background task ran."""

    def run(kind: str, upload, *, mapping: dict | None = None, mode: str = "skip", actor=None) -> ImportJob:
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job_create(actor=actor or admin_actor, kind=kind, upload=upload, mapping=mapping, mode=mode)
        job.refresh_from_db()
        return job

    return run


@contextmanager
def worker_running(job: ImportJob):
    """Make a stand-in worker the one running `job`, that is alive until the body calls the yielded stop()."""
    if connection.vendor == "postgresql":
        session = other_session()
        session.execute("SELECT pg_advisory_lock(%s, %s)", [liveness.LOCK_SPACE, job.pk])
        worker, stop = "elsewhere:1", session.close  # its host does not matter on PostgreSQL
    else:
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        worker = f"{liveness.worker_name().rpartition(':')[0]}:{process.pid}"

        def stop():
            process.kill()
            process.wait()  # reaped: no zombie left to look alive

    job.worker = worker
    ImportJob.objects.filter(pk=job.pk).update(worker=worker)
    try:
        yield stop
    finally:
        stop()
