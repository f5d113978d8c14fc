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

import copy
import datetime as dt
import io
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.core import clock
from kervan.core.errors import KervanError
from kervan.imports import bulk
from kervan.imports.base import Progress, Report, memoized, text
from kervan.imports.fields import (
    ORDER_FIELDS,
    PAYMENT_FIELDS,
    REVIEW_FIELDS,
    _header_key,
    check_mapping,
    field_labels,
)
from kervan.imports.file_settings import clean_settings
from kervan.imports.models import ImportJob, ImportKind
from kervan.imports.reading import Table, column_facts, open_table
from kervan.imports.values import amount_parser, datetime_parser, fold_choice

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


def clean_related(config, job: ImportJob) -> dict:
    """The roles and joins as given (the page, --mapping's settings.related): each role once, the orders file there,
    every join naming columns of its two files."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise KervanError(_("The related files' settings must be an object."), "invalid_settings", field="related")
    names = [i["name"] for i in (job.facts or {}).get("files", ())]
    stored = (job.options.get("related") or {}) if job.options else {}
    roles = dict(stored.get("roles", {}))
    roles.update(config.get("roles") or {})
    seen: dict[str, str] = {}
    for name, role in roles.items():
        if name not in names:
            raise KervanError(_("There is no file '%(name)s'.") % {"name": name}, "unknown_file", field="related")
        if role and role not in ROLES:
            raise KervanError(
                _("'%(role)s' is not a kind of file (%(choices)s).") % {"role": role, "choices": ", ".join(ROLES)},
                "invalid_role",
                field="related",
            )
        if role and role in seen:
            raise KervanError(
                _("Two files hold %(role)s: %(first)s and %(other)s. Choose what each holds.")
                % {"role": str(ROLE_LABELS[role]).lower(), "first": seen[role], "other": name},
                "duplicate_role",
                field="related",
            )
        if role:
            seen[role] = name
    if "orders" not in seen:
        raise KervanError(
            _("Say which file holds the orders: related files are joined to it."),
            "missing_orders_file",
            field="related",
        )
    joins = dict(stored.get("joins", {}))
    joins.update(config.get("joins") or {})
    columns = {i["name"]: i["columns"] for i in job.facts["files"]}
    cleaned = {}
    for role, parent in PARENTS.items():
        if role not in seen or parent not in seen:
            continue
        pair = joins.get(role)
        if not pair:  # a role just chosen: its join guessed from the column names
            pair = guess_join(columns[seen[role]], columns[seen[parent]], parent)
        if not pair or not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(pair):
            raise KervanError(
                _("Say which column of %(file)s joins which column of %(parent)s.")
                % {"file": seen[role], "parent": seen[parent]},
                "missing_join",
                field="related",
            )
        child_column, parent_column = pair
        for name, column in ((seen[role], child_column), (seen[parent], parent_column)):
            if column not in columns[name]:
                raise KervanError(
                    _("%(file)s has no column '%(column)s'.") % {"file": name, "column": column},
                    "unknown_column",
                    field="related",
                )
        cleaned[role] = [child_column, parent_column]
    return {"roles": {name: roles.get(name, "") for name in names}, "joins": cleaned}


def check_related_mapping(job: ImportJob, mapping) -> dict[str, str]:
    """Each file's columns map to the fields of its role; the customers, orders and items files together are an
    order-line file (its required fields all named at once); a payments file needs its amount, a reviews file its
    rating."""
    if not isinstance(mapping, dict):
        raise KervanError(_("mapping must be an object {column: field}."), "invalid_mapping", field="mapping")
    labels = field_labels(ImportKind.RELATED)
    by_role = files_by_role(job)
    role_of_stem = {info["stem"]: role for role, info in by_role.items()}
    joins = job.options["related"]["joins"]
    cleaned: dict[str, str] = {}
    order_group: dict[str, str] = {}
    for column, field in mapping.items():
        if field in ("", None):
            continue
        if column not in job.columns:
            raise KervanError(
                _("The files have no column '%(column)s'.") % {"column": column}, "unknown_column", field="mapping"
            )
        info = _file_of(job, column)
        role = role_of_stem.get(info["stem"]) if info else None
        if not isinstance(field, str) or field not in labels:
            raise KervanError(
                _("'%(field)s' is not a field of a %(kind)s import.") % {"field": field, "kind": "related"},
                "unknown_field",
                field="mapping",
            )
        if role is None:
            continue  # a file not imported
        if field not in ROLE_FIELDS[role]:
            raise KervanError(
                _("%(column)s is in the %(role)s file: it cannot be imported as %(field)s.")
                % {"column": column, "role": str(ROLE_LABELS[role]).lower(), "field": labels[field]},
                "field_not_in_file",
                field="mapping",
            )
        if role in joins and column == f"{info['stem']}.{joins[role][0]}":
            continue  # the join is the column's use
        cleaned[column] = field
        if role in ORDER_ROLES:
            order_group[column] = field
    for role in ("payments", "reviews"):
        if role not in by_role:
            continue
        mine = [f for c, f in cleaned.items() if c.startswith(by_role[role]["stem"] + ".")]
        for name in {f for f in mine if mine.count(f) > 1}:
            raise KervanError(
                _("Two columns are mapped to '%(field)s'.") % {"field": labels[name]},
                "duplicate_field",
                field="mapping",
            )
        needed = "payment_amount" if role == "payments" else "review_rating"
        if needed not in mine:
            raise KervanError(
                _("Map a column of %(file)s to %(field)s.") % {"file": by_role[role]["name"], "field": labels[needed]},
                "missing_required_field",
                field="mapping",
            )
    check_mapping(ImportKind.ORDERS, list(order_group), order_group)
    return cleaned


def join_counts(job: ImportJob, files: Files | None = None) -> dict:
    """{child role: {"file", "parent", "column", "parent_column", "rows", "joined", "orphans"}} for each join."""
    config = job.options.get("related") or {}
    by_role = files_by_role(job)
    own = files is None
    if own:
        files = Files(job.file.path)
    try:
        keys: dict[tuple[str, str], list[str]] = {}

        def column(info: dict, name: str) -> list[str]:
            key = (info["name"], name)
            if key not in keys:
                table = files.table(info["name"])
                i = table.columns.index(name)
                keys[key] = [cells[i].strip() for _n, cells in table.rows()]
            return keys[key]

        counts = {}
        for role, (child_column, parent_column) in config.get("joins", {}).items():
            parent_role = PARENTS[role]
            if role not in by_role or parent_role not in by_role:
                continue
            child, parent = by_role[role], by_role[parent_role]
            wanted = set(column(parent, parent_column))
            values = column(child, child_column)
            joined = sum(1 for v in values if v and v in wanted)
            counts[role] = {
                "file": child["name"],
                "parent": parent["name"],
                "column": child_column,
                "parent_column": parent_column,
                "rows": len(values),
                "joined": joined,
                "orphans": len(values) - joined,
            }
        return counts
    finally:
        if own:
            files.close()


def check_joins(job: ImportJob) -> None:
    """Count the joins again if the user changed them (or a file's role) since they were counted, and refuse one
    that joins nothing."""
    counts = (job.facts or {}).get("joins", {})
    by_role = files_by_role(job)
    wanted = {
        role: (by_role[role]["name"], by_role[PARENTS[role]]["name"], *pair)
        for role, pair in job.options["related"]["joins"].items()
    }
    counted = {role: (c["file"], c["parent"], c["column"], c["parent_column"]) for role, c in counts.items()}
    if wanted != counted:
        counts = join_counts(job)
    job.facts["joins"] = counts
    for count in counts.values():
        if count["rows"] and not count["joined"]:
            raise KervanError(
                _("No row of %(file)s joins %(parent)s: no value of its column '%(column)s' is in the column "
                  "'%(parent_column)s'. Choose the columns that join them.") % count,
                "join_matches_nothing",
                field="related",
            )  # fmt: skip


def start_check(job: ImportJob, mapping, options: dict | None) -> None:
    """What import_job_start checks of related files before queueing them: roles, joins, mapping, settings."""
    merged = dict(job.options)
    given = (options or {}).get("related") if isinstance(options, dict) else None
    merged.update({k: v for k, v in (options or {}).items() if k != "related"})
    related = clean_related(given, job)
    settings = {k: v for k, v in merged.items() if k != "related"}
    merged = clean_settings(settings, source=job.source).as_dict()
    merged["related"] = related
    job.options = merged
    job.mapping = check_related_mapping(job, job.mapping if mapping is None else mapping)
    check_joins(job)


# -- the run ---------------------------------------------------------------------------------------------------------


class _JoinedTable:
    """The customers, orders and items files as one order-line table (what OrderImport reads)."""

    def __init__(self, columns: list[str], rows) -> None:
        self.columns = columns
        self._rows = rows

    def rows(self):
        return self._rows()


class RelatedImport:
    """Checks every file, then writes orders (through the order import's plan and writer), payments and reviews in
    the caller's one transaction."""

    def __init__(self, *, job: ImportJob, table, actor, progress: Progress, report: Report) -> None:
        del table  # the job's file is a zip: its files are read here
        self.job = job
        self.actor = actor
        self.progress = progress
        self.report = report
        self.rows_seen = 0
        self.timings: dict[str, float] = {}
        self.summary: dict = {}
        self.orders = None  # the inner OrderImport
        self.config = job.options.get("related") or {}
        self.by_role = files_by_role(job)
        self.payments: dict[str, list[tuple]] = {}  # order key → [(row, values)]
        self.reviews: list[tuple] = []  # (row, order key, values)
        self.orphans: dict[str, int] = {}
        self.counts = {"payments": 0, "payments_unchanged": 0, "reviews": 0, "reviews_unchanged": 0}

    def timed(self, step: str):
        from kervan.imports.base import Importer

        return Importer.timed(self, step)  # type: ignore[arg-type]

    # -- checking ----------------------------------------------------------------------------------------------------

    def check(self) -> None:
        from kervan.imports.orders import OrderImport

        with Files(self.job.file.path) as files:
            self.files = files
            with self.timed("join_seconds"):
                table = self._joined(files)
            inner_job = copy.copy(self.job)
            inner_job.kind = ImportKind.ORDERS
            inner_job.mapping = {c: f for c, f in self.job.mapping.items() if c in self._order_columns}
            inner_job.options = {k: v for k, v in self.job.options.items() if k != "related"}
            self.orders = OrderImport(
                job=inner_job, table=table, actor=self.actor, progress=self.progress, report=self.report
            )
            self.orders.check()
            self.rows_seen += self.orders.rows_seen - self._order_rows_again  # each file's row counted once
            self.settings = self.orders.settings
            when = datetime_parser(self.settings.date_order, self.orders._zone())
            self.amount = amount_parser(self.settings.decimal)
            self.when = memoized(when)
            with self.timed("payments_reviews_seconds"):
                if "payments" in self.by_role:
                    self._read_payments(files)
                if "reviews" in self.by_role:
                    self._read_reviews(files)
                self._attach()
        self.timings.update(self.orders.timings)

    def _cells(self, files: Files, role: str):
        info = self.by_role[role]
        table = files.table(info["name"])
        if table.columns != info["columns"]:
            raise KervanError(
                _("%(file)s has changed since it was uploaded.") % {"file": info["name"]}, "unreadable_file"
            )
        return info, table

    def _joined(self, files: Files) -> _JoinedTable:
        joins = self.config.get("joins", {})
        present = [r for r in ORDER_ROLES if r in self.by_role]
        columns = [f"{self.by_role[r]['stem']}.{c}" for r in present for c in self.by_role[r]["columns"]]
        self._order_columns = set(columns)
        widths = {r: len(self.by_role[r]["columns"]) for r in present}
        empty = {r: [""] * widths[r] for r in present}
        customers: dict[str, list[str]] = {}
        if "customers" in present and "orders" in joins:
            info, table = self._cells(files, "customers")
            key = info["columns"].index(joins["orders"][1])
            for _n, cells in table.rows():
                self.rows_seen += 1
                customers.setdefault(cells[key].strip(), cells)
        info, table = self._cells(files, "orders")
        orders: dict[str, tuple[int, list[str]]] = {}
        customer_of = info["columns"].index(joins["orders"][0]) if customers or "orders" in joins else None
        item_key = None
        if "items" in present:
            item_key = info["columns"].index(joins["items"][1])
        number_column = next(
            (c for c, f in self.job.mapping.items() if f == "order_number" and c.startswith(info["stem"] + ".")), None
        )
        number_index = info["columns"].index(number_column[len(info["stem"]) + 1 :]) if number_column else None
        self.order_number_of: dict[str, str] = {}  # a child's join value → the order number
        keys_of = {}
        for role in ("payments", "reviews"):
            if role in joins:
                keys_of[role] = info["columns"].index(joins[role][1])
        customer_orphans = 0
        order_rows = []
        for number, cells in table.rows():
            self.rows_seen += 1
            order_number = cells[number_index].strip() if number_index is not None else ""
            for index in {*keys_of.values(), *([item_key] if item_key is not None else [])}:
                self.order_number_of.setdefault(cells[index].strip(), order_number)
            part = {"orders": cells}
            if "customers" in present:
                found = customers.get(cells[customer_of].strip()) if customer_of is not None else None
                if found is None:
                    customer_orphans += 1
                part["customers"] = found or empty["customers"]
            order_rows.append((number, part))
            if item_key is not None:
                orders.setdefault(cells[item_key].strip(), (number, part))
        if "customers" in present:
            self.orphans["orders"] = customer_orphans
        self._orders_by_key = orders
        self._order_rows_again = 0  # joined rows that are an orders file's row without items (counted already)
        item_info = self.by_role.get("items")

        def rows():
            if item_info is None:
                self._order_rows_again = len(order_rows)
                for number, part in order_rows:
                    yield number, [cell for r in present for cell in part[r]]
                return
            _info, items = self._cells(files, "items")
            key = item_info["columns"].index(joins["items"][0])
            seen: set[int] = set()
            orphans = 0
            for number, cells in items.rows():
                found = orders.get(cells[key].strip())
                if found is None:
                    orphans += 1
                    self.report.error(
                        number,
                        f"{item_info['stem']}.{joins['items'][0]}",
                        cells[key],
                        _("%(file)s, row %(row)s: its order is not in %(parent)s.")
                        % {"file": item_info["name"], "row": number, "parent": self.by_role["orders"]["name"]},
                        "orphan_row",
                    )
                    self.report.skipped += 1
                    continue
                seen.add(id(found[1]))
                part = found[1]
                yield number, [cell for r in present for cell in (cells if r == "items" else part[r])]
            self.orphans["items"] = orphans
            for number, part in order_rows:  # orders without items: one row without line cells
                if id(part) not in seen:
                    self._order_rows_again += 1
                    yield number, [cell for r in present for cell in (empty[r] if r == "items" else part[r])]

        return _JoinedTable(columns, rows)

    def _mapped(self, role: str) -> list[tuple[str, int, str]]:
        """(field, index in the file, column as the report names it) of a file's mapped columns."""
        info = self.by_role[role]
        prefix = info["stem"] + "."
        found = []
        for column, field in self.job.mapping.items():
            if column.startswith(prefix) and column[len(prefix) :] in info["columns"]:
                found.append((field, info["columns"].index(column[len(prefix) :]), column))
        return found

    def _read(self, files: Files, role: str, parsers: dict):
        info, table = self._cells(files, role)
        join_column = self.config["joins"][role][0]
        key_index = info["columns"].index(join_column)
        plan = [(f, i, c, parsers[f]) for f, i, c in self._mapped(role)]
        orphans = 0
        for number, cells in table.rows():
            self.rows_seen += 1
            key = cells[key_index].strip()
            if key not in self.order_number_of:
                orphans += 1
                self.report.error(
                    number,
                    f"{info['stem']}.{join_column}",
                    key,
                    _("%(file)s, row %(row)s: its order is not in %(parent)s.")
                    % {"file": info["name"], "row": number, "parent": self.by_role["orders"]["name"]},
                    "orphan_row",
                )
                self.report.skipped += 1
                continue
            values = {}
            bad = False
            for field, i, column, parse in plan:
                raw = cells[i].strip()
                if not raw:
                    continue
                try:
                    values[field] = parse(raw)
                except KervanError as exc:
                    self.report.error(number, column, raw, exc.detail, exc.code)
                    bad = True
            if bad:
                self.report.skipped += 1
                continue
            yield number, self.order_number_of[key], values
        self.orphans[role] = orphans

    def _read_payments(self, files: Files) -> None:
        parsers = {
            "payment_amount": self.amount,
            "payment_method": memoized(payment_method),
            "payment_installments": memoized(parse_installments),
            "payment_date": self.when,
            "payment_sequence": text(40),
            "payment_provider": memoized(text(40)),
            "payment_reference": text(100),
            "payment_status": memoized(payment_status),
        }
        info = self.by_role["payments"]
        amount_column = next(c for f, _i, c in self._mapped("payments") if f == "payment_amount")
        for number, order_number, values in self._read(files, "payments", parsers):
            if "payment_amount" not in values:
                self.report.error(number, amount_column, "", _("A payment needs its amount."), "missing_amount")
                self.report.skipped += 1
                continue
            if values["payment_amount"] < 0:
                self.report.error(
                    number, amount_column, str(values["payment_amount"]), _("A payment cannot be negative."),
                    "invalid_amount",
                )  # fmt: skip
                self.report.skipped += 1
                continue
            self.payments.setdefault(order_number, []).append((number, values))
        del info

    def _read_reviews(self, files: Files) -> None:
        parsers = {
            "review_id": text(100),
            "review_rating": memoized(parse_rating),
            "review_title": text(255),
            "review_text": str.strip,
            "review_date": self.when,
            "review_sku": memoized(text(64)),
        }
        info = self.by_role["reviews"]
        rating_column = next(c for f, _i, c in self._mapped("reviews") if f == "review_rating")
        id_column = next((c for f, _i, c in self._mapped("reviews") if f == "review_id"), "")
        seen: set[str] = set()
        per_order: dict[str, int] = {}
        for number, order_number, values in self._read(files, "reviews", parsers):
            if "review_rating" not in values:
                self.report.error(number, rating_column, "", _("A review needs its rating."), "missing_rating")
                self.report.skipped += 1
                continue
            external = values.get("review_id")
            if not external:
                per_order[order_number] = per_order.get(order_number, 0) + 1
                external = f"{order_number}/{per_order[order_number]}"
            if external in seen:
                self.report.error(
                    number, id_column, external, _("The review %(id)s is in the file twice; the first is kept.")
                    % {"id": external}, "duplicate_review",
                )  # fmt: skip
                self.report.skipped += 1
                continue
            seen.add(external)
            self.reviews.append((number, order_number, external, values))
        del info

    def _attach(self) -> None:
        """Payments onto the planned orders; those and the reviews of orders imported before are found in the
        database; reviews imported before are left as they are."""
        from kervan.catalog.models import Variant
        from kervan.feedback.models import Review
        from kervan.imports.orders_amounts import PaymentPlan
        from kervan.orders.models import Order

        plan = self.orders.planned
        self.planned_index = {o.number: i for i, o in enumerate(plan.orders) if not o.document}
        numbers = sorted(({n for n in self.payments} | {r[1] for r in self.reviews}) - set(self.planned_index))
        self.existing: dict[str, tuple[int, int, dt.datetime]] = {}
        if numbers and plan.source_id is not None:
            from kervan.imports.orders_amounts import as_datetime

            sql = f"SELECT external_id, id, customer_id, placed_at FROM {Order._meta.db_table} WHERE source_id = %s"
            for number, pk, customer, placed in bulk.select_where_in(sql, "external_id", numbers, (plan.source_id,)):
                self.existing[number] = (pk, customer, as_datetime(placed))
        self.later_payments: list[tuple] = []
        skipped_rows = 0
        for number, rows in self.payments.items():
            index = self.planned_index.get(number)
            for _row, values in rows:
                if index is not None:
                    order = plan.orders[index]
                    order.payments.append(self._payment(PaymentPlan, values, order.placed_at, number))
                    self.counts["payments"] += 1
                elif number in self.existing:
                    pk, _customer, placed = self.existing[number]
                    self.later_payments.append((pk, self._payment(PaymentPlan, values, placed, number)))
                else:
                    skipped_rows += 1  # its order was not imported: that order's error is reported
        self.report.imported += self.counts["payments"]
        # Reviews: those stored before for this source are unchanged.
        externals = sorted({r[2] for r in self.reviews})
        stored: set[str] = set()
        if externals:
            sql = f"SELECT external_id FROM {Review._meta.db_table} WHERE source_id = %s"
            stored = {row[0] for row in bulk.select_where_in(sql, "external_id", externals, (plan.source_id,))}
        skus = sorted({r[3]["review_sku"] for r in self.reviews if r[3].get("review_sku")})
        self.products: dict[str, int] = {}
        for start in range(0, len(skus), 900):
            for sku, product in Variant.objects.filter(sku__in=skus[start : start + 900]).values_list(
                "sku", "product_id"
            ):
                self.products[sku] = product
        kept = []
        for row, number, external, values in self.reviews:
            if external in stored:
                self.counts["reviews_unchanged"] += 1
                self.report.unchanged += 1
            elif number in self.planned_index or number in self.existing:
                kept.append((row, number, external, values))
            else:
                skipped_rows += 1
        self.reviews = kept
        self.counts["reviews"] = len(kept)
        self.report.imported += len(kept)
        self.report.skipped += skipped_rows
        self.counts["payments_skipped_with_their_order"] = skipped_rows

    def _payment(self, plan_class, values: dict, placed_at: dt.datetime, number: str):
        sequence = values.get("payment_sequence", "")
        return plan_class(
            amount=values["payment_amount"],
            at=values.get("payment_date") or placed_at,
            method=values.get("payment_method", "card"),
            installments=values.get("payment_installments", 1),
            provider=values.get("payment_provider", ""),
            reference=values.get("payment_reference") or (f"{number}/{sequence}"[:100] if sequence else ""),
        )

    # -- writing -----------------------------------------------------------------------------------------------------

    def reserve(self) -> dict[str, int]:
        return self.orders.reserve()

    def write(self, first_ids: dict[str, int]) -> None:
        from kervan.customers.models import Customer
        from kervan.orders.models import Order

        self.orders.write(first_ids)
        first_order = first_ids.get(Order._meta.db_table, 0)
        first_customer = first_ids.get(Customer._meta.db_table, 0)
        plan = self.orders.planned
        with self.timed("payments_reviews_write_seconds"):
            self._later_payments()
            self._write_reviews(plan, first_order, first_customer)
        self.timings.update(self.orders.timings)
        joins = (self.job.facts or {}).get("joins", {})
        self.summary = {
            **self.orders.summary,
            **self.counts,
            "orphans": {role: self.orphans.get(role, 0) for role in joins},
        }

    def _later_payments(self) -> None:
        """Payments of orders imported before: added unless the order has one with the same reference and amount."""
        from kervan.imports.orders_write import PAYMENT_COLUMNS
        from kervan.orders.models import Order, Payment

        if not self.later_payments:
            return
        ids = sorted({pk for pk, _p in self.later_payments})
        sql = f"SELECT order_id, reference, amount FROM {Payment._meta.db_table} WHERE 1 = 1"
        have = {(o, r, Decimal(str(a))) for o, r, a in bulk.select_where_in(sql, "order_id", ids)}
        currency = dict(bulk.select_where_in(f"SELECT id, currency FROM {Order._meta.db_table} WHERE 1 = 1", "id", ids))
        rows = []
        for pk, payment in self.later_payments:
            key = (pk, payment.reference, payment.amount)
            if key in have:
                self.counts["payments_unchanged"] += 1
                self.report.unchanged += 1
                continue
            have.add(key)
            rows.append(
                (pk, str(payment.amount), currency[pk], payment.method, payment.provider, payment.reference,
                 payment.installments, Payment.Status.CAPTURED, bulk.db_datetime(payment.at))
            )  # fmt: skip
        bulk.insert_rows(Payment._meta.db_table, PAYMENT_COLUMNS, rows)
        self.counts["payments"] += len(rows)
        self.report.imported += len(rows)

    def _write_reviews(self, plan, first_order: int, first_customer: int) -> None:
        from kervan.feedback.models import Review

        if not self.reviews:
            return
        now = bulk.db_datetime(clock.now())
        source_id = plan.source_id
        rows = []
        times: dict[dt.datetime, str] = {}

        def when(value: dt.datetime) -> str:  # converted once per distinct time (reviews are dated by the day)
            text = times.get(value)
            if text is None:
                text = times[value] = bulk.db_datetime(value)
            return text

        for _row, number, external, values in self.reviews:
            index = self.planned_index.get(number)
            if index is not None:
                order = plan.orders[index]
                order_id = first_order + index
                owner = order.owner
                customer_id = owner if owner >= 0 else first_customer - 1 - owner
                placed = order.placed_at
            else:
                order_id, customer_id, placed = self.existing[number]
            rows.append(
                (customer_id, order_id, self.products.get(values.get("review_sku", "")), values["review_rating"],
                 values.get("review_title", ""), values.get("review_text", ""),
                 when(values.get("review_date") or placed), source_id, external[:100], now)
            )  # fmt: skip
        bulk.insert_rows(
            Review._meta.db_table,
            ("customer_id", "order_id", "product_id", "rating", "title", "text", "submitted_at", "source_id",
             "external_id", "created_at"),
            rows,
        )  # fmt: skip
