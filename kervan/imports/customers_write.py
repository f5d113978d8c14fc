"""Writing a checked customer import in bulk: COPY on PostgreSQL, executemany on SQLite, in the caller's transaction.

New customers get ids from a range taken up front, so their Identity rows (email, phone), CustomerStats rows, tags
and consent records can be written in the same pass; changed customers get one UPDATE each.
"""

import re
import time

from django.conf import settings

from kervan.core import clock
from kervan.core.emails import email_match_key
from kervan.customers.consent_state import consent_caches_refresh
from kervan.customers.models import ConsentRecord, Customer, CustomerStats, Identity, Tag
from kervan.customers.profile import PROFILE_FIELDS
from kervan.customers.stats import stats_create_empty
from kervan.imports import bulk

# A file sets every profile field but the time zone (new customers get the store's).
PROFILE = tuple(f for f in PROFILE_FIELDS if f != "time_zone")
CHANNELS = ("email", "sms", "call", "whatsapp")
# fmt: off
CUSTOMER_COLUMNS = (
    "id", "created_at", "updated_at", "first_name", "last_name", "email", "phone", "birth_date", "gender", "city",
    "country", "language", "time_zone", "custom_fields", "consent_email", "consent_sms", "consent_call",
    "consent_push", "consent_whatsapp", "search_key", "name_key", "source_id", "email_key",
)
UPDATE_COLUMNS = (*PROFILE, "custom_fields", *(f"consent_{c}" for c in CHANNELS), "search_key", "name_key",
                  "updated_at", "email_key")
IDENTITY_COLUMNS = ("kind", "value", "customer_id", "created_at")
CONSENT_COLUMNS = (
    "customer_id", "channel", "purpose", "status", "source", "proof", "occurred_at", "recorded_at", "actor_id",
    "address", "iys_channel", "iys_status", "iys_source", "iys_recipient_type",
)
# fmt: on
# Written in bulk; on a big first import their indexes are built after the rows are in (bulk.indexes_built_after).
BULK_TABLES = (
    Customer._meta.db_table,
    Identity._meta.db_table,
    CustomerStats._meta.db_table,
    Customer.tags.through._meta.db_table,
)
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
LOOKUP_CHUNK = 900


class CustomerWriter:
    """The write half of CustomerImport: reads self.new, self.known, self.dirty, self.new_email, self.new_phone."""

    def reserve(self) -> dict[str, int]:
        return {Customer._meta.db_table: len(self.new)}

    def write(self, first_ids: dict[str, int]) -> None:
        from kervan.imports.sources import import_source

        first = first_ids.get(Customer._meta.db_table, 0)
        now = clock.now()
        self.now_db = bulk.db_datetime(now)
        self.source_id = self.job.source_id or import_source().pk
        with self.timed("tags_seconds"):
            tag_ids = self._tag_ids()
        with bulk.indexes_built_after(BULK_TABLES, rows=len(self.new)) as rebuilt:
            # Rows in index order make each index grow at its right edge, much less work for a database that keeps
            # them up row by row; indexes built afterwards sort for themselves.
            self._write_rows(first, tag_ids, in_index_order=not rebuilt)
            rows_written = time.perf_counter()
        self.timings["indexes_seconds"] = round(time.perf_counter() - rows_written, 3)  # 0 unless rebuilt

    def _write_rows(self, first: int, tag_ids: dict[str, int], in_index_order: bool) -> None:
        if self.new:
            if in_index_order:
                with self.timed("sort_seconds"):
                    self._sort_new_by_email()
            with self.timed("customers_seconds"):
                self._insert_customers(first)
            with self.timed("stats_seconds"):
                self._insert_stats(first)
        with self.timed("identities_seconds"):
            self._insert_identities(first, in_index_order)
        with self.timed("updates_seconds"):
            self._update_customers()
        with self.timed("tags_seconds"):
            tags_table = Customer.tags.through._meta.db_table
            bulk.insert_rows(tags_table, ("customer_id", "tag_id"), self._tag_rows(first, tag_ids))
        if any(field.startswith("consent_") for field in self.column_of):
            with self.timed("consents_seconds"):
                bulk.insert_rows(ConsentRecord._meta.db_table, CONSENT_COLUMNS, self._consent_rows(first))
        moved = [cid for cid in self.dirty if self.known[cid].get("_new_addresses")]
        if moved:  # a new email/phone has its own consent, maybe on the ledger already: the file cannot know it
            with self.timed("consents_seconds"):
                consent_caches_refresh(moved)

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

    def _sort_new_by_email(self) -> None:
        """Give new customers their ids in email order: each index on the email (the customer's and the identity's)
        then grows at its right edge instead of at a random place, which is much less work for the database."""
        emails = [values.get("email", "") for values in self.new]
        order = sorted(range(len(self.new)), key=emails.__getitem__)
        rank = [0] * len(order)
        for position, i in enumerate(order):
            rank[i] = position
        self.new = [self.new[i] for i in order]
        for owners in (self.new_email, self.new_phone, getattr(self, "new_store_id", {})):
            for value, owner in owners.items():
                if owner < 0:
                    owners[value] = -1 - rank[-1 - owner]

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
                email_match_key(email) if email else "",
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
        stats_create_empty(range(first, first + len(self.new)), currency=settings.KERVAN_REPORTING_CURRENCY)

    def _insert_identities(self, first: int, in_index_order: bool) -> None:
        now = self.now_db

        def rows():
            for kind, new in (("email", self.new_email), ("phone", self.new_phone)):
                for value in sorted(new) if in_index_order else new:
                    owner = new[value]
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
        store_ids = getattr(self, "new_store_id", None)
        if store_ids:  # the shop's own customer ids, scoped to the import's source
            source_id = self.source_id
            bulk.insert_rows(
                table,
                (*IDENTITY_COLUMNS, "source_id"),
                (
                    ("source_id", value, (first - 1 - owner) if owner < 0 else owner, now, source_id)
                    for value, owner in store_ids.items()
                ),
            )

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
                    email_match_key(c["email"]) if c["email"] else "",
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
                    yield row(first + i, channel, status, _consent_address(channel, values))
        for cid in sorted(self.dirty):
            c = self.known[cid]
            for channel in c.get("_new_consents", ()):
                yield row(cid, channel, c[f"consent_{channel}"], _consent_address(channel, c))


def _consent_address(channel: str, values: dict) -> str:
    """The address a consent in the file covers, named as consent records name it (consent_state.consent_address):
    the mailbox of the row's email, or its phone."""
    if channel == "email":
        return email_match_key(values["email"]) if values.get("email") else ""
    return values.get("phone", "")
