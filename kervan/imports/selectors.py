"""Reads for imports: the jobs, one job, its validation report (paginated, or whole as CSV).

Reading a job whose worker has ended fails it (actions.import_job_fail_if_abandoned), so nobody watches a progress
bar that will never move."""

import csv
import io
from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.accounts.actors import Actor
from kervan.core.errors import NotFound, check_choice
from kervan.core.filters import day_start, parse_date
from kervan.core.pagination import Page, paginate
from kervan.imports import report_text
from kervan.imports.actions import import_job_fail_if_abandoned
from kervan.imports.fields import kind_fields
from kervan.imports.models import ImportJob, ImportRowError, ImportStatus
from kervan.imports.reading import open_table

REPORT_HEADER = (
    gettext_lazy("Row"),
    gettext_lazy("Column"),
    gettext_lazy("Value"),
    gettext_lazy("Problem"),
    gettext_lazy("Code"),
)


# The imports list's status filter: a status, or one of these groups (what the Today page's imports card counts).
STATUS_GROUPS = {
    "running": (ImportStatus.QUEUED, ImportStatus.CHECKING, ImportStatus.SAVING),
    "failed": (ImportStatus.FAILED, ImportStatus.REFUSED),
}


def import_jobs_filtered(*, actor: Actor, status: str = "", since: str = "") -> QuerySet:
    """The imports `actor` may see, filtered: `status` a status or a group of STATUS_GROUPS, `since` (YYYY-MM-DD)
    the first day they were created on (the shop's days). A bad value raises naming its field."""
    actor.require("imports", "read")
    jobs = ImportJob.objects.all()
    if status:
        check_choice(status, [*STATUS_GROUPS, *ImportStatus.values], field="status")
        jobs = jobs.filter(status__in=STATUS_GROUPS.get(status, [status]))
    if since:
        jobs = jobs.filter(created_at__gte=day_start(parse_date(since, "since")))
    return jobs


def import_jobs(*, actor: Actor, cursor: str | None = None, limit: int = 20, status: str = "", since: str = "") -> Page:
    """Every import of the business (or those of `status` since a day), newest first: imports are team work, so all
    who may import see them."""
    jobs = import_jobs_filtered(actor=actor, status=status, since=since)
    page = paginate(jobs.select_related("created_by"), order="-id", cursor=cursor, limit=limit)
    page.items = [import_job_fail_if_abandoned(job) for job in page.items]
    return page


def import_job_get(*, actor: Actor, job_id: int) -> ImportJob:
    actor.require("imports", "read")
    job = ImportJob.objects.select_related("created_by", "created_by_api_key").filter(pk=job_id).first()
    if job is None:
        raise NotFound(_("No such import."))
    return import_job_fail_if_abandoned(job)


def import_job_errors(*, job: ImportJob, cursor: str | None = None, limit: int = 50) -> Page:
    return paginate(job.row_errors.all(), order="id", cursor=cursor, limit=limit)


def import_job_preview(*, job: ImportJob, rows: int = 3) -> list[list[str]]:
    """The first rows of a draft job's file, to show beside the column mapping."""
    if not job.file:
        return []
    return open_table(job.file.path, preview_rows=rows).preview


def import_field_choices(kind: str) -> list[tuple[str, str]]:
    return [(f.name, str(f.label)) for f in kind_fields(kind)]


def import_report_csv(*, job: ImportJob, language: str | None = None) -> Iterator[str]:
    """The validation report as CSV text, streamed a thousand rows at a time (UTF-8 with BOM, for Excel), in
    `language` (the reader's: the stream is read after the view has returned)."""
    with translation.override(language):
        yield from _report_csv(job)


def _report_csv(job: ImportJob) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff"
    writer.writerow([str(title) for title in REPORT_HEADER])
    rows = ImportRowError.objects.filter(job=job).order_by("id").values_list("row", "column", "value", "reason", "code")
    for i, (number, column, value, reason, code) in enumerate(rows.iterator(chunk_size=2000), start=1):
        writer.writerow([_spreadsheet_safe(v) for v in (number, column, value, report_text.localized(reason), code)])
        if i % 1000 == 0:
            yield flush()
    if job.errors_omitted:  # the run kept the first base.MAX_STORED_ERRORS: say how many more there were
        writer.writerow(
            ["", "", "", _("%(count)s more problems are not listed here.") % {"count": job.errors_omitted}, ""]
        )
    yield flush()


