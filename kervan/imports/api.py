"""/api/v1/imports: upload a CSV/XLSX file to import (processed in the background), follow it, read its report."""

import json
from datetime import datetime

from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from kervan.core.api import ERRORS, page_out
from kervan.core.errors import KervanError
from kervan.imports import actions, report_text, selectors
from kervan.imports.models import ImportJob, ImportMode

router = Router(tags=["imports"])


class ProgressOut(Schema):
    processed: int
    total: int
    percent: int


class CountsOut(Schema):
    imported: int
    updated: int
    unchanged: int
    skipped: int
    errors: int


class JobOut(Schema):
    id: int
    kind: str
    mode: str
    status: str
    file_name: str
    file_format: str
    encoding: str
    delimiter: str
    columns: list[str]
    mapping: dict[str, str]
    progress: ProgressOut
    counts: CountsOut
    failure: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobPageOut(Schema):
    items: list[JobOut]
    next_cursor: str | None


class RowErrorOut(Schema):
    row: int
    column: str
    value: str
    reason: str
    code: str


class RowErrorPageOut(Schema):
    items: list[RowErrorOut]
    next_cursor: str | None


class FieldOut(Schema):
    name: str
    label: str


def job_out(job: ImportJob) -> dict:
    return {
        "id": job.pk,
        "kind": job.kind,
        "mode": job.mode,
        "status": job.status,
        "file_name": job.file_name,
        "file_format": job.file_format,
        "encoding": job.encoding,
        "delimiter": job.delimiter,
        "columns": job.columns,
        "mapping": job.mapping,
        "progress": {"processed": job.processed_rows, "total": job.total_rows, "percent": job.progress_percent},
        "counts": job.counts(),
        "failure": report_text.localized(job.failure),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def row_error_out(error) -> dict:
    reason = report_text.localized(error.reason)
    return {"row": error.row, "column": error.column, "value": error.value, "reason": reason, "code": error.code}


@router.post("/", response={202: JobOut, **ERRORS})
def import_create(
    request,
    file: File[UploadedFile],
    kind: Form[str],
    mapping: Form[str] = "",
    mode: Form[str] = ImportMode.SKIP,
):
    """Upload a file and start importing it. `kind`: customers, products or orders. `mapping` (optional) is a JSON
    object {"column header": "field"}; without it the mapping is guessed from the headers (Turkish or English).
    `mode`: "skip" (import the good rows, report the bad ones) or "refuse" (import nothing if any row is bad).
    Answers 202 at once; follow the job at /imports/{id}."""
    parsed = None
    if mapping.strip():
        try:
            parsed = json.loads(mapping)
        except ValueError:
            raise KervanError(_("mapping is not valid JSON."), "invalid_mapping", field="mapping")
    job = actions.import_job_create(actor=request.auth, kind=kind, upload=file, mapping=parsed, mode=mode)
    return Status(202, job_out(job))


@router.get("/", response={200: JobPageOut, **ERRORS})
def import_list(request, cursor: str | None = None, limit: int = 20):
    return page_out(selectors.import_jobs(actor=request.auth, cursor=cursor, limit=limit), job_out)


@router.get("/fields", response={200: list[FieldOut], **ERRORS})
def import_fields(request, kind: str):
    """The fields a mapping may name for `kind` (customer custom fields appear as "custom.<key>")."""
    request.auth.require("imports", "read")
    return [{"name": name, "label": label} for name, label in selectors.import_field_choices(kind)]


@router.get("/{job_id}", response={200: JobOut, **ERRORS})
def import_detail(request, job_id: int):
    return job_out(selectors.import_job_get(actor=request.auth, job_id=job_id))


@router.get("/{job_id}/errors", response={200: RowErrorPageOut, **ERRORS})
def import_errors(request, job_id: int, cursor: str | None = None, limit: int = 50):
    """The validation report: one item per problem, with the row number as in the file (the header is row 1)."""
    job = selectors.import_job_get(actor=request.auth, job_id=job_id)
    return page_out(selectors.import_job_errors(job=job, cursor=cursor, limit=limit), row_error_out)
