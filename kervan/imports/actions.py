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
from kervan.imports.file_settings import clean_settings, suggest_status
from kervan.imports.models import ImportJob, ImportKind, ImportMode, ImportProfile, ImportRowError, ImportStatus
from kervan.imports.presets import preset_for, preset_get
from kervan.imports.reading import column_facts, open_table
from kervan.imports.sources import import_source

logger = logging.getLogger("kervan.imports")

# An import writes into these domains, so the actor needs write access to them as well as to imports.
KIND_DOMAINS = {
    ImportKind.CUSTOMERS: ("customers",),
    ImportKind.PRODUCTS: ("catalog",),
    ImportKind.ORDERS: ("orders", "customers"),
    ImportKind.RELATED: ("orders", "customers"),
}
_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".zip"}
RUNNING = (ImportStatus.CHECKING, ImportStatus.SAVING)


def require_import_access(actor: Actor, kind: str) -> None:
    if kind not in FIELDS:
        raise KervanError(
            _("kind must be one of: %(choices)s.") % {"choices": ", ".join(FIELDS)}, "invalid_kind", field="kind"
        )
    actor.require("imports", "write")
    for domain in KIND_DOMAINS[kind]:
        actor.require(domain, "write")


def import_job_upload(*, actor: Actor, kind: str, upload, source=None, preset: str = "") -> ImportJob:
    """Keep an uploaded file as a draft job: its header is read, the file looked at once (the distinct values of
    its short columns, its date order and decimal separator) and a column mapping guessed from it: the source's
    saved mapping if it was made for the same columns, else a preset's (the one named, or one that recognises the
    header), else one guessed from the headers. `source`: the store the file comes from (a Source, or None for the
    generic file-import source)."""
    require_import_access(actor, kind)
    shown_name = ""
    if kind == ImportKind.RELATED:
        # Several files (or one zip) of customers, orders, items, payments and reviews: kept as one zip.
        from kervan.imports.related import bundle

        upload, shown_name = bundle(upload)
        upload.name = "upload.zip"
    elif isinstance(upload, (list, tuple)):
        if len(upload) > 1:
            raise KervanError(
                _("Upload one file for this kind of import (several related files: choose related files)."),
                "too_many_files",
                field="file",
            )
        upload = upload[0] if upload else None
    if upload is None or not upload.size:
        raise KervanError(_("The file is empty."), "empty_file", field="file")
    chosen = None
    if preset:
        chosen = preset_get(preset)
        if chosen is None or chosen.kind != kind:
            raise KervanError(
                _("'%(value)s' is not a preset for this kind of import.") % {"value": preset},
                "unknown_preset",
                field="preset",
            )
    name = shown_name if kind == ImportKind.RELATED else Path(upload.name or "upload").name[:255]
    suffix = ".zip" if kind == ImportKind.RELATED else Path(name).suffix.lower()
    job = ImportJob(
        kind=kind,
        token=secrets.token_hex(16),
        file_name=name,
        created_by=actor.user,
        created_by_api_key=actor.api_key,
        source=source or import_source(),
    )
    job.file.save(f"upload{suffix if suffix in _SUFFIXES else ''}", upload, save=False)
    try:
        if not job.file:
            raise KervanError(_("The uploaded file is no longer there; upload it again."), "missing_file")
        if kind == ImportKind.RELATED:
            from kervan.imports.related import upload_learn

            upload_learn(job, chosen)
            job.save()
            return job
        table = open_table(job.file.path, preview_rows=1)
        if not table.preview:
            raise KervanError(_("The file has no rows under its header."), "empty_file", field="file")
        job.file_format = table.file_format
        job.encoding = table.encoding
        job.delimiter = table.delimiter
        job.columns = table.columns
        job.total_rows = table.estimated_rows
        _first_mapping(job, chosen, table)
        job.save()
    except BaseException:
        job.file.delete(save=False)
        raise
    return job


def _first_mapping(job: ImportJob, chosen, table) -> None:
    """The mapping and settings a new draft starts with (see import_job_upload)."""
    saved = ImportProfile.objects.filter(source=job.source, kind=job.kind).first()
    if chosen is None and saved is not None and saved.columns == job.columns:
        job.mapping = {c: f for c, f in saved.mapping.items() if c in job.columns}
        job.options = dict(saved.options)
        _learn(job, table)
        return
    chosen = chosen or preset_for(job.kind, job.columns)
    job.preset = chosen.key if chosen else ""
    job.mapping = guess_mapping(job.kind, job.columns, known=chosen.columns if chosen else None)
    _learn(job, table)
    options = dict(chosen.settings) if chosen else {}
    if saved is not None:  # the source's habits (currency, time zone …) carry over to a file of another layout
        for name in ("currency", "time_zone", "phone_region", "guest_ids"):
            if saved.options.get(name) and name not in options:
                options[name] = saved.options[name]
    column_of = {field: column for column, field in job.mapping.items()}
    facts = job.facts or {}
    date_column = column_of.get("placed_at")
    if "date_order" not in options and date_column in facts.get("date_order", {}):
        options["date_order"] = facts["date_order"][date_column]
    for field in ("unit_price", "line_total", "total"):
        column = column_of.get(field)
        if "decimal" not in options and column in facts.get("decimal", {}):
            options["decimal"] = facts["decimal"][column]
    extra = chosen.statuses if chosen else {}
    statuses = {}
    for value in status_values(job, column_of.get("status")):
        suggested = suggest_status(value, extra)
        if suggested:
            statuses[value] = suggested
    if statuses:
        options["statuses"] = statuses
    job.options = options


