"""Related files imported together: customers, orders, order items, payments and reviews (a marketplace export such
as Olist's), uploaded as several files or one zip, written in ONE transaction — all of it or nothing.

The job keeps the files as one zip (job.file). Each file has a role (ROLES), guessed from its name, then from its
columns; the user may change it. Each child file joins its parent (PARENTS) by a pair of columns, guessed from
their names (the same name, `<parent>_id`, or the parent's `id`): items, payments and reviews join the orders file,
the orders file joins the customers file. The preview counts, per join, the rows that join and the orphans.

The job's columns are the files' columns named "<file>.<column>" (the file name without its extension), and its
mapping maps them to fields: order fields for the customers, orders and items files, payment fields for the
payments file, review fields for the reviews file. The join columns of the child files are the joins themselves.

Running it, the customers, orders and items files are joined into one order-line table (one row per item with its
order's and customer's cells; an order without items is one row without line cells) and checked by the order import
(kervan.imports.orders, orders_plan) as a one-file order-line export would be: the same customers by store customer
id, statuses, guest orders, currencies, re-import rules. Payments become the orders' Payment rows; reviews
kervan.feedback Review rows. Row numbers in the report are those of the file the column belongs to for payments and
reviews; for the joined order cells they are the items file's rows (the orders file's for an order without items).

Re-importing the same files changes nothing: orders of the source imported before are left as they are (their
payments with them); payments of such an order that it does not have yet (matched by order, reference and amount)
are added; reviews are matched by their id (source + external id).

Payment methods are read leniently (METHODS: credit_card, kredi kartı, boleto, voucher, debit_card …); an empty
method is a card payment (the model's default); anything else is a row error naming the methods understood.
"""

import io
import tempfile
import zipfile
from pathlib import Path

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.core.errors import KervanError
from kervan.imports.fields import (
    ORDER_FIELDS,
    PAYMENT_FIELDS,
    REVIEW_FIELDS,
    _header_key,
)
from kervan.imports.models import ImportJob
from kervan.imports.reading import Table, column_facts, open_table
from kervan.imports.values import fold_choice

ROLES = ("customers", "orders", "items", "payments", "reviews")
PARENTS = {"orders": "customers", "items": "orders", "payments": "orders", "reviews": "orders"}
ORDER_ROLES = ("customers", "orders", "items")
_SINGULAR = {"orders": "order", "customers": "customer"}
ROLE_FIELDS = {
    "customers": {f.name for f in ORDER_FIELDS},
    "orders": {f.name for f in ORDER_FIELDS},
    "items": {f.name for f in ORDER_FIELDS},
    "payments": {f.name for f in PAYMENT_FIELDS},
    "reviews": {f.name for f in REVIEW_FIELDS},
}
# The fields a customers file's headers are guessed as (the user may still map its other columns to order fields).
CUSTOMER_GUESSES = {"customer_id", "email", "phone", "first_name", "last_name", "full_name", "city", "country"}
# A file's role from words of its name (checked in this order: "order_items" holds items, "order_payments" payments).
_ROLE_WORDS = (
    ("reviews", ("review", "yorum", "degerlendirme", "rating")),
    ("payments", ("payment", "odeme", "tahsilat")),
    ("items", ("item", "line", "kalem", "satir", "urunler", "order product", "siparis urun")),  # oc_order_product
    ("customers", ("customer", "musteri", "uye", "client")),
    ("orders", ("order", "siparis")),
)
# …or from its columns (header keys), when the name says nothing.
_ROLE_COLUMNS = {
    "reviews": {"review id", "review score", "rating", "review comment message", "puan"},
    "payments": {"payment type", "payment value", "payment method", "payment installments", "taksit"},
    "items": {"order item id", "product id", "sku", "unit price", "price", "quantity", "adet"},
    "orders": {"order status", "order purchase timestamp", "order date", "status", "siparis tarihi"},
    "customers": {"customer unique id", "customer city", "email", "customer zip code prefix", "e posta"},
}
ROLE_LABELS = {
    "customers": gettext_lazy("Customers"),
    "orders": gettext_lazy("Orders"),
    "items": gettext_lazy("Order items"),
    "payments": gettext_lazy("Payments"),
    "reviews": gettext_lazy("Reviews"),
}
MEMBER_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")
MAX_MEMBER_BYTES = 2 * 1024**3
SAMPLE_ROWS = 2000  # rows read at upload to tell a file's date order and decimal separator

