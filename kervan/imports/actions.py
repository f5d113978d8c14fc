"""Import jobs: upload a file (draft), choose the column mapping (queued), run it in the background (done).

A run checks every row first, then writes in one transaction: in "refuse" mode a single bad row means nothing is
written; in "skip" mode exactly the good rows are; a crash leaves nothing behind. Each job writes one audit row.
"""

import gc
import logging
import secrets
import time
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.errors import Conflict, KervanError
from kervan.core.queue import enqueue_on_commit
from kervan.customers.cache import everything_changed
from kervan.imports import bulk, liveness, report_text
from kervan.imports.base import Progress, Report
from kervan.imports.fields import FIELDS, check_mapping, guess_mapping
from kervan.imports.models import ImportJob, ImportKind, ImportMode, ImportRowError, ImportStatus
from kervan.imports.reading import open_table

logger = logging.getLogger("kervan.imports")

# An import writes into these domains, so the actor needs write access to them as well as to imports.
KIND_DOMAINS = {
    ImportKind.CUSTOMERS: ("customers",),
    ImportKind.PRODUCTS: ("catalog",),
    ImportKind.ORDERS: ("orders", "customers"),
}
_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx"}
RUNNING = (ImportStatus.CHECKING, ImportStatus.SAVING)


def require_import_access(actor: Actor, kind: str) -> None:
    if kind not in FIELDS:
        raise KervanError(
            _("kind must be one of: %(choices)s.") % {"choices": ", ".join(FIELDS)}, "invalid_kind", field="kind"
        )
    actor.require("imports", "write")
    for domain in KIND_DOMAINS[kind]:
        actor.require(domain, "write")


def import_job_upload(*, actor: Actor, kind: str, upload) -> ImportJob:
    """Keep an uploaded file as a draft job: its header is read and a column mapping guessed from it."""
    require_import_access(actor, kind)
    if upload is None or not upload.size:
        raise KervanError(_("The file is empty."), "empty_file", field="file")
    name = Path(upload.name or "upload").name[:255]
    suffix = Path(name).suffix.lower()
    job = ImportJob(
        kind=kind,
        token=secrets.token_hex(16),
        file_name=name,
        created_by=actor.user,
        created_by_api_key=actor.api_key,
    )
    job.file.save(f"upload{suffix if suffix in _SUFFIXES else ''}", upload, save=False)
    try:
        if not job.file:
            raise KervanError(_("The uploaded file is no longer there; upload it again."), "missing_file")
        table = open_table(job.file.path, preview_rows=1)
        if not table.preview:
            raise KervanError(_("The file has no rows under its header."), "empty_file", field="file")
        job.file_format = table.file_format
        job.encoding = table.encoding
        job.delimiter = table.delimiter
        job.columns = table.columns
        job.total_rows = table.estimated_rows
        job.mapping = guess_mapping(kind, table.columns)
        job.save()
    except BaseException:
        job.file.delete(save=False)
        raise
    return job


@transaction.atomic
def import_job_start(
    *, actor: Actor, job: ImportJob, mapping: dict | None = None, mode: str = ImportMode.SKIP
) -> ImportJob:
    """Fix the mapping (None: keep the guessed one) and the bad-row policy, and queue the job."""
    from kervan.imports.tasks import import_job_process

    require_import_access(actor, job.kind)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.DRAFT:
        raise Conflict(_("This import has already been started."), "already_started")
    if mode not in ImportMode.values:
        raise KervanError(
            _("mode must be one of: %(choices)s.") % {"choices": ", ".join(ImportMode.values)},
            "invalid_mode",
            field="mode",
        )
    job.mapping = check_mapping(job.kind, job.columns, job.mapping if mapping is None else mapping)
    job.mode = mode
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["mapping", "mode", "status"])
    enqueue_on_commit(import_job_process, job.pk)
    return job


def import_job_create(
    *, actor: Actor, kind: str, upload, mapping: dict | None = None, mode: str = ImportMode.SKIP
) -> ImportJob:
    """Upload and start in one step (the API): a bad mapping or mode leaves no job behind."""
    with transaction.atomic():
        job = import_job_upload(actor=actor, kind=kind, upload=upload)
        try:
            return import_job_start(actor=actor, job=job, mapping=mapping, mode=mode)
        except BaseException:
            job.file.delete(save=False)
            raise


def job_actor(job: ImportJob) -> Actor:
    if job.created_by_id:
        return Actor.for_user(job.created_by)
    if job.created_by_api_key_id:
        return Actor.for_api_key(job.created_by_api_key)
    return Actor.system()


