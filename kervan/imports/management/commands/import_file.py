"""manage.py import_file KIND PATH… — the import the web page runs, from a terminal, for a shop's big history."""

import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.core.models import Source
from kervan.imports.actions import import_job_run, import_job_start, import_job_upload
from kervan.imports.models import ImportJob, ImportKind, ImportMode, ImportStatus
from kervan.imports.presets import presets
from kervan.imports.sources import import_source

BAD_INPUT = 2
# The summary's counts, always present (0 when a kind of import has none).
COUNTS = (
    "rows",
    "customers_created",
    "customers_matched",
    "orders",
    "lines",
    "returns",
    "refunds",
    "cancellations",
    "guest_orders",
    "payments",
    "reviews",
    "imported",
    "unchanged",
    "skipped",
)


class _DryRun(Exception):
    pass


class Command(BaseCommand):
    help = (
        "Import files of customers, products or orders (or related files together: KIND related with several "
        "PATHs or one zip of customers, orders, order items, payments and reviews) as the import page does (same "
        "checks, same writes, one transaction per file; related files: one for them all), with a progress bar on "
        "stderr and one JSON summary on stdout: rows, customers created and matched, orders, lines, returns, "
        "refunds, payments, reviews, skipped rows, errors by reason (related files: orphans and counts per join). "
        '--mapping FILE is JSON: {column: field}, or {"mapping": {column: field}, "settings": {…}} with the file '
        "settings (currency, time_zone, date_order, decimal, statuses, default_status, cancel_prefix, guest_ids, "
        'phone_region; related files: "related": {"roles": {file: role}, "joins": {role: [column, parent '
        'column]}}; their columns are named "<file name without extension>.<column>"). --dry-run checks and '
        "counts everything and writes nothing. Exit status 2 for bad input "
        "(the message says why), 1 when a file was refused (refuse mode), 0 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=ImportKind.values)
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--preset", choices=sorted(presets()), help="the export layout (default: recognised)")
        parser.add_argument("--mapping", metavar="FILE", help="JSON column mapping and file settings")
        parser.add_argument("--currency", help="the orders' currency when the file has no currency column")
        parser.add_argument("--timezone", help="the time zone of the file's times, e.g. Europe/London")
        parser.add_argument("--source", metavar="KEY", help="the store the file comes from (created if new)")
        parser.add_argument("--mode", choices=ImportMode.values, default=ImportMode.SKIP)
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")

    def handle(self, *args, kind, paths, preset=None, mapping=None, currency=None, timezone=None, source=None,
               mode=ImportMode.SKIP, dry_run=False, **options):  # fmt: skip
        files = []
        for raw in paths:
            path = Path(raw)
            if not path.is_file():
                raise CommandError(f"{raw}: no such file.", returncode=BAD_INPUT)
            files.append(path)
        columns, settings = self._mapping(mapping)
        if currency:
            settings["currency"] = currency
        if timezone:
            settings["time_zone"] = timezone
        actor = Actor.system()
        summaries = []
        refused = False
        # Related files (several PATHs or one zip) are one import, in one transaction; other kinds one per file.
        batches = [files] if kind == ImportKind.RELATED else [[path] for path in files]
        for batch in batches:
            summary = self._one(actor, kind, batch, preset, columns, settings, source, mode, dry_run)
            refused = refused or summary["status"] == ImportStatus.REFUSED
            summaries.append(summary)
        result = summaries[0] if len(summaries) == 1 else {"files": summaries, **_totals(summaries)}
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
        if refused:
            raise CommandError("The file was refused: nothing was imported (see the errors above).", returncode=1)

    def _mapping(self, mapping: str | None) -> tuple[dict | None, dict]:
        if not mapping:
            return None, {}
        try:
            data = json.loads(Path(mapping).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"--mapping {mapping}: {exc.strerror}.", returncode=BAD_INPUT)
        except ValueError as exc:
            raise CommandError(f"--mapping {mapping} is not valid JSON: {exc}.", returncode=BAD_INPUT)
        if not isinstance(data, dict):
            raise CommandError(f"--mapping {mapping} must hold a JSON object.", returncode=BAD_INPUT)
        if "mapping" in data or "settings" in data:
            return data.get("mapping"), dict(data.get("settings") or {})
        return data, {}

    def _one(self, actor, kind, paths, preset, columns, settings, source_key, mode, dry_run) -> dict:
        """Import one file (or related files together). A dry run does it all in a transaction it then rolls back; a
        real one commits as the background task does (the write is one transaction either way)."""
        started = time.perf_counter()
        path = paths[0] if len(paths) == 1 else Path(", ".join(p.name for p in paths))
        bar = _Bar(path.name, self.stderr._out)
        stored = []

        def run() -> dict:
            source = _source(source_key)
            with ExitStack() as stack:
                uploads = [File(stack.enter_context(open(p, "rb")), name=p.name) for p in paths]
                upload = uploads if kind == ImportKind.RELATED else uploads[0]
                job = import_job_upload(actor=actor, kind=kind, upload=upload, source=source, preset=preset or "")
            stored.append(job)
            bar.total = job.total_rows
            job = import_job_start(
                actor=actor, job=job, mapping=columns, mode=mode, options=settings or None, enqueue=False
            )
            job = import_job_run(job_id=job.pk, on_progress=bar.update)
            return _summary(job, path, time.perf_counter() - started, dry_run)

        try:
            if dry_run:
                try:
                    with transaction.atomic():
                        summary = run()
                        raise _DryRun
                except _DryRun:
                    _forget(stored)
            else:
                summary = run()
        except KervanError as exc:
            bar.clear()
            _forget(stored)
            raise CommandError(f"{path}: {exc.detail}", returncode=BAD_INPUT)
        bar.done(summary)
        if summary["status"] == ImportStatus.FAILED:
            raise CommandError(f"{path}: {summary['failure']}", returncode=BAD_INPUT)
        return summary


def _forget(jobs: list[ImportJob]) -> None:
    """A job that never ran (bad mapping or settings) or a dry run's: its row and its copy of the file go."""
    for job in jobs:
        if job.file:
            job.file.storage.delete(job.file.name)
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.DRAFT).delete()


