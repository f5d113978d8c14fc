"""Customer import, built for files of a million rows.

Rows are checked in Python with the same rules as customers.profile (emails and phones normalised,
birth dates in range, two-letter countries …), matched to existing customers by email (its mailbox key,
kervan.core.emails.email_match_key, like every email look-up), then phone (an email or phone seen earlier in the
same file counts too), and written in bulk by CustomerWriter. An empty cell never
erases a value; tags are added, never removed.
"""

import datetime as dt
import functools
import json

from django.utils.translation import gettext as _

from kervan.core.emails import email_match_key, normalize_email
from kervan.core.errors import KervanError
from kervan.core.phones import normalize_phone
from kervan.customers.consent_state import ADDRESS_FIELD
from kervan.customers.custom_fields import clean_custom_fields
from kervan.customers.models import Customer, CustomFieldDefinition, Identity, Tag
from kervan.customers.profile import TEXT_LIMITS, clean_country, clean_language, clean_text
from kervan.customers.search import search_keys
from kervan.imports import bulk
from kervan.imports.base import Importer, memoized
from kervan.imports.customers_write import CHANNELS, PROFILE, CustomerWriter
from kervan.imports.fields import CUSTOM_PREFIX
from kervan.imports.values import parse_birth_date, parse_consent, parse_gender, parse_tags, split_full_name

BATCH = 5000
PRELOAD_LIMIT = 3_000_000  # up to this many known emails/phones are read into memory at once


def _full_name(raw: str) -> tuple[str, str]:
    first, last = split_full_name(raw)
    if len(first) > 100 or len(last) > 100:
        raise KervanError(_("At most 100 characters for each of first and last name."), "too_long")
    return first, last


