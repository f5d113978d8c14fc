"""Customer import, built for files of a million rows.

Rows are checked in Python with the same rules as customers.actions.clean_profile (emails and phones normalised,
birth dates in range, two-letter countries …), matched to existing customers by email, then phone (an email or
phone seen earlier in the same file counts too), and written in bulk: new customers with their Identity rows,
CustomerStats rows, tags and consent records by COPY on PostgreSQL or executemany on SQLite; changed customers by
one UPDATE each. An empty cell never erases a value; tags are added, never removed.
"""

import datetime as dt
import json
import re

from django.conf import settings
from django.utils import timezone

from kervan.core.emails import normalize_email
from kervan.core.errors import KervanError
from kervan.core.phones import normalize_phone
from kervan.core.text import search_fold
from kervan.customers.custom_fields import clean_custom_fields
from kervan.customers.models import (
    ConsentRecord,
    Customer,
    CustomerStats,
    CustomFieldDefinition,
    Identity,
    Tag,
)
from kervan.imports import bulk
from kervan.imports.base import Importer, memoized, text
from kervan.imports.fields import CUSTOM_PREFIX
from kervan.imports.values import parse_consent, parse_date, parse_gender, parse_tags, split_full_name

PROFILE = ("first_name", "last_name", "email", "phone", "birth_date", "gender", "city", "country", "language")
CHANNELS = ("email", "sms", "call", "whatsapp")
BATCH = 5000
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
LOOKUP_CHUNK = 900  # below SQLite's smallest limit on query parameters
PRELOAD_LIMIT = 3_000_000  # up to this many known emails/phones are read into memory at once

CUSTOMER_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "city",
    "country",
    "language",
    "time_zone",
    "custom_fields",
    "consent_email",
    "consent_sms",
    "consent_call",
    "consent_push",
    "consent_whatsapp",
    "search_key",
    "name_key",
    "source_id",
)
UPDATE_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "city",
    "country",
    "language",
    "custom_fields",
    "consent_email",
    "consent_sms",
    "consent_call",
    "consent_whatsapp",
    "search_key",
    "name_key",
    "updated_at",
)
STATS_COLUMNS = (
    "customer_id",
    "currency",
    "total_spent",
    "order_count",
    "average_order_value",
    "returns_count",
    "refunded_total",
)
IDENTITY_COLUMNS = ("kind", "value", "customer_id", "created_at")
CONSENT_COLUMNS = (
    "customer_id",
    "channel",
    "purpose",
    "status",
    "source",
    "proof",
    "occurred_at",
    "recorded_at",
    "actor_id",
    "address",
    "iys_channel",
    "iys_status",
    "iys_source",
    "iys_recipient_type",
)


def _country(raw: str) -> str:
    value = raw.strip().upper()
    if len(value) != 2 or not value.isalpha():
        raise KervanError("Use a two-letter country code such as TR.", "invalid_country")
    return value


def _language(raw: str) -> str:
    value = raw.strip().lower()
    if len(value) > 8 or not value.replace("-", "").isalpha():
        raise KervanError("Use a language code such as tr or en.", "invalid_language")
    return value


def _full_name(raw: str) -> tuple[str, str]:
    first, last = split_full_name(raw)
    if len(first) > 100 or len(last) > 100:
        raise KervanError("At most 100 characters for each of first and last name.", "too_long")
    return first, last