def _source(key: str | None) -> Source:
    if not key:
        return import_source()
    slug = slugify(key)[:64]
    if not slug:
        raise CommandError(f"--source {key!r} is not a usable name.", returncode=BAD_INPUT)
    source, _created = Source.objects.get_or_create(key=slug, defaults={"name": key[:120], "kind": Source.Kind.IMPORT})
    return source


def _summary(job: ImportJob, path: Path, seconds: float, dry_run: bool) -> dict:
    data = dict(job.summary or {})
    if job.kind == ImportKind.CUSTOMERS:
        data.setdefault("customers_created", job.imported)
        data.setdefault("customers_matched", job.updated + job.unchanged)
    summary = {
        "file": str(path),
        "kind": job.kind,
        "status": job.status,
        "dry_run": dry_run,
        "preset": job.preset,
        "seconds": round(seconds, 2),
        **{name: data.get(name, 0) for name in COUNTS},
        "rows": data.get("rows", job.total_rows),
        "errors": data.get("errors", {}),
        "error_count": job.error_count,
    }
    for name, value in data.items():
        if name not in summary:
            summary[name] = value
    if job.kind == ImportKind.RELATED:
        summary["joins"] = (job.facts or {}).get("joins", {})
    if job.status == ImportStatus.FAILED:
        summary["failure"] = job.failure
    summary["timings"] = getattr(job, "timings", {})
    return summary


def _totals(summaries: list[dict]) -> dict:
    totals = {name: sum(s.get(name, 0) for s in summaries) for name in COUNTS}
    errors: dict[str, int] = {}
    for s in summaries:
        for code, count in s["errors"].items():
            errors[code] = errors.get(code, 0) + count
    return {**totals, "errors": errors}


class _Bar:
    """A one-line progress bar on the terminal (stderr): rows checked of about how many, then the write."""

    WIDTH = 30

    def __init__(self, name: str, stream) -> None:
        self.name = name
        self.stream = stream or sys.stderr
        self.total = 0
        self.started = time.perf_counter()

    def update(self, processed: int) -> None:
        total = max(self.total, processed, 1)
        filled = int(self.WIDTH * processed / total)
        elapsed = time.perf_counter() - self.started
        text = (
            f"\r{self.name}: [{'#' * filled}{'.' * (self.WIDTH - filled)}] {processed * 100 // total:3d}% "
            f"{processed:,}/{total:,} rows checked, {elapsed:.0f} s"
        )
        if processed >= total:
            text += ", writing…"
        self.stream.write(text)
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()

    def done(self, summary: dict) -> None:
        self.clear()
        self.stream.write(
            f"{self.name}: {summary['status']} in {summary['seconds']} s, {summary['rows']:,} rows, "
            f"{summary['error_count']:,} errors{' (dry run: nothing written)' if summary['dry_run'] else ''}\n"
        )
        self.stream.flush()
