"""/api/v1/imports: upload a CSV/XLSX file to import (processed in the background), follow it, read its report."""

import json
from datetime import datetime

from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from kervan.core.api import ERRORS, page_out
from kervan.core.errors import KervanError
from kervan.imports import actions, report_text, selectors, sources
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
    source: str | None
    preset: str
    settings: dict
    status_values: list[str] | None
    progress: ProgressOut
    counts: CountsOut
    summary: dict
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
        "source": job.source.key if job.source_id else None,
        "preset": job.preset,
        "settings": job.options,
        "status_values": actions.status_values(job, next((c for c, f in job.mapping.items() if f == "status"), None)),
        "progress": {"processed": job.processed_rows, "total": job.total_rows, "percent": job.progress_percent},
        "counts": job.counts(),
        "summary": job.summary,
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
    source: Form[str] = "",
    preset: Form[str] = "",
    settings: Form[str] = "",
):
    """Upload a file and start importing it. `kind`: customers, products or orders; or related: a zip of related
    files (customers, orders, order items, payments, reviews), its columns named "<file>.<column>". `mapping`
    (optional) is a JSON
    object {"column header": "field"}; without it the mapping is the source's saved one for the same columns, a
    preset's (Shopify, WooCommerce, Magento 2, Trendyol, Hepsiburada, UCI invoice lines … recognised from the header,
    or named in `preset`), or guessed from the headers (Turkish or English). `mode`: "skip" (import the good rows,
    report the bad ones) or "refuse" (import nothing if any row is bad). `source`: the key (or id) of the store the
    file comes from — its customer ids and order numbers are scoped to it; a name not known yet creates it.
    `settings` (orders, optional) is a JSON object: currency, time_zone, date_order (dmy|mdy), decimal (auto|.|,),
    statuses {status in the file: placed|paid|fulfilled|shipped|delivered|cancelled|returned|refunded|skip},
    default_status, cancel_prefix, guest_ids, phone_region, sales_channel, marketplace. Every status in the file
    must be mapped (suggestions fill in the common ones). Answers 202 at once; follow the job at /imports/{id}."""
    parsed = _json_form(mapping, "mapping")
    options = _json_form(settings, "settings")
    store = None
    if source.strip():
        try:
            store = sources.source_for_upload(source_id=source.strip())
        except KervanError:
            store = sources.source_for_upload(new_name=source.strip())
    job = actions.import_job_create(
        actor=request.auth, kind=kind, upload=file, mapping=parsed, mode=mode, source=store, preset=preset,
        options=options,
    )  # fmt: skip
    return Status(202, job_out(job))


def _json_form(text: str, field: str):
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise KervanError(_("%(field)s is not valid JSON.") % {"field": field}, f"invalid_{field}", field=field)


@router.get("/", response={200: JobPageOut, **ERRORS})
def import_list(request, cursor: str | None = None, limit: int = 20):
    return page_out(selectors.import_jobs(actor=request.auth, cursor=cursor, limit=limit), job_out)


@router.get("/fields", response={200: list[FieldOut], **ERRORS})
def import_fields(request, kind: str):
    """The fields a mapping may name for `kind` (customer custom fields appear as "custom.<key>")."""
    request.auth.require("imports", "read")
    return [{"name": name, "label": label} for name, label in selectors.import_field_choices(kind)]


class PresetOut(Schema):
    key: str
    label: str
    kind: str
    columns: dict[str, str]
    settings: dict
    statuses: dict[str, str]


@router.get("/presets", response={200: list[PresetOut], **ERRORS})
def import_presets(request):
    """The export layouts recognised without manual mapping (kervan/imports/presets/*.json)."""
    request.auth.require("imports", "read")
    from kervan.imports.presets import presets

    return [
        {"key": p.key, "label": p.label, "kind": p.kind, "columns": p.columns, "settings": p.settings,
         "statuses": p.statuses}
        for p in presets().values()
    ]  # fmt: skip


@router.get("/{job_id}", response={200: JobOut, **ERRORS})
def import_detail(request, job_id: int):
    return job_out(selectors.import_job_get(actor=request.auth, job_id=job_id))


@router.get("/{job_id}/errors", response={200: RowErrorPageOut, **ERRORS})
def import_errors(request, job_id: int, cursor: str | None = None, limit: int = 50):
    """The validation report: one item per problem, with the row number as in the file (the header is row 1)."""
    job = selectors.import_job_get(actor=request.auth, job_id=job_id)
    return page_out(selectors.import_job_errors(job=job, cursor=cursor, limit=limit), row_error_out)