# Payment methods as exports write them (folded) → Payment.Method.
METHODS = {
    "card": (
        "card", "credit card", "credit_card", "creditcard", "kredi karti", "kart", "debit card", "debit_card",
        "banka karti", "visa", "mastercard", "master card", "amex", "troy", "kredi kartı", "sanal pos", "cc",
    ),
    "bank_transfer": (
        "bank_transfer", "bank transfer", "havale", "eft", "havale/eft", "havale eft", "wire", "wire transfer",
        "boleto", "bank slip", "banka havalesi", "pix",
    ),
    "cod": ("cod", "cash on delivery", "kapida odeme", "kapida nakit", "kapida kart", "cash", "nakit"),
    "wallet": (
        "wallet", "voucher", "gift card", "gift_card", "giftcard", "hediye ceki", "store credit", "paypal",
        "apple pay", "google pay", "cuzdan", "papara", "bkm express", "puan",
    ),
    "marketplace": ("marketplace", "pazaryeri", "trendyol", "hepsiburada", "amazon", "n11"),
}  # fmt: skip
_METHOD_KEYS = {
    fold_choice(spelling).replace("_", " "): method for method, words in METHODS.items() for spelling in words
}
_PAYMENT_STATUSES = {
    "captured": ("captured", "paid", "success", "succeeded", "approved", "completed", "odendi", "basarili"),
    "authorized": ("authorized", "authorised", "pending", "beklemede", "provizyon"),
    "failed": ("failed", "declined", "error", "basarisiz", "reddedildi", "cancelled", "canceled"),
}
_PAYMENT_STATUS_KEYS = {fold_choice(s): status for status, words in _PAYMENT_STATUSES.items() for s in words}


def payment_method(raw: str) -> str:
    key = fold_choice(raw).replace("_", " ").replace("-", " ").strip()
    if not key:
        return "card"
    method = _METHOD_KEYS.get(key) or _METHOD_KEYS.get(" ".join(key.split()))
    if method is None:
        raise KervanError(
            _("'%(value)s' is not a payment method this import knows (card, bank transfer, cash on delivery, wallet "
              "or voucher, marketplace).") % {"value": raw},
            "unknown_payment_method",
        )  # fmt: skip
    return method


def payment_status(raw: str) -> str:
    status = _PAYMENT_STATUS_KEYS.get(fold_choice(raw).strip())
    if status is None:
        raise KervanError(
            _("'%(value)s' is not a payment status (paid, pending or failed).") % {"value": raw},
            "invalid_payment_status",
        )
    return status


def parse_installments(raw: str) -> int:
    value = raw.strip()
    if value.endswith(".0"):
        value = value[:-2]
    if not value.isdigit() or not 0 <= int(value) <= 120:
        raise KervanError(_("'%(value)s' is not a number of installments.") % {"value": raw}, "invalid_installments")
    return max(int(value), 1)


def parse_rating(raw: str) -> int:
    from kervan.feedback.actions import check_rating

    return check_rating(raw)


# -- the upload: the files, their roles, joins and first mapping ---------------------------------------------------


