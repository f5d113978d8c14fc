"""Scheduled exports: create and change them (checked, audited), download one now, and the scheduled run that
mails the file (kervan.core.claim takes due schedules, so two workers never mail one twice)."""

import datetime as dt
import logging
import os
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.claim import claim_due, release
from kervan.core.errors import KervanError, check_choice
from kervan.outbound import exports
from kervan.outbound.models import ExportSchedule
from kervan.outbound.timing import next_run, period_bounds

log = logging.getLogger(__name__)

AREA = "outbound"
MAX_RECIPIENTS = 20
MAX_COLUMNS = 60
MAX_TITLE = 100
RETRY = dt.timedelta(minutes=15)
MAX_TRIES = 4  # then the run waits for its next scheduled time, with the error shown on the page
LEASE = dt.timedelta(minutes=30)  # a big export by email can take minutes


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Every field of a schedule checked; a KervanError names the first bad one."""
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 120:
        raise KervanError(_("Give the export a name (at most 120 characters)."), "invalid_name", field="name")
    kind = check_choice(values.get("kind"), ExportSchedule.Kind, field="kind", label=_("Kind"))
    file_format = check_choice(values.get("format"), ExportSchedule.Format, field="format", label=_("Format"))
    period = check_choice(values.get("period"), ExportSchedule.Period, field="period", label=_("Period"))
    frequency = check_choice(values.get("frequency"), ExportSchedule.Frequency, field="frequency", label=_("Schedule"))
    at_time = values.get("at_time")
    if isinstance(at_time, str):
        try:
            at_time = dt.time.fromisoformat(at_time.strip())
        except ValueError:
            at_time = None
    if not isinstance(at_time, dt.time):
        raise KervanError(_("Give the time of day as HH:MM."), "invalid_time", field="at_time")
    weekday, day_of_month = (
        _number(values.get("weekday", 0), 0, 6, "weekday"),
        _number(values.get("day_of_month", 1), 1, 31, "day_of_month"),
    )
    time_zone = str(values.get("time_zone") or "Europe/Istanbul").strip()
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise KervanError(
            _("'%(zone)s' is not a time zone.") % {"zone": time_zone[:64]}, "invalid_time_zone", field="time_zone"
        ) from None
    return {
        "name": name,
        "kind": kind,
        "format": file_format,
        "period": period,
        "frequency": frequency,
        "at_time": at_time.replace(second=0, microsecond=0, tzinfo=None),
        "weekday": weekday,
        "day_of_month": day_of_month,
        "time_zone": time_zone,
        "columns": _clean_columns(kind, values.get("columns")),
        "recipients": _clean_recipients(values.get("recipients")),
        "active": bool(values.get("active", True)),
    }


def _number(value: object, low: int, high: int, field: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise KervanError(
            _("%(field)s must be a whole number from %(low)s to %(high)s.")
            % {"field": field, "low": low, "high": high},
            "invalid_number",
            field=field,
        )
    return number


def _clean_columns(kind: str, columns: object) -> list[dict[str, str]]:
    fields = exports.FIELDS[kind]
    if not isinstance(columns, list | tuple) or not columns:
        raise KervanError(_("Choose at least one column."), "invalid_columns", field="columns")
    if len(columns) > MAX_COLUMNS:
        raise KervanError(_("At most 60 columns."), "invalid_columns", field="columns")
    cleaned = []
    for column in columns:
        key = column.get("field") if isinstance(column, dict) else None
        if key not in fields:
            raise KervanError(
                _("'%(field)s' is not a field of this export. Fields: %(fields)s.")
                % {"field": str(key)[:60], "fields": ", ".join(fields)},
                "invalid_columns",
                field="columns",
            )
        title = str(column.get("title") or "").strip() or str(fields[key].label)
        if len(title) > MAX_TITLE:
            raise KervanError(_("A column title is at most 100 characters."), "invalid_columns", field="columns")
        cleaned.append({"field": key, "title": title})
    return cleaned


def _clean_recipients(recipients: object) -> list[str]:
    if isinstance(recipients, str):
        recipients = [r for r in recipients.replace(";", ",").replace("\n", ",").split(",")]
    if not isinstance(recipients, list | tuple):
        raise KervanError(_("Give the recipients as a list of email addresses."), "invalid_recipients",
                          field="recipients")  # fmt: skip
    cleaned = []
    for raw in recipients:
        address = str(raw or "").strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise KervanError(
                _("'%(value)s' is not a valid email address.") % {"value": address[:100]},
                "invalid_recipients",
                field="recipients",
            ) from None
        if address not in cleaned:
            cleaned.append(address)
    if len(cleaned) > MAX_RECIPIENTS:
        raise KervanError(_("At most 20 recipients."), "invalid_recipients", field="recipients")
    return cleaned


def _due(schedule: ExportSchedule) -> dt.datetime | None:
    """A schedule runs by itself while it is active and has someone to mail; otherwise it is a saved download."""
    return next_run(schedule, clock.now()) if schedule.active and schedule.recipients else None


@transaction.atomic
def schedule_create(*, actor: Actor, **values: Any) -> ExportSchedule:
    actor.require(AREA, "write")
    schedule = ExportSchedule(**_clean(values), created_by=actor.user if getattr(actor.user, "pk", None) else None)
    schedule.due_at = _due(schedule)
    schedule.save()
    audit(actor=actor, action="create", obj=schedule, changes={"name": [None, schedule.name]})
    return schedule


@transaction.atomic
def schedule_update(*, actor: Actor, schedule: ExportSchedule, **values: Any) -> ExportSchedule:
    """Change any of the fields (the others stay); the next run is computed again."""
    actor.require(AREA, "write")
    schedule = ExportSchedule.objects.select_for_update().get(pk=schedule.pk)
    cleaned = _clean({**_as_values(schedule), **values})
    changes = {k: [getattr(schedule, k), v] for k, v in cleaned.items() if getattr(schedule, k) != v}
    if changes:
        for name, value in cleaned.items():
            setattr(schedule, name, value)
        schedule.due_at = _due(schedule)
        schedule.save()
        audit(actor=actor, action="update", obj=schedule, changes=changes)
    return schedule


def _as_values(schedule: ExportSchedule) -> dict[str, Any]:
    fields = ("name", "kind", "format", "period", "frequency", "at_time", "weekday", "day_of_month", "time_zone",
              "columns", "recipients", "active")  # fmt: skip
    return {name: getattr(schedule, name) for name in fields}


@transaction.atomic
def schedule_delete(*, actor: Actor, schedule: ExportSchedule) -> None:
    actor.require(AREA, "write")
    audit(actor=actor, action="delete", obj=schedule, changes={"name": [schedule.name, None]})
    schedule.delete()


def download_response(*, actor: Actor, schedule: ExportSchedule) -> StreamingHttpResponse | FileResponse:
    """The export of its period up to now, as a download: CSV streamed as it is read; XLSX written to a temporary
    file row by row, then streamed (a zip cannot be streamed before its end). Audited."""
    actor.require(AREA, "write")
    start, end = period_bounds(schedule, clock.now())
    period = {"from": start.isoformat() if start else None, "to": end.isoformat()}
    audit(actor=actor, action="export", obj=schedule, changes={"kind": schedule.kind, **period})
    name = exports.file_name(schedule, end)
    if schedule.format == ExportSchedule.Format.CSV:
        response = StreamingHttpResponse(
            exports.csv_chunks(schedule, start, end), content_type=exports.CONTENT_TYPES[schedule.format]
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    path, _rows = exports.write_file(schedule, start, end)
    handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it when the download ends
    os.unlink(path)  # the open handle keeps the data until then
    return FileResponse(handle, as_attachment=True, filename=name, content_type=exports.CONTENT_TYPES[schedule.format])


def run_due(*, worker: str) -> int:
    """Mail every schedule that is due; returns how many were mailed."""
    sent = 0
    for schedule in claim_due(ExportSchedule.objects.filter(active=True), worker=worker, limit=5, lease=LEASE):
        sent += run(schedule)
    return sent


def run(schedule: ExportSchedule) -> int:
    """One claimed run: build the file of the period, mail it; on success the schedule moves to its next time."""
    now = clock.now()
    start, end = period_bounds(schedule, now)
    try:
        path, rows = exports.write_file(schedule, start, end)
        try:
            _mail(schedule, path, rows, start, end)
        finally:
            os.unlink(path)
    except (OSError, KervanError) as error:  # SMTP refused or unreachable, the disk full
        log.warning("outbound.export_failed", extra={"schedule": schedule.pk, "error": str(error)})
        later = now + RETRY if schedule.attempts < MAX_TRIES else next_run(schedule, now)
        release(schedule, due_at=later, last_error=str(error)[:500])
        return 0
    release(schedule, due_at=next_run(schedule, now), attempts=0, last_run_at=now, last_run_until=end,
            last_run_rows=rows, last_error="")  # fmt: skip
    return 1


def _mail(schedule: ExportSchedule, path: str, rows: int, start: dt.datetime | None, end: dt.datetime) -> None:
    zone = zoneinfo.ZoneInfo(schedule.time_zone)
    period = {
        "from": start.astimezone(zone).strftime("%Y-%m-%d %H:%M") if start else "—",
        "to": end.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
    }
    subject = _("Kervan export: %(name)s") % {"name": schedule.name}
    body = _("%(rows)s rows, from %(from)s to %(to)s (%(zone)s). The file is attached.") % {
        "rows": rows,
        **period,
        "zone": schedule.time_zone,
    }
    message = EmailMessage(subject, body, to=schedule.recipients)
    with open(path, "rb") as data:
        message.attach(
            exports.file_name(schedule, end), data.read(), exports.CONTENT_TYPES[schedule.format].split(";")[0]
        )
    message.send()