def _learn(job: ImportJob, table) -> None:
    """Look at an order file once: its columns' values (the status column's to the end), dates and amounts."""
    if job.kind == ImportKind.ORDERS:
        status = tuple(c for c, f in job.mapping.items() if f == "status")
        job.facts = column_facts(table, full=status)


def status_values(job: ImportJob, column: str | None) -> list[str] | None:
    """The distinct values of the file's status column (None when it has too many to be statuses). A column the
    upload did not read to the end (mapped to status since) is read now, while the draft still has its file."""
    if not column:
        return []
    if job.kind == ImportKind.RELATED:
        from kervan.imports.related import column_values

        return column_values(job, column)
    facts = job.facts or {}
    if column not in facts.get("complete", ()) and column in job.columns and job.file:
        scanned = column_facts(open_table(job.file.path, preview_rows=0), full=(column,))
        remember_column_values(job, column, scanned["values"].get(column))
    return (job.facts or {}).get("values", {}).get(column)


def remember_column_values(job: ImportJob, column: str, values: list[str] | None) -> None:
    """Keep a column's distinct values read to the end (None: too many to list) in the job's facts, saved."""
    facts = job.facts or {}
    facts.setdefault("values", {})
    if values is not None:
        facts["values"][column] = values
    else:
        facts["values"].pop(column, None)
    facts.setdefault("complete", []).append(column)
    job.facts = facts
    if job.pk:
        ImportJob.objects.filter(pk=job.pk).update(facts=facts)


@transaction.atomic
def import_job_start(
    *,
    actor: Actor,
    job: ImportJob,
    mapping: dict | None = None,
    mode: str = ImportMode.SKIP,
    options: dict | None = None,
    enqueue: bool = True,
) -> ImportJob:
    """Fix the mapping (None: keep the guessed one), the file's settings (None: keep them; given ones replace the
    job's, field by field) and the bad-row policy, check them all, save the mapping and settings as the source's
    for its next file, and queue the job (`enqueue=False`: the caller runs it, as manage.py import_file does)."""
    from kervan.imports.tasks import import_job_process

    require_import_access(actor, job.kind)
    job = ImportJob.objects.select_for_update(of=("self",)).select_related("source").get(pk=job.pk)
    if job.status != ImportStatus.DRAFT:
        raise Conflict(_("This import has already been started."), "already_started")
    if mode not in ImportMode.values:
        raise KervanError(
            _("mode must be one of: %(choices)s.") % {"choices": ", ".join(ImportMode.values)},
            "invalid_mode",
            field="mode",
        )
    if options is not None and not isinstance(options, dict):
        raise KervanError(_("The settings must be an object."), "invalid_settings", field="settings")
    if job.kind == ImportKind.RELATED:
        from kervan.imports.related_check import start_check

        start_check(job, mapping, options)  # roles, joins (counted again), mapping file by file, settings
        _check_statuses(job)
    else:
        job.mapping = check_mapping(job.kind, job.columns, job.mapping if mapping is None else mapping)
        merged = dict(job.options)
        if options is not None:
            merged.update(options)
        job.options = clean_settings(merged, source=job.source).as_dict() if job.kind == ImportKind.ORDERS else merged
        if job.kind == ImportKind.ORDERS:
            _check_statuses(job)
    job.mode = mode
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["mapping", "options", "mode", "status", "facts"])
    if job.source_id:
        ImportProfile.objects.update_or_create(
            source_id=job.source_id,
            kind=job.kind,
            defaults={"columns": job.columns, "mapping": job.mapping, "options": job.options},
        )
    if enqueue:
        enqueue_on_commit(import_job_process, job.pk)
    return job