def bundle(uploads) -> tuple[ContentFile, str]:
    """One zip of the uploaded files (a single .zip is kept as it is), and the name the job shows."""
    uploads = [u for u in (uploads if isinstance(uploads, (list, tuple)) else [uploads]) if u is not None and u.size]
    if not uploads:
        raise KervanError(_("The file is empty."), "empty_file", field="file")
    if len(uploads) == 1 and Path(uploads[0].name or "").suffix.lower() == ".zip":
        upload = uploads[0]
        upload.seek(0)
        return ContentFile(upload.read()), Path(upload.name).name[:255]
    buffer = io.BytesIO()
    names = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # kept until the run only: not compressed
        for upload in uploads:
            name = Path(upload.name or "file.csv").name
            if Path(name).suffix.lower() not in MEMBER_SUFFIXES:
                raise KervanError(
                    _("'%(name)s' is not a CSV or Excel (.xlsx) file.") % {"name": name},
                    "unreadable_file",
                    field="file",
                )
            if name in names:
                raise KervanError(_("Two files are named '%(name)s'.") % {"name": name}, "duplicate_file", field="file")
            names.add(name)
            upload.seek(0)
            with archive.open(name, "w") as member:
                for chunk in upload.chunks():
                    member.write(chunk)
    shown = ", ".join(sorted(names))
    return ContentFile(buffer.getvalue()), (shown if len(shown) <= 255 else shown[:252] + "…")


class Files:
    """The job's zip opened in a temporary folder: {file name: path}, in the zip's order."""

    def __init__(self, zip_path: str) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="kervan-related-")
        self.paths: dict[str, str] = {}
        try:
            archive = zipfile.ZipFile(zip_path)
        except (zipfile.BadZipFile, OSError):
            self.close()
            raise KervanError(_("The zip file cannot be read."), "unreadable_file", field="file")
        with archive:
            for info in archive.infolist():
                name = Path(info.filename).name
                if info.is_dir() or not name or name.startswith((".", "__")) or "__MACOSX" in info.filename:
                    continue
                if Path(name).suffix.lower() not in MEMBER_SUFFIXES:
                    continue
                if info.file_size > MAX_MEMBER_BYTES or name in self.paths:
                    continue
                target = Path(self.folder.name) / f"{len(self.paths)}{Path(name).suffix.lower()}"
                with archive.open(info) as source, open(target, "wb") as out:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
                self.paths[name] = str(target)
        if not self.paths:
            self.close()
            raise KervanError(_("The upload holds no CSV or Excel (.xlsx) file."), "empty_file", field="file")

    def close(self) -> None:
        self.folder.cleanup()

    def __enter__(self) -> "Files":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def table(self, name: str, preview_rows: int = 0) -> Table:
        try:
            return open_table(self.paths[name], preview_rows=preview_rows)
        except KervanError as exc:
            raise KervanError(_("%(file)s: %(detail)s") % {"file": name, "detail": exc.detail}, exc.code, field="file")


def stem_of(name: str) -> str:
    return Path(name).stem


def guess_role(name: str, columns: list[str]) -> str:
    key = _header_key(stem_of(name))
    for role, words in _ROLE_WORDS:
        if any(word in key for word in words):
            return role
    keys = {_header_key(c) for c in columns}
    scores = {role: len(keys & wanted) for role, wanted in _ROLE_COLUMNS.items()}
    best = max(scores, key=lambda r: scores[r])
    return best if scores[best] else ""


def guess_join(child: list[str], parent: list[str], parent_role: str) -> tuple[str, str] | None:
    """(child column, parent column) that likely join a child file to its parent, from their names."""
    child_keys = {_header_key(c): c for c in child}
    parent_keys = {_header_key(c): c for c in parent}
    singular = _SINGULAR[parent_role]
    for name in (f"{singular} id", f"{singular} number", f"{singular} no", f"{singular}"):
        if name in child_keys and name in parent_keys:
            return child_keys[name], parent_keys[name]
    for name in (f"{singular} id", f"{singular} number"):
        if name in child_keys and "id" in parent_keys:
            return child_keys[name], parent_keys["id"]
    for key, column in child_keys.items():
        if key in parent_keys and (key.endswith((" id", " no", " number")) or key == "id"):
            return column, parent_keys[key]
    return None