class CustomerImport(Importer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.today = timezone.localdate()
        self.definitions = {d.key: d for d in CustomFieldDefinition.objects.all()}
        self.required_custom = any(d.required for d in self.definitions.values())
        self.custom_mapped = any(field.startswith(CUSTOM_PREFIX) for field, _, _ in self.plan)
        self.batch: list[tuple[int, list[str], dict]] = []
        self.new: list[dict] = []  # customers to create, each the merged values of its rows
        self.new_email: dict[str, int] = {}  # identities to create → owner (≥ 0: existing id, < 0: -1 - new index)
        self.new_phone: dict[str, int] = {}
        self.db_email: dict[str, int] = {}  # identities already stored → customer id
        self.db_phone: dict[str, int] = {}
        self.known: dict[int, dict] = {}  # existing customers met in the file, as they will be
        self.dirty: set[int] = set()
        self.keys = search_keys()
        identity_count = Identity.objects.filter(kind__in=("email", "phone"), source__isnull=True).count()
        self.lookups = identity_count > PRELOAD_LIMIT
        if 0 < identity_count <= PRELOAD_LIMIT:
            self._preload_identities()

    # -- checking -----------------------------------------------------------------------------------------------

    def parser(self, field: str):
        if field in ("first_name", "last_name"):
            return text(100)
        if field == "city":
            return memoized(text(100))
        if field == "full_name":
            return _full_name
        if field == "email":
            return normalize_email
        if field == "phone":
            return normalize_phone
        if field == "birth_date":
            return memoized(self._birth_date)
        if field == "gender":
            return memoized(parse_gender)
        if field == "country":
            return memoized(_country)
        if field == "language":
            return memoized(_language)
        if field == "tags":
            return memoized(parse_tags)
        if field.startswith("consent_"):
            return memoized(parse_consent)
        if field.startswith(CUSTOM_PREFIX):
            return str.strip
        raise KervanError(f"Unknown field {field}.", "unknown_field")

    def _birth_date(self, raw: str) -> dt.date:
        value = parse_date(raw)
        if value > self.today or value.year < 1900:
            raise KervanError(f"'{raw}' is out of range for a birth date.", "invalid_date")
        return value

    def check_row(self, number: int, cells: list[str]) -> None:
        values = self.parse(number, cells)
        if values is None:
            self.report.skipped += 1
            return
        if "full_name" in values:
            values["first_name"], values["last_name"] = values.pop("full_name")
        if not values.get("email") and not values.get("phone"):
            self.row_error(
                number,
                cells,
                "email" if "email" in self.column_of else "phone",
                "A customer needs an email or a phone number.",
                "missing_identity",
            )
            self.report.skipped += 1
            return
        self.batch.append((number, cells, values))
        if len(self.batch) >= BATCH:
            self._resolve_batch()

    def finish_check(self) -> None:
        self._resolve_batch()

    def _preload_identities(self) -> None:
        rows = Identity.objects.filter(kind__in=("email", "phone"), source__isnull=True).values_list(
            "kind", "value", "customer_id"
        )
        for kind, value, customer_id in rows.iterator(chunk_size=20_000):
            (self.db_email if kind == "email" else self.db_phone)[value] = customer_id

    def _lookup(self, kind: str, values: set[str], into: dict[str, int]) -> None:
        wanted = [v for v in values if v not in into]
        sql = f"SELECT value, customer_id FROM {Identity._meta.db_table} WHERE kind = %s AND source_id IS NULL"
        into.update(bulk.select_where_in(sql, "value", wanted, (kind,)))

    def _resolve_batch(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        if self.lookups:
            self._lookup("email", {v["email"] for _, _, v in batch if v.get("email")}, self.db_email)
            self._lookup("phone", {v["phone"] for _, _, v in batch if v.get("phone")}, self.db_phone)
        if self.db_email or self.db_phone:
            wanted = set()
            for _, _, v in batch:
                for kind, db in (("email", self.db_email), ("phone", self.db_phone)):
                    owner = db.get(v.get(kind, ""))
                    if owner is not None and owner not in self.known:
                        wanted.add(owner)
            self._load_customers(wanted)
        for number, cells, values in batch:
            self._apply(number, cells, values)

    def _load_customers(self, ids: set[int]) -> None:
        """Read the customers the file's emails and phones point at, as they are now, with their tags."""
        ids_list = list(ids)
        columns = ("id", "merged_into_id", *PROFILE, "custom_fields", *(f"consent_{c}" for c in CHANNELS))
        table = Customer._meta.db_table
        survivors = {}
        sql = f"SELECT {', '.join(columns)} FROM {table} WHERE 1 = 1"
        for row in bulk.select_where_in(sql, "id", ids_list):
            values = dict(zip(columns, row, strict=True))
            customer_id = values.pop("id")
            if values.pop("merged_into_id"):
                survivors[customer_id] = row[1]
                continue
            if isinstance(values["birth_date"], str):  # SQLite hands back text
                values["birth_date"] = dt.date.fromisoformat(values["birth_date"])
            if isinstance(values["custom_fields"], str):
                values["custom_fields"] = json.loads(values["custom_fields"])
            values["tags"] = set()
            self.known[customer_id] = values
        tags_sql = (
            f"SELECT ct.customer_id, t.name FROM {Customer.tags.through._meta.db_table} ct "
            f"JOIN {Tag._meta.db_table} t ON t.id = ct.tag_id WHERE 1 = 1"
        )
        for customer_id, name in bulk.select_where_in(tags_sql, "ct.customer_id", ids_list):
            if customer_id in self.known:
                self.known[customer_id]["tags"].add(name)
        if survivors:  # an identity still on a merged profile: the survivor is the customer
            self._load_customers(set(survivors.values()) - set(self.known))
            for merged, survivor in survivors.items():
                self.known[merged] = self.known.get(survivor, {})
                self.known[merged]["_id"] = survivor

    def _owner(self, kind: str, value: str) -> int | None:
        if not value:
            return None
        new = self.new_email if kind == "email" else self.new_phone
        owner = new.get(value)
        if owner is None:
            owner = (self.db_email if kind == "email" else self.db_phone).get(value)
            if owner is not None and "_id" in self.known.get(owner, {}):
                owner = self.known[owner]["_id"]
        return owner

    def _apply(self, number: int, cells: list[str], values: dict) -> None:
        email, phone = values.get("email", ""), values.get("phone", "")
        by_email, by_phone = self._owner("email", email), self._owner("phone", phone)
        if by_email is not None and by_phone is not None and by_email != by_phone:
            self.row_error(
                number,
                cells,
                "phone",
                "This phone number belongs to a different customer than the email.",
                "identity_conflict",
            )
            self.report.skipped += 1
            return
        owner = by_email if by_email is not None else by_phone
        target = None if owner is None else (self.new[-1 - owner] if owner < 0 else self.known[owner])
        custom = {}
        if self.custom_mapped:
            custom = {
                k[len(CUSTOM_PREFIX) :]: values.pop(k) for k in [k for k in values if k.startswith(CUSTOM_PREFIX)]
            }
        if custom or (target is None and self.required_custom):
            base = (target or {}).get("custom_fields") or {}
            try:
                cleaned = clean_custom_fields(custom, definitions=self.definitions, existing=base)
            except KervanError as exc:
                field = CUSTOM_PREFIX + (exc.field or "")
                self.row_error(number, cells, field, exc.detail, exc.code)
                self.report.skipped += 1
                return
            values["custom_fields"] = cleaned
        if target is None:
            owner = -1 - len(self.new)
            self.new.append(values)
            self.report.imported += 1
        elif owner < 0:
            _merge(target, values)
            self.report.updated += 1
        elif _update(target, values):
            self.dirty.add(owner)
            self.report.updated += 1
        else:
            self.report.unchanged += 1
        if email and by_email is None:
            self.new_email[email] = owner
        if phone and by_phone is None:
            self.new_phone[phone] = owner

    # -- writing ------------------------------------------------------------------------------------------------

    def reserve(self) -> dict[str, int]:
        return {Customer._meta.db_table: len(self.new)}

    def write(self, first_ids: dict[str, int]) -> None:
        from kervan.imports.sources import import_source

        first = first_ids.get(Customer._meta.db_table, 0)
        now = timezone.now()
        self.now_db = bulk.db_datetime(now)
        self.source_id = import_source().pk
        with self.timed("tags_seconds"):
            tag_ids = self._tag_ids()
        if self.new:
            with self.timed("customers_seconds"):
                self._insert_customers(first)
            with self.timed("stats_seconds"):
                self._insert_stats(first)
        with self.timed("identities_seconds"):
            self._insert_identities(first)
        with self.timed("updates_seconds"):
            self._update_customers()
        with self.timed("tags_seconds"):
            tags_table = Customer.tags.through._meta.db_table
            bulk.insert_rows(tags_table, ("customer_id", "tag_id"), self._tag_rows(first, tag_ids))
        if any(field.startswith("consent_") for field in self.column_of):
            with self.timed("consents_seconds"):
                bulk.insert_rows(ConsentRecord._meta.db_table, CONSENT_COLUMNS, self._consent_rows(first))

    def _tag_ids(self) -> dict[str, int]:
        names = set()
        for values in self.new:
            names.update(values.get("tags", ()))
        for cid in self.dirty:
            names.update(self.known[cid].get("_new_tags", ()))
        if not names:
            return {}
        Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True, batch_size=500)
        ids = {}
        names_list = sorted(names)
        for start in range(0, len(names_list), LOOKUP_CHUNK):
            chunk = names_list[start : start + LOOKUP_CHUNK]
            ids.update(Tag.objects.filter(name__in=chunk).values_list("name", "id"))
        return ids

    def _insert_customers(self, first: int) -> None:
        table = Customer._meta.db_table
        if bulk.is_postgresql():
            bulk.copy_lines(table, CUSTOMER_COLUMNS, self._customer_lines(first))
        else:
            bulk.insert_rows(table, CUSTOMER_COLUMNS, self._customer_rows(first, null=None))

    def _customer_rows(self, first: int, null):
        """One tuple per new customer; every value a str except the id and an empty birth date (`null`)."""
        now, source = self.now_db, str(self.source_id)
        country, zone = settings.KERVAN_DEFAULT_COUNTRY, settings.TIME_ZONE
        keys = self.keys
        for i, v in enumerate(self.new):
            first_name = v.get("first_name", "")
            last_name = v.get("last_name", "")
            email = v.get("email", "")
            phone = v.get("phone", "")
            city = v.get("city", "")
            birth = v.get("birth_date")
            custom = v.get("custom_fields")
            search_key, name_key = keys(first_name, last_name, email, phone, city)
            yield (
                first + i,
                now,
                now,
                first_name,
                last_name,
                email,
                phone,
                birth.isoformat() if birth else null,
                v.get("gender", ""),
                city,
                v.get("country", country),
                v.get("language", "tr"),
                zone,
                bulk.db_json(custom) if custom else "{}",
                v.get("consent_email", ""),
                v.get("consent_sms", ""),
                v.get("consent_call", ""),
                "",
                v.get("consent_whatsapp", ""),
                search_key,
                name_key,
                source,
            )

    def _customer_lines(self, first: int):
        """COPY text lines. Only the free-text cells can hold a character COPY must escape; they are checked
        once per row and the rare row that needs it takes the general path."""
        special = _COPY_SPECIAL.search
        for row in self._customer_rows(first, null="\\N"):
            if special(row[3]) or special(row[4]) or special(row[5]) or special(row[9]) or special(row[13]):
                yield bulk.pg_line(row[:7] + ((None,) if row[7] == "\\N" else row[7:8]) + row[8:])
            else:
                yield f"{row[0]}\t" + "\t".join(row[1:]) + "\n"

    def _insert_stats(self, first: int) -> None:
        currency = settings.KERVAN_DEFAULT_CURRENCY
        table = CustomerStats._meta.db_table
        ids = range(first, first + len(self.new))
        if bulk.is_postgresql():
            bulk.copy_lines(table, STATS_COLUMNS, (f"{i}\t{currency}\t0\t0\t0\t0\t0\n" for i in ids))
        else:
            bulk.insert_rows(table, STATS_COLUMNS, ((i, currency, "0", 0, "0", 0, "0") for i in ids))

    def _insert_identities(self, first: int) -> None:
        now = self.now_db

        def rows():
            for kind, new in (("email", self.new_email), ("phone", self.new_phone)):
                for value, owner in new.items():
                    yield kind, value, (first - 1 - owner) if owner < 0 else owner, now

        def lines():
            special = _COPY_SPECIAL.search
            for row in rows():
                yield bulk.pg_line(row) if special(row[1]) else f"{row[0]}\t{row[1]}\t{row[2]}\t{now}\n"

        table = Identity._meta.db_table
        if bulk.is_postgresql():
            bulk.copy_lines(table, IDENTITY_COLUMNS, lines())
        else:
            bulk.insert_rows(table, IDENTITY_COLUMNS, rows())

    def _update_customers(self) -> None:
        rows = []
        for cid in sorted(self.dirty):
            c = self.known[cid]
            rows.append(
                (
                    *(c[f] for f in PROFILE),
                    bulk.db_json(c["custom_fields"] or {}),
                    *(c[f"consent_{ch}"] for ch in CHANNELS),
                    *self.keys(c["first_name"], c["last_name"], c["email"], c["phone"], c["city"]),
                    self.now_db,
                    cid,
                )
            )
        bulk.update_rows(Customer._meta.db_table, UPDATE_COLUMNS, rows)

    def _tag_rows(self, first: int, tag_ids: dict[str, int]):
        for i, values in enumerate(self.new):
            for name in set(values.get("tags", ())):
                yield first + i, tag_ids[name]
        for cid in sorted(self.dirty):
            for name in self.known[cid].get("_new_tags", ()):
                yield cid, tag_ids[name]

    def _consent_rows(self, first: int):
        proof = f"Import #{self.job.pk}: {self.job.file_name}"[:1000]
        actor_id = getattr(self.actor, "user_id", None)
        now = self.now_db

        def row(cid, channel, status, address):
            return (
                cid,
                channel,
                ConsentRecord.Purpose.MARKETING,
                status,
                "import",
                proof,
                now,
                now,
                actor_id,
                address,
                ConsentRecord.IYS_CHANNEL[channel],
                "ONAY" if status == "granted" else "RET",
                "",
                ConsentRecord.RecipientType.INDIVIDUAL,
            )

        for i, values in enumerate(self.new):
            for channel in CHANNELS:
                status = values.get(f"consent_{channel}")
                if status:
                    address = values.get("email", "") if channel == "email" else values.get("phone", "")
                    yield row(first + i, channel, status, address)
        for cid in sorted(self.dirty):
            c = self.known[cid]
            for channel in c.get("_new_consents", ()):
                address = c["email"] if channel == "email" else c["phone"]
                yield row(cid, channel, c[f"consent_{channel}"], address)


def search_keys():
    """customer_search_key and customer_name_key, the same values, computed from cached folds of the name and
    city parts: folding is per character (Turkish lower-casing, accents dropped, spaces collapsed), so folding the
    parts and joining them equals folding the joined text; e-mails are already lower-case and phones are ASCII.
    A million rows have a few thousand distinct names and cities, so this is much faster than folding each row."""
    fold = memoized(search_fold)

    def keys(first_name: str, last_name: str, email: str, phone: str, city: str) -> tuple[str, str]:
        first = fold(first_name) if first_name else ""
        last = fold(last_name) if last_name else ""
        national = "0" + phone[3:] if phone.startswith("+90") else ""
        if email and not email.isascii():
            email = search_fold(email)
        parts = (first, last, email, phone, national, fold(city) if city else "")
        name_key = f"{first} {last}" if first and last else first or last
        return " ".join([p for p in parts if p]), name_key

    return keys


def _merge(pending: dict, values: dict) -> None:
    """A later row about a customer created earlier in the same file: its non-empty values win, tags add up."""
    for key, value in values.items():
        if key == "tags":
            pending["tags"] = list(dict.fromkeys([*pending.get("tags", ()), *value]))
        else:
            pending[key] = value


def _update(current: dict, values: dict) -> bool:
    """Apply a row to an existing customer's values; True if anything changed."""
    changed = False
    for key, value in values.items():
        if key == "tags":
            new = set(value) - current["tags"]
            if new:
                current["tags"] |= new
                current.setdefault("_new_tags", set()).update(new)
                changed = True
        elif current.get(key) != value:
            current[key] = value
            if key.startswith("consent_"):
                current.setdefault("_new_consents", set()).add(key[len("consent_") :])
            changed = True
    return changed
