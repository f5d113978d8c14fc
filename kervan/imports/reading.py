"""Reading an uploaded table: CSV (UTF-8 with or without BOM, UTF-16, Windows-1254; ',' ';' tab or '|') or XLSX.

Every cell comes out as a string, whatever the file format, so the same parsers check every file. Row numbers are
as a person sees them in the file: the header is row 1.
"""

import codecs
import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from kervan.core.errors import KervanError

CSV_DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
# Big files have long lines; the csv module's default limit (128 KiB per field) is too small for some exports.
csv.field_size_limit(16 * 1024 * 1024)


def file_format_of(path: str) -> str:
    """'xlsx' for an Office Open XML workbook (a zip), 'csv' for text; refuse the old binary .xls."""
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise KervanError(_("The file is empty."), "empty_file")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise KervanError(
            _("Old Excel (.xls) files cannot be read: save the sheet as .xlsx or CSV and upload it again."),
            "unreadable_file",
        )
    return "csv"


def detect_encoding(path: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, otherwise Windows-1254 (what Turkish Excel writes)."""
    with open(path, "rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1254"
    return "utf-8"


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields most often, widest first."""
    lines = sample.splitlines()[:50]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may have cut the last line
    best, best_score = ",", (0, 0)
    for delimiter in CSV_DELIMITERS:
        try:
            widths = [len(r) for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        consistent = sum(1 for w in widths if w == widths[0])
        score = (consistent, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def unique_columns(header: list[str]) -> list[str]:
    """Header cells trimmed, blanks named by position, repeats numbered: ["Ad", "Ad"] → ["Ad", "Ad (2)"]."""
    seen: dict[str, int] = {}
    columns = []
    for i, raw in enumerate(header, start=1):
        name = (raw or "").strip().lstrip("\ufeff") or f"Column {i}"
        count = seen.get(name, 0) + 1
        seen[name] = count
        columns.append(name if count == 1 else f"{name} ({count})")
    return columns


@dataclass
class Table:
    path: str
    file_format: str
    columns: list[str]
    encoding: str = ""
    delimiter: str = ""
    estimated_rows: int = 0
    header_row: int = 1
    preview: list[list[str]] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number in the file, cells as strings, as wide as the header) for each non-empty row."""
        reader = _csv_rows(self) if self.file_format == "csv" else _xlsx_rows(self)
        width = len(self.columns)
        for number, cells in reader:
            if number <= self.header_row:
                continue
            if len(cells) != width:
                cells = (cells + [""] * width)[:width]
            if any(cells):
                yield number, cells


def open_table(path: str, *, preview_rows: int = 5) -> Table:
    """Read the header (and a few rows to show) of an uploaded file; refuse what cannot be read."""
    file_format = file_format_of(path)
    if file_format == "csv":
        table = _open_csv(path)
    else:
        table = _open_xlsx(path)
    if not table.columns:
        raise KervanError(_("The file has no header row."), "empty_file")
    for _number, cells in table.rows():
        table.preview.append(cells)
        if len(table.preview) >= preview_rows:
            break
    return table


def _open_csv(path: str) -> Table:
    encoding = detect_encoding(path)
    try:
        with open(path, encoding=encoding, newline="") as f:
            sample = f.read(64 * 1024)
    except UnicodeError:
        raise KervanError(_("The file's text encoding could not be read."), "unreadable_file")
    if not sample.strip():
        raise KervanError(_("The file is empty."), "empty_file")
    delimiter = sniff_delimiter(sample)
    table = Table(path=path, file_format="csv", columns=[], encoding=encoding, delimiter=delimiter)
    for number, cells in _csv_rows(table):
        if any(c.strip() for c in cells):
            table.columns = unique_columns(cells)
            table.header_row = number
            break
    table.estimated_rows = max(_count_lines(path) - table.header_row, 0)
    return table


def _count_lines(path: str) -> int:
    """Lines in the file: the progress bar's denominator (quoted multi-line cells make it an estimate)."""
    newline = b"\n"
    count = 0
    last = b""
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            count += chunk.count(newline)
            last = chunk
    return count + (0 if last.endswith(newline) else 1)


def _csv_rows(table: Table) -> Iterator[tuple[int, list[str]]]:
    try:
        with open(table.path, encoding=table.encoding, newline="") as f:
            yield from enumerate(csv.reader(f, delimiter=table.delimiter), start=1)
    except (UnicodeError, csv.Error) as exc:
        raise KervanError(_("The file could not be read: %(error)s.") % {"error": exc}, "unreadable_file")


def _open_xlsx(path: str) -> Table:
    rows, height = _xlsx_read(path)
    table = Table(path=path, file_format="xlsx", columns=[])
    for number, cells in rows:
        if any(cells):
            table.columns = unique_columns(cells)
            table.header_row = number
            break
    rows.close()
    table.estimated_rows = max(height - table.header_row, 0)
    return table


def _calamine():
    """python-calamine (Rust) reads a workbook some twenty times faster than openpyxl; used when installed."""
    try:
        import python_calamine
    except ImportError:
        return None
    return python_calamine


def _xlsx_read(path: str) -> tuple[Iterator[tuple[int, list[str]]], int]:
    """(rows, height) of the first sheet: each row as (row number, cells as text)."""
    calamine = _calamine()
    if calamine is not None:
        try:
            sheet = calamine.CalamineWorkbook.from_path(path).get_sheet_by_index(0)
        except Exception as exc:  # a damaged workbook fails in many ways, all of them the uploader's to fix
            raise KervanError(
                _("The spreadsheet could not be read (%(error)s).") % {"error": exc.__class__.__name__},
                "unreadable_file",
            )
        rows = ((n, [_cell_text(v) for v in row]) for n, row in enumerate(sheet.iter_rows(), start=1))
        return rows, getattr(sheet, "total_height", None) or sheet.height
    workbook = _load_workbook(path)
    sheet = workbook.worksheets[0]

    def rows():
        try:
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, [_cell_text(v) for v in row]
        finally:
            workbook.close()

    return rows(), sheet.max_row or 0


def _load_workbook(path: str):
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds of errors on a damaged workbook
        raise KervanError(
            _("The spreadsheet could not be read (%(error)s).") % {"error": exc.__class__.__name__}, "unreadable_file"
        )


def _xlsx_rows(table: Table) -> Iterator[tuple[int, list[str]]]:
    rows, _ = _xlsx_read(table.path)
    try:
        yield from rows
    finally:
        rows.close()


def _cell_text(value) -> str:
    """A spreadsheet cell as the text a person sees: 5321234567 not 5321234567.0, dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # a duration cell
        return str(value)
    return str(value).strip()


DISTINCT_LIMIT = 50  # a column with more different values than this is not a list of statuses
SAMPLE_ROWS = 20_000  # rows read to tell a file's date order and decimal separator


def column_facts(table: Table, full: tuple[str, ...] = ()) -> dict:
    """What the file says about its columns, read at upload: {"values": {column: [its distinct values]}} for the
    columns with at most DISTINCT_LIMIT of them in the first SAMPLE_ROWS rows — in every row for the `full` columns
    (the status column: the status mapping must list every value) — and {"date_order": {column: "dmy"|"mdy"},
    "decimal": {column: "."|","}} for the columns whose first rows show it. "complete" lists the columns whose
    values were read to the end of the file."""
    from kervan.imports.values import date_order_of, decimal_separator_of

    width = len(table.columns)
    distinct: list[dict[str, None] | None] = [{} for _ in range(width)]
    samples: list[list[str]] = [[] for _ in range(width)]
    tracked = set(range(width))
    to_end = {table.columns.index(c) for c in full if c in table.columns}
    for count, (_number, cells) in enumerate(table.rows()):
        if count == SAMPLE_ROWS:
            tracked &= to_end
            if not tracked:
                break
        if count < SAMPLE_ROWS:
            for i, cell in enumerate(cells):
                if cell and len(samples[i]) < 2000 and cell not in samples[i][-1:]:
                    samples[i].append(cell)
        for i in tracked:
            cell = cells[i].strip()
            seen = distinct[i]
            if cell and cell not in seen:
                seen[cell] = None
                if len(seen) > DISTINCT_LIMIT:
                    distinct[i] = None
        tracked = {i for i in tracked if distinct[i] is not None}
    else:
        count = -1  # the file ended: every tracked column was read to its end
    facts: dict = {"values": {}, "date_order": {}, "decimal": {}, "complete": []}
    for i, column in enumerate(table.columns):
        if distinct[i] is not None:
            facts["values"][column] = sorted(distinct[i])
            if count == -1 or i in to_end:
                facts["complete"].append(column)
        order = date_order_of(samples[i])
        if order:
            facts["date_order"][column] = order
        separator = decimal_separator_of(samples[i])
        if separator and _looks_numeric(samples[i]):
            facts["decimal"][column] = separator
    return facts


def _looks_numeric(samples: list[str]) -> bool:
    digits = sum(
        1
        for s in samples[:200]
        if s.strip() and s.strip().lstrip("-+₺$€£").replace(",", "").replace(".", "").replace(" ", "").isdigit()
    )
    return digits * 2 > min(len(samples), 200)