def upload_learn(job: ImportJob, chosen) -> None:
    """A new related-files draft: the files' roles, columns and first rows, the joins guessed and counted, the
    mapping (the preset's, else guessed from the headers), the settings, the status column's values."""
    from kervan.imports.presets import related_preset_for

    with Files(job.file.path) as files:
        described = []
        stems: set[str] = set()
        tables = {}
        for name in files.paths:
            table = files.table(name, preview_rows=3)
            tables[name] = table
            stem = stem_of(name)
            while stem in stems:
                stem += "_"
            stems.add(stem)
            described.append(
                {"name": name, "stem": stem, "columns": table.columns, "rows": table.estimated_rows,
                 "format": table.file_format, "preview": table.preview}
            )  # fmt: skip
        roles: dict[str, str] = {}
        for info in described:
            role = guess_role(info["name"], info["columns"])
            if role and role in roles.values():
                role = ""  # one file per role: the user chooses for the second
            roles[info["name"]] = role
        chosen = chosen or related_preset_for({roles[i["name"]]: i["columns"] for i in described if roles[i["name"]]})
        job.preset = chosen.key if chosen else ""
        job.file_format = "zip"
        job.columns = [f"{info['stem']}.{column}" for info in described for column in info["columns"]]
        job.total_rows = sum(info["rows"] for info in described)
        samples = {}
        for info in described:
            for i, column in enumerate(info["columns"]):
                samples[f"{info['stem']}.{column}"] = [row[i] for row in info["preview"] if i < len(row) and row[i]]
            del info["preview"]
        config = {"roles": roles, "joins": _guess_joins(described, roles)}
        job.mapping = guess_related_mapping(described, roles, config["joins"], chosen)
        options = dict(chosen.settings) if chosen else {}
        options["related"] = config
        job.options = options
        job.facts = {"files": described, "samples": samples, "values": {}, "complete": []}
        _learn_values(job, files, tables)
        from kervan.imports.related_check import join_counts  # that module builds on this one

        job.facts["joins"] = join_counts(job, files)


def _guess_joins(described: list[dict], roles: dict[str, str]) -> dict[str, list[str]]:
    by_role = {roles[i["name"]]: i for i in described if roles[i["name"]]}
    joins = {}
    for role, parent_role in PARENTS.items():
        if role in by_role and parent_role in by_role:
            found = guess_join(by_role[role]["columns"], by_role[parent_role]["columns"], parent_role)
            if found:
                joins[role] = list(found)
    return joins


def guess_related_mapping(described, roles, joins, chosen) -> dict[str, str]:
    """{"<file>.<column>": field} from the preset's columns for the file's role, then the headers; each field once
    (once per role group), join columns of child files left out (they are the joins)."""
    from kervan.imports.fields import Field

    groups = {
        "customers": ORDER_FIELDS,
        "orders": ORDER_FIELDS,
        "items": ORDER_FIELDS,
        "payments": PAYMENT_FIELDS,
        "reviews": REVIEW_FIELDS,
    }
    mapping: dict[str, str] = {}
    used: dict[str, set[str]] = {"order": set(), "payments": set(), "reviews": set()}
    # The orders file first: its order number and customer id win over the same names in other files.
    ordered = sorted(described, key=lambda i: ROLES.index(roles[i["name"]]) if roles[i["name"]] else 99)
    ordered.sort(key=lambda i: 0 if roles[i["name"]] == "orders" else 1)
    for info in ordered:
        role = roles[info["name"]]
        if not role:
            continue
        known = (chosen.files.get(role, {}).get("columns", {}) if chosen else {}) or {}
        preset_lookup = {_header_key(header): name for header, name in known.items()}
        left_out = {key for key, name in preset_lookup.items() if not name}  # the preset says: not this column
        lookup: dict[str, str] = {}
        field: Field
        for field in groups[role]:
            if role == "customers" and field.name not in CUSTOMER_GUESSES:
                continue  # a customers file's "status" or "total" is the customer's, not an order's
            for spelling in (field.name, *field.headers):
                lookup.setdefault(_header_key(spelling), field.name)
        skip = set()
        if role in joins:
            skip.add(joins[role][0])
        group = role if role in ("payments", "reviews") else "order"
        lines_elsewhere = role == "orders" and "items" in roles.values()
        for table in (preset_lookup, lookup):  # the preset's columns first, then the headers guessed
            for column in info["columns"]:
                target = f"{info['stem']}.{column}"
                if column in skip or target in mapping or _header_key(column) in left_out:
                    continue
                name = table.get(_header_key(column))
                if not name or name in used[group] or name == "line_item":
                    continue
                if lines_elsewhere and name in ("sku", "title", "quantity", "unit_price", "line_total"):
                    continue  # an orders file's "price" is not a line's when there is an items file
                mapping[target] = name
                used[group].add(name)
    return mapping