class CustomerImport(CustomerWriter, Importer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.definitions = {d.key: d for d in CustomFieldDefinition.objects.all()}
        self.required_custom = any(d.required for d in self.definitions.values())
        self.custom_mapped = any(field.startswith(CUSTOM_PREFIX) for field, _, _ in self.plan)
        self.batch: list[tuple[int, list[str], dict]] = []
        self.new: list[dict] = []  # customers to create, each the merged values of its rows
        # identities to create → owner (≥ 0: existing id, < 0: -1 - new index); emails by their mailbox key
        self.new_email: dict[str, int] = {}
        self.new_phone: dict[str, int] = {}
        self.new_store_id: dict[str, int] = {}  # the shop's own customer ids (Identity "store customer id")
        self.db_email: dict[str, int] = {}  # identities already stored → customer id
        self.db_phone: dict[str, int] = {}
        self.db_store_id: dict[str, int] = {}
        self.source_id = self.job.source_id
        self.known: dict[int, dict] = {}  # existing customers met in the file, as they will be
        self.dirty: set[int] = set()
        self.keys = search_keys()
        identity_count = Identity.objects.filter(kind__in=("email", "phone"), source__isnull=True).count()
        self.lookups = identity_count > PRELOAD_LIMIT
        if 0 < identity_count <= PRELOAD_LIMIT:
            self._preload_identities()

    # -- checking -----------------------------------------------------------------------------------------------

    def parser(self, field: str):
        if field in TEXT_LIMITS:
            return memoized(functools.partial(clean_text, field=field))
        if field == "full_name":
            return _full_name
        if field == "email":
            return normalize_email
        if field == "phone":
            return normalize_phone
        if field == "birth_date":
            return memoized(parse_birth_date)
        if field == "gender":
            return memoized(parse_gender)
        if field == "country":
            return memoized(clean_country)
        if field == "language":
            return memoized(clean_language)
        if field == "tags":
            return memoized(parse_tags)
        if field.startswith("consent_"):
            return memoized(parse_consent)
        if field.startswith(CUSTOM_PREFIX):
            return str.strip
        if field == "customer_id":
            from kervan.imports.orders import store_customer_id

            return store_customer_id
        raise KervanError(_("Unknown field %(field)s.") % {"field": field}, "unknown_field")

    def check_row(self, number: int, cells: list[str]) -> None:
        values = self.parse(number, cells)
        if values is None:
            self.report.skipped += 1
            return
        if "full_name" in values:
            values["first_name"], values["last_name"] = values.pop("full_name")
        if not values.get("email") and not values.get("phone") and not values.get("customer_id"):
            field = next(f for f in ("email", "phone", "customer_id") if f in self.column_of)
            self.row_error(
                number,
                cells,
                field,
                _("A customer needs an email, a phone number or a customer id.")
                if "customer_id" in self.column_of
                else _("A customer needs an email or a phone number."),
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
        # Emails are matched by the mailbox they reach (identities hold that key), shown as typed.
        email_keys = [email_match_key(v["email"]) if v.get("email") else "" for _, _, v in batch]
        if self.lookups:
            self._lookup("email", {key for key in email_keys if key}, self.db_email)
            self._lookup("phone", {v["phone"] for _, _, v in batch if v.get("phone")}, self.db_phone)
        store_ids = {v["customer_id"] for _, _, v in batch if v.get("customer_id")}
        if store_ids and self.source_id is not None:
            wanted_ids = [i for i in store_ids if i not in self.db_store_id]
            sql = f"SELECT value, customer_id FROM {Identity._meta.db_table} WHERE kind = %s AND source_id = %s"
            self.db_store_id.update(bulk.select_where_in(sql, "value", wanted_ids, ("source_id", self.source_id)))
        if self.db_email or self.db_phone or self.db_store_id:
            wanted = set()
            for (_, _, v), email_key in zip(batch, email_keys, strict=True):
                for db, value in (
                    (self.db_store_id, v.get("customer_id", "")),
                    (self.db_email, email_key),
                    (self.db_phone, v.get("phone", "")),
                ):
                    owner = db.get(value)
                    if owner is not None and owner not in self.known:
                        wanted.add(owner)
            self._load_customers(wanted)
        for (number, cells, values), email_key in zip(batch, email_keys, strict=True):
            self._apply(number, cells, values, email_key)

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
        new = {"email": self.new_email, "phone": self.new_phone, "source_id": self.new_store_id}[kind]
        owner = new.get(value)
        if owner is None:
            owner = {"email": self.db_email, "phone": self.db_phone, "source_id": self.db_store_id}[kind].get(value)
            if owner is not None and "_id" in self.known.get(owner, {}):
                owner = self.known[owner]["_id"]
        return owner

    def _apply(self, number: int, cells: list[str], values: dict, email: str) -> None:
        """`email` is the row's email as its mailbox key ("" without one)."""
        phone = values.get("phone", "")
        store_id = values.pop("customer_id", "")
        by_store_id = self._owner("source_id", store_id)
        by_email, by_phone = self._owner("email", email), self._owner("phone", phone)
        if by_email is not None and by_phone is not None and by_email != by_phone:
            self.row_error(
                number,
                cells,
                "phone",
                _("This phone number belongs to a different customer than the email."),
                "identity_conflict",
            )
            self.report.skipped += 1
            return
        other = by_email if by_email is not None else by_phone
        if by_store_id is not None and other is not None and other != by_store_id:
            self.row_error(
                number,
                cells,
                "customer_id",
                _("This customer id belongs to a different customer than the email or phone number."),
                "identity_conflict",
            )
            self.report.skipped += 1
            return
        owner = by_store_id if by_store_id is not None else other
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
        if store_id and by_store_id is None:
            self.new_store_id[store_id] = owner


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
            if key in ("email", "phone"):
                current.setdefault("_new_addresses", set()).add(key)
            changed = True
    # A consent in the file is for the address in the file: for a new address it is recorded even when it equals the
    # cached state, which was the old address's.
    for key in values:
        channel = key[len("consent_") :]
        if key.startswith("consent_") and ADDRESS_FIELD[channel] in current.get("_new_addresses", ()):
            current.setdefault("_new_consents", set()).add(channel)
    return changed