def _check_statuses(job: ImportJob) -> None:
    """Every distinct value of the status column needs an order status (listed all at once when some have none)."""
    column = next((c for c, f in job.mapping.items() if f == "status"), None)
    if column is None:
        return
    values = status_values(job, column)
    if values is None:
        raise KervanError(
            _("The column '%(column)s' has more than %(count)s different values, too many for order statuses.")
            % {"column": column, "count": 50},
            "too_many_statuses",
            field="statuses",
        )
    settings = clean_settings(_file_settings(job.options))
    chosen = preset_get(job.preset) if job.preset else None
    statuses = dict(job.options.get("statuses") or {})
    extra = chosen.statuses if chosen else {}
    for value in values:  # a value the user left alone takes its suggestion
        if settings.status_of(value) is None and (suggested := suggest_status(value, extra)):
            statuses[value] = suggested
    job.options["statuses"] = statuses
    settings = clean_settings(_file_settings(job.options))
    missing = [value for value in values if settings.status_of(value) is None]
    if missing:
        raise KervanError(
            _("Choose an order status for each status in the file: %(values)s.")
            % {"values": ", ".join(f"'{v}'" for v in missing)},
            "unmapped_status",
            field="statuses",
        )


def _file_settings(options: dict) -> dict:
    """The file settings of a job's options (related files keep their roles and joins beside them)."""
    return {name: value for name, value in options.items() if name != "related"}


def import_job_related_update(*, actor: Actor, job: ImportJob, related: dict) -> ImportJob:
    """Keep a related-files draft's roles and joins as the user chose them, and count the joins again."""
    from kervan.imports.related_check import clean_related, join_counts

    require_import_access(actor, job.kind)
    job.options = {**job.options, "related": clean_related(related, job)}
    job.facts = {**(job.facts or {}), "joins": join_counts(job)}
    ImportJob.objects.filter(pk=job.pk, status=ImportStatus.DRAFT).update(options=job.options, facts=job.facts)
    return job


def import_job_create(
    *,
    actor: Actor,
    kind: str,
    upload,
    mapping: dict | None = None,
    mode: str = ImportMode.SKIP,
    source=None,
    preset: str = "",
    options: dict | None = None,
) -> ImportJob:
    """Upload and start in one step (the API): a bad mapping, setting or mode leaves no job behind."""
    with transaction.atomic():
        job = import_job_upload(actor=actor, kind=kind, upload=upload, source=source, preset=preset)
        try:
            return import_job_start(actor=actor, job=job, mapping=mapping, mode=mode, options=options)
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
    if kind == ImportKind.RELATED:
        from kervan.imports.related_run import RelatedImport

        return RelatedImport
    from kervan.imports.orders import OrderImport

    return OrderImport


def import_job_run(*, job_id: int, on_progress=None) -> ImportJob | None:
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
            return _run(job_id, on_progress) if mine else None
    finally:
        if collecting:
            gc.enable()


def _run(job_id: int, on_progress=None) -> ImportJob | None:
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.CHECKING, started_at=clock.now(), processed_rows=0, worker=liveness.worker_name()
    )
    if not claimed:
        return None
    job = ImportJob.objects.select_related("created_by", "created_by_api_key", "source").get(pk=job_id)
    actor = job_actor(job)
    report = Report()
    started = time.perf_counter()
    timings = {}
    importer = None
    try:
        if not job.file:
            raise KervanError(_("The uploaded file is no longer there; upload it again."), "missing_file")
        table = open_table(job.file.path, preview_rows=0) if job.kind != ImportKind.RELATED else None
        progress = Progress(job, on_update=on_progress)
        importer = _importer_class(job.kind)(job=job, table=table, actor=actor, progress=progress, report=report)
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
                    _finish(job, actor, report, rows, ImportStatus.DONE, getattr(importer, "summary", None))
                    committing = time.perf_counter()
                timings["commit_seconds"] = round(time.perf_counter() - committing, 3)
            except _Refused:
                refused = True
        if refused:
            with transaction.atomic():
                _finish(job, actor, report, rows, ImportStatus.REFUSED, None)
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
    job.timings = {**(importer.timings if importer is not None else {}), **timings}  # for callers that want them
    return job


class _Refused(Exception):
    pass


class _Abandoned(Exception):
    """The job is no longer this worker's: it was failed while it ran."""


def _finish(job: ImportJob, actor: Actor, report: Report, rows: int, status: str, summary: dict | None) -> None:
    if status == ImportStatus.REFUSED:
        counts = {"imported": 0, "updated": 0, "unchanged": 0, "skipped": report.skipped}
    else:
        counts = {
            "imported": report.imported,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "skipped": report.skipped,
        }
    bulk.insert_rows(
        ImportRowError._meta.db_table,
        ("job_id", "row", "column", "value", "reason", "code"),
        ((job.pk, r, c[:255], v, reason, code[:40]) for r, c, v, reason, code in report.errors),
    )
    full_summary = {"rows": rows, **counts, **(summary or {}), "errors": dict(sorted(report.by_code.items()))}
    file_name = job.file.name
    # Only a job still running is finished: one already failed by a reader stays failed, and raising here rolls
    # back the rows written with it, so a failed job never has rows.
    finished = ImportJob.objects.filter(pk=job.pk, status__in=RUNNING).update(
        status=status,
        total_rows=rows,
        processed_rows=rows,
        error_count=report.error_count,
        errors_stored=len(report.errors),
        summary=full_summary,
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