def _learn_values(job: ImportJob, files: Files, tables: dict[str, Table]) -> None:
    """The distinct values of the mapped status column, read to its end (the status mapping lists them), and the
    date order and decimal separator the first rows of the mapped date and amount columns show."""
    from kervan.imports.reading import DISTINCT_LIMIT
    from kervan.imports.values import date_order_of, decimal_separator_of

    status = next((c for c, f in job.mapping.items() if f == "status"), None)
    facts = job.facts
    options = job.options
    for info in facts["files"]:
        prefix = info["stem"] + "."
        watched = {}
        for column, field in job.mapping.items():
            if column.startswith(prefix) and (
                field in ("placed_at", "review_date", "payment_date", "unit_price", "total", "payment_amount")
                or column == status
            ):
                watched[info["columns"].index(column[len(prefix) :])] = column
        if not watched:
            continue
        samples: dict[int, list[str]] = {i: [] for i in watched}
        distinct: dict[str, None] | None = {}
        status_index = next((i for i, c in watched.items() if c == status), None)
        for count, (_number, cells) in enumerate(files.table(info["name"]).rows()):
            if count < SAMPLE_ROWS:
                for i in watched:
                    if cells[i] and len(samples[i]) < 200:
                        samples[i].append(cells[i])
            elif status_index is None or distinct is None:
                break
            if status_index is not None and distinct is not None:
                value = cells[status_index].strip()
                if value and value not in distinct:
                    distinct[value] = None
                    if len(distinct) > DISTINCT_LIMIT:
                        distinct = None
        for i, column in watched.items():
            field = job.mapping[column]
            if column == status:
                if distinct is not None:
                    facts["values"][status] = sorted(distinct)
                facts["complete"].append(status)
            elif field in ("placed_at", "review_date", "payment_date") and (order := date_order_of(samples[i])):
                options.setdefault("date_order", order)
            elif field in ("unit_price", "total", "payment_amount") and (sep := decimal_separator_of(samples[i])):
                options.setdefault("decimal", sep)


def column_values(job: ImportJob, column: str) -> list[str] | None:
    """The distinct values of one of the job's columns (read now if the upload did not read them to the end)."""
    facts = job.facts or {}
    if column in facts.get("complete", ()):
        return facts.get("values", {}).get(column)
    info = _file_of(job, column)
    if info is None or not job.file:
        return []
    raw = column[len(info["stem"]) + 1 :]
    with Files(job.file.path) as files:
        found = column_facts(files.table(info["name"]), full=(raw,))
    from kervan.imports.actions import remember_column_values  # (actions imports this module)

    remember_column_values(job, column, found["values"].get(raw))
    return job.facts["values"].get(column)


def _file_of(job: ImportJob, column: str) -> dict | None:
    for info in (job.facts or {}).get("files", ()):
        if column.startswith(info["stem"] + ".") and column[len(info["stem"]) + 1 :] in info["columns"]:
            return info
    return None


def files_by_role(job: ImportJob) -> dict[str, dict]:
    roles = (job.options.get("related") or {}).get("roles", {})
    return {roles[i["name"]]: i for i in (job.facts or {}).get("files", ()) if roles.get(i["name"])}


# -- checks before anything is written -----------------------------------------------------------------------------