def _importer_class(kind: str):
    if kind == ImportKind.CUSTOMERS:
        from kervan.imports.customers import CustomerImport

        return CustomerImport
    if kind == ImportKind.PRODUCTS:
        from kervan.imports.products import ProductImport

        return ProductImport
    from kervan.imports.orders import OrderImport

    return OrderImport


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued job to the end. A job that is not queued (running, done, refused, failed) is left alone,
    so running the task twice does nothing the second time."""
    # A big file makes millions of small objects that live to the end of the job; Python's cycle collector would
    # scan them again and again (+28% checking time at 300,000 rows, growing with the file). Nothing here makes
    # cycles worth collecting.
    collecting = gc.isenabled()
    gc.disable()
    try:
        # The report's reasons are stored text, read later by anyone in their own language: store them as the
        # catalogue's English message ids filled in, which kervan.imports.report_text translates when shown.
        with report_text.stored_language(), liveness.running(job_id) as mine:
            return _run(job_id) if mine else None
    finally:
        if collecting:
            gc.enable()


def _run(job_id: int) -> ImportJob | None:
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.CHECKING, started_at=clock.now(), processed_rows=0, worker=liveness.worker_name()
    )
    if not claimed:
        return None
    job = ImportJob.objects.select_related("created_by", "created_by_api_key").get(pk=job_id)
    actor = job_actor(job)
    report = Report()
    started = time.perf_counter()
    timings = {}
    try:
        if not job.file:
            raise KervanError(_("The uploaded file is no longer there; upload it again."), "missing_file")
        table = open_table(job.file.path, preview_rows=0)
        importer = _importer_class(job.kind)(job=job, table=table, actor=actor, progress=Progress(job), report=report)
        importer.check()
        timings["check_seconds"] = round(time.perf_counter() - started, 3)
        rows = importer.rows_seen
        refused = job.mode == ImportMode.REFUSE and report.error_count
        if not refused:
            if not ImportJob.objects.filter(pk=job.pk, status=ImportStatus.CHECKING).update(status=ImportStatus.SAVING):
                raise _Abandoned
            try:
                with bulk.write_transaction(importer.reserve()) as first_ids:
                    importer.write(first_ids)
                    everything_changed()  # an import may touch any number of profiles
                    if job.mode == ImportMode.REFUSE and report.error_count:
                        raise _Refused  # a row failed while writing: undo everything
                    _finish(job, actor, report, rows, ImportStatus.DONE)
                    committing = time.perf_counter()
                timings["commit_seconds"] = round(time.perf_counter() - committing, 3)
            except _Refused:
                refused = True
        if refused:
            with transaction.atomic():
                _finish(job, actor, report, rows, ImportStatus.REFUSED)
        timings["total_seconds"] = round(time.perf_counter() - started, 3)
        logger.info("imports.job_finished", extra={"job_id": job_id, "rows": rows, **importer.timings, **timings})
    except _Abandoned:
        # A reader took this job's worker for dead and failed it (see import_job_fail_if_abandoned): its rows were
        # not committed, and the job stays as that reader left it.
        logger.warning("imports.job_abandoned_while_running", extra={"job_id": job_id})
    except KervanError as exc:
        _fail(job, actor, exc.detail)
    except Exception:
        logger.exception("imports.job_failed", extra={"job_id": job_id})
        _fail(job, actor, _("Something went wrong while importing; it has been logged. Nothing was imported."))
    job.refresh_from_db()
    job.timings = timings  # for callers that want them
    return job


class _Refused(Exception):
    pass


class _Abandoned(Exception):
    """The job is no longer this worker's: it was failed while it ran."""


def _finish(job: ImportJob, actor: Actor, report: Report, rows: int, status: str) -> None:
    if status == ImportStatus.REFUSED:
        counts = {"imported": 0, "updated": 0, "unchanged": 0, "skipped": report.skipped}
    else:
        counts = {
            "imported": report.imported,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "skipped": report.skipped,
        }
    ImportRowError.objects.bulk_create(
        (
            ImportRowError(job_id=job.pk, row=r, column=c[:255], value=v, reason=reason, code=code[:40])
            for r, c, v, reason, code in report.errors
        ),
        batch_size=2000,
    )
    file_name = job.file.name
    # Only a job still running is finished: one already failed by a reader stays failed, and raising here rolls
    # back the rows written with it, so a failed job never has rows.
    finished = ImportJob.objects.filter(pk=job.pk, status__in=RUNNING).update(
        status=status,
        total_rows=rows,
        processed_rows=rows,
        error_count=report.error_count,
        finished_at=clock.now(),
        file="",
        **counts,
    )
    if not finished:
        raise _Abandoned
    audit(
        actor=actor,
        action="import",
        obj=job,
        changes={
            "kind": job.kind,
            "file": job.file_name,
            "status": status,
            "rows": rows,
            "errors": report.error_count,
            **counts,
        },
    )
    if file_name:  # the upload holds customer data: it is not kept once its rows are in (or refused)
        storage = job.file.storage
        transaction.on_commit(lambda: storage.delete(file_name))


def import_job_fail_if_abandoned(job: ImportJob) -> ImportJob:
    """Fail a job left checking or saving by a worker that has ended (killed, out of memory, a reboot). Nothing of
    it was written: its writes are one transaction, which ended with the worker. Called wherever a job is read."""
    if job.status not in RUNNING or not liveness.worker_gone(job.pk, job.worker):
        return job
    with report_text.stored_language():
        reason = _("The import stopped before it finished: the process running it ended. Nothing was imported.")
        _fail(job, job_actor(job), reason, only_if=RUNNING)
    job.refresh_from_db()
    return job


def _fail(job: ImportJob, actor: Actor, reason: str, only_if: tuple[str, ...] = ()) -> None:
    with transaction.atomic():
        jobs = ImportJob.objects.filter(pk=job.pk)
        if only_if:
            jobs = jobs.filter(status__in=only_if)
        if not jobs.update(status=ImportStatus.FAILED, failure=reason, finished_at=clock.now()):
            return  # it finished meanwhile
        audit(
            actor=actor,
            action="import",
            obj=job,
            changes={"kind": job.kind, "file": job.file_name, "status": ImportStatus.FAILED, "failure": reason},
        )