def _spreadsheet_safe(value):
    """A cell a spreadsheet will not run as a formula ("=HYPERLINK(…)" in a customer's name); phone numbers such
    as +905321234567 stay as they are."""
    if isinstance(value, str) and value[:1] in ("=", "@", "\t", "\r", "+", "-"):
        if value[:1] in ("+", "-") and value[1:2].isdigit():
            return value
        return "'" + value
    return value


def import_settings_context(job: ImportJob, mapping: dict, options: dict) -> dict:
    """What the mapping page shows of an order file's settings: their values and choices, the preset that recognised
    the file, and the status column's distinct values with the Kervan status chosen (or suggested) for each."""
    from kervan.imports.actions import status_values
    from kervan.imports.file_settings import STATUS_CHOICES, status_key, suggest_status
    from kervan.imports.presets import preset_get
    from kervan.orders.models import OrderStatus

    preset = preset_get(job.preset) if job.preset else None
    column = next((c for c, f in mapping.items() if f == "status"), None)
    values = status_values(job, column)
    chosen = {status_key(k): v for k, v in (options.get("statuses") or {}).items()}
    extra = preset.statuses if preset else {}
    statuses = [
        {"index": i, "value": value, "status": chosen.get(status_key(value)) or suggest_status(value, extra)}
        for i, value in enumerate(values or [])
    ]
    source = job.source
    return {
        "preset": preset,
        "settings": options,
        "source_currency": getattr(source, "currency", "") or "",
        "source_time_zone": getattr(source, "time_zone", "") or "",
        "status_column": column,
        "status_rows": statuses,
        "too_many_statuses": column is not None and values is None,
        "status_choices": STATUS_CHOICES,
        "default_status_choices": [c for c in STATUS_CHOICES if c[0] != "skip"],
        "delivered": OrderStatus.DELIVERED,
        "date_orders": (("dmy", _("Day first (31.12.2024, 31/12/2024)")), ("mdy", _("Month first (12/31/2024)"))),
        "decimals": (("auto", _("Read each cell")), (".", _("Point (1,234.50)")), (",", _("Comma (1.234,50)"))),
        "time_zones": ("Europe/Istanbul", "Europe/London", "Europe/Berlin", "Europe/Paris", "UTC", "America/New_York",
                       "America/Sao_Paulo", "Asia/Dubai"),
    }  # fmt: skip


def related_context(job: ImportJob, options: dict) -> dict:
    """What the mapping page shows of related files: each file with its role, and each join with its columns and
    how many of the child's rows join (and how many are orphans)."""
    from kervan.imports.related import PARENTS, ROLE_LABELS, ROLES

    facts = job.facts or {}
    config = options.get("related") or job.options.get("related") or {}
    roles = config.get("roles", {})
    files = [
        {"index": i, "name": info["name"], "rows": info["rows"], "role": roles.get(info["name"], ""),
         "columns": info["columns"]}
        for i, info in enumerate(facts.get("files", []))
    ]  # fmt: skip
    by_role = {f["role"]: f for f in files if f["role"]}
    joins = []
    counted = facts.get("joins", {})
    for role, parent in PARENTS.items():
        if role not in by_role or parent not in by_role:
            continue
        chosen = config.get("joins", {}).get(role) or ["", ""]
        count = counted.get(role)
        if count and [count["column"], count["parent_column"]] != list(chosen):
            count = None  # counted for other columns: "Count the joins again" counts these
        joins.append(
            {"role": role, "file": by_role[role], "parent": by_role[parent], "column": chosen[0],
             "parent_column": chosen[1], "count": count}
        )  # fmt: skip
    return {
        "related_files": files,
        "related_joins": joins,
        "role_choices": [(role, ROLE_LABELS[role]) for role in ROLES],
    }
