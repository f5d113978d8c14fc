"""What every kind of import shares: the validation report, the progress counter, the row-checking loop."""

import time
from collections.abc import Callable
from contextlib import contextmanager

from django.utils.translation import gettext as _

from kervan.core.errors import KervanError
from kervan.imports.models import ImportJob
from kervan.imports.reading import Table

# A file where every row is bad still gets a full count, but only this many detailed errors are kept (the report and
# the job's page then say how many are not listed).
MAX_STORED_ERRORS = 1_000_000


class Report:
    """Counts and the row errors of one job. A row is counted once: imported, updated, unchanged or skipped."""

    def __init__(self) -> None:
        self.errors: list[tuple[int, str, str, str, str]] = []  # (row, column, value, reason, code)
        self.error_count = 0
        self.by_code: dict[str, int] = {}  # error count per code, for the job's summary
        self.imported = 0
        self.updated = 0
        self.unchanged = 0
        self.skipped = 0

    def error(self, row: int, column: str, value: str, reason: str, code: str = "") -> None:
        self.error_count += 1
        self.by_code[code] = self.by_code.get(code, 0) + 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append((row, column, value[:1000], reason, code))


class Progress:
    """Writes processed_rows to the job at most every `interval` seconds, so a poller sees it move."""

    def __init__(self, job: ImportJob, interval: float = 0.5, on_update: Callable[[int], None] | None = None) -> None:
        self.job_id = job.pk
        self.interval = interval
        self.last = time.monotonic()
        self.on_update = on_update  # a terminal's progress bar (manage.py import_file)

    def update(self, processed: int, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.interval:
            ImportJob.objects.filter(pk=self.job_id).update(processed_rows=processed)
            self.last = now
            if self.on_update is not None:
                self.on_update(processed)


Parser = Callable[[str], object]


class Importer:
    """Base: subclasses define `plan` (field → parser), `check_row` and `write`."""

    progress_every = 2000

    def __init__(self, *, job: ImportJob, table: Table, actor, progress: Progress, report: Report) -> None:
        self.job = job
        self.table = table
        self.actor = actor
        self.progress = progress
        self.report = report
        self.column_of = {field: column for column, field in job.mapping.items()}
        index = {column: i for i, column in enumerate(table.columns)}
        # In the file's column order, so a row's problems are reported left to right.
        self.plan: list[tuple[str, int, Parser]] = sorted(
            ((field, index[column], self.parser(field)) for column, field in job.mapping.items()), key=lambda p: p[1]
        )
        self.rows_seen = 0
        self.timings: dict[str, float] = {}

    @contextmanager
    def timed(self, step: str):
        """Time a step of the write, for the log line each job ends with (and the benchmark)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = round(self.timings.get(step, 0) + time.perf_counter() - started, 3)

    def parser(self, field: str) -> Parser:
        raise NotImplementedError

    def parse(self, number: int, cells: list[str]) -> dict | None:
        """The row's mapped, non-empty cells parsed; None (and the errors reported) if any cell is bad."""
        values = {}
        bad = False
        for field, i, parse in self.plan:
            raw = cells[i]
            if not raw:
                continue
            if raw[0].isspace() or raw[-1].isspace():
                raw = raw.strip()
                if not raw:
                    continue
            try:
                values[field] = parse(raw)
            except KervanError as exc:
                self.report.error(number, self.column_of[field], raw, exc.detail, exc.code)
                bad = True
        return None if bad else values

    def row_error(self, number: int, cells: list[str], field: str, reason: str, code: str) -> None:
        """Report a problem with the row as a whole, attributed to `field`'s column (if mapped)."""
        column = self.column_of.get(field, "")
        value = ""
        if column:
            value = cells[self.table.columns.index(column)]
        self.report.error(number, column, value, reason, code)

    def check(self) -> None:
        for number, cells in self.table.rows():
            self.rows_seen += 1
            self.check_row(number, cells)
            if self.rows_seen % self.progress_every == 0:
                self.progress.update(self.rows_seen)
        self.finish_check()
        self.progress.update(self.rows_seen, force=True)

    def check_row(self, number: int, cells: list[str]) -> None:
        raise NotImplementedError

    def finish_check(self) -> None:
        """Called once every row has been seen (orders check whole groups of rows here)."""

    def reserve(self) -> dict[str, int]:
        """{table: number of ids} the write needs taken before its transaction."""
        return {}

    def write(self, first_ids: dict[str, int]) -> None:
        raise NotImplementedError


def text(limit: int) -> Parser:
    def parse(raw: str) -> str:
        value = raw.strip()
        if len(value) > limit:
            raise KervanError(_("At most %(limit)s characters.") % {"limit": limit}, "too_long")
        return value

    return parse


def memoized(parse: Parser) -> Parser:
    """Cache a parser's answers: cities, dates and yes/no cells repeat thousands of times in a big file."""
    cache: dict[str, object] = {}

    def cached(raw: str):
        try:
            return cache[raw]
        except KeyError:
            pass
        value = parse(raw)  # errors are not cached: they are rare and carry the row's own text
        if len(cache) < 200_000:
            cache[raw] = value
        return value

    return cached
