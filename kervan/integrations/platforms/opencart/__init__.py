"""OpenCart 4: no order API and no webhooks, so Kervan reads the shop's MySQL/MariaDB database with a read-only user
(client.py), on a schedule (kervan.integrations.backfill.connections_poll, every 5 minutes) and in a backfill by
primary key.

The poll's cursor: {"customers": [last customer_id], "products": [date_modified, product_id], "orders":
[date_modified, order_id], "sweep": [customer_id, when]}. Orders and products are read by modification date;
OpenCart's customer table has no modification date, so new customers are read by id, and a sweep re-reads 500
known customers per poll (round the table and again) to see a changed newsletter box: a shop of 100,000
customers sees an unsubscription within a day, one of 500 within 5 minutes.

A connection's first poll starts from its present (customers after the newest, orders and products modified in
the last CHECKOUT_AGE, so a cart abandoned yesterday is still chased): the history is the backfill's, which writes
it through the history import's bulk path, far faster than the poll's one order at a time.
"""

import datetime as dt
import zoneinfo

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.core import clock, http
from kervan.integrations.canonical import Checkout, Page
from kervan.integrations.platforms.base import CheckFailed, CredentialField, Platform
from kervan.integrations.platforms.opencart import client, mapping

SWEEP_EVERY = dt.timedelta(minutes=4)  # one sweep page per 5-minute poll
CHECKOUT_AGE = dt.timedelta(days=2)  # older unconfirmed checkouts are not "abandoned carts" to chase any more


class OpenCartPlatform(Platform):
    key = "opencart"
    label = "OpenCart"
    needs_base_url = False  # the shop's address is optional: only product and image links use it
    polls = True
    backfill_kinds = ("customers", "products", "orders")
    page_size = client.PAGE_SIZE
    credential_fields = (
        CredentialField("host", gettext_lazy("Database host"), secret=False),
        CredentialField("port", gettext_lazy("Port"), secret=False, required=False, help="3306"),
        CredentialField("database", gettext_lazy("Database name"), secret=False),
        CredentialField(
            "user",
            gettext_lazy("User"),
            secret=False,
            help=gettext_lazy("A user that may only read (GRANT SELECT ON shop.* TO 'kervan'@'…')."),
        ),
        CredentialField("password", gettext_lazy("Password")),
        CredentialField("table_prefix", gettext_lazy("Table prefix"), secret=False, required=False, help="oc_"),
        CredentialField(
            "language_id",
            gettext_lazy("Language id"),
            secret=False,
            required=False,
            help=gettext_lazy("The language of status and product names (1 unless the shop added languages)."),
        ),
        CredentialField(
            "store_id",
            gettext_lazy("Store id"),
            secret=False,
            required=False,
            help=gettext_lazy("Only this store of a multi-store OpenCart; empty: every store."),
        ),
        CredentialField(
            "time_zone",
            gettext_lazy("Time zone"),
            secret=False,
            required=False,
            help=gettext_lazy("Of the shop's dates; empty: the shop's own setting, else Europe/Istanbul."),
        ),
    )

    # -- webhooks: OpenCart sends none ------------------------------------------------------------------------------

    def verify(self, connection, headers, body) -> bool:
        return False  # nothing posted to an OpenCart connection's address is OpenCart's

    def delivery_key(self, headers, body) -> tuple[str, str]:
        raise NotImplementedError

    def records(self, connection, topic, payload) -> list:
        return []

    # -- the database -----------------------------------------------------------------------------------------------

    def check(self, connection) -> str:
        try:
            with client.reading(connection) as reader:
                reader.probe()
                reader.statuses()
                _zone(reader)
                return reader.config().get("config_name") or connection.name
        except http.HttpError as failure:
            raise CheckFailed(failure.reason) from None

    def fetch(self, connection, kind: str, cursor: dict | None) -> Page:
        """A page of `kind` by primary key (the backfill); unconfirmed checkouts of the past are left out."""
        after = int((cursor or {}).get("after") or 0)
        with client.reading(connection) as reader:
            zone = _zone(reader)
            rows = reader.page_by_id(kind, after, self.page_size)
            total = reader.count(kind) if cursor is None else None
            records = self._records(connection, reader, kind, rows, zone, checkouts=False)
        key = client._KEYS[kind]
        next_cursor = {"after": rows[-1][key]} if len(rows) >= self.page_size else None
        return Page(records=records, next_cursor=next_cursor, total=total)

    def poll(self, connection, cursor: dict) -> Page:
        """What changed since `cursor`: a page of each kind, then (when nothing else changed) a sweep page."""
        cursor = dict(cursor or {})
        records: list = []
        with client.reading(connection) as reader:
            zone = _zone(reader)
            if "customers" not in cursor:  # the first poll: from now on (see the module's doc)
                since = (clock.now().astimezone(zone) - CHECKOUT_AGE).replace(tzinfo=None, microsecond=0)
                cursor.update(customers=[reader.last_id("customers")], products=[since.isoformat(), 0],
                              orders=[since.isoformat(), 0])  # fmt: skip
            rows = reader.page_by_id("customers", int((cursor.get("customers") or [0])[0]), self.page_size)
            records += self._records(connection, reader, "customers", rows, zone)
            if rows:
                cursor["customers"] = [rows[-1]["customer_id"]]
            for kind, key in (("products", "product_id"), ("orders", "order_id")):
                after_pair = cursor.get(kind)
                rows = reader.page_modified(kind, tuple(after_pair) if after_pair else None, self.page_size)
                records += self._records(connection, reader, kind, rows, zone)
                if rows:
                    cursor[kind] = [mapping.db_time(rows[-1]["date_modified"]), rows[-1][key]]
            if not records:
                records += self._sweep(reader, cursor, zone)
        return Page(records=records, next_cursor=cursor)

    def _sweep(self, reader: client.Reader, cursor: dict, zone) -> list:
        after, last = (cursor.get("sweep") or [0, ""])[:2]
        now = clock.now()
        if last and now - dt.datetime.fromisoformat(last) < SWEEP_EVERY:
            return []
        rows = reader.page_by_id("customers", int(after), self.page_size)
        records: list = []
        for row in rows:
            records += mapping.customer_records(row, zone, occurred_at=now)
        # Round the table: after its end (or in a shop without customers), the next sweep starts from the first.
        cursor["sweep"] = [rows[-1]["customer_id"] if len(rows) >= self.page_size else 0, now.isoformat()]
        return records

    def _records(self, connection, reader, kind: str, rows: list[dict], zone, *, checkouts: bool = True) -> list:
        if kind == "customers":
            return [record for row in rows for record in mapping.customer_records(row, zone)]
        if kind == "products":
            currency = reader.currency()
            return [mapping.product(row, zone, currency, connection.base_url) for row in rows]
        statuses = reader.statuses()
        records = []
        for row in rows:
            record = mapping.order(row, statuses, zone)
            if isinstance(record, Checkout):
                fresh = record.updated_at is not None and clock.now() - record.updated_at <= CHECKOUT_AGE
                if not (checkouts and fresh):
                    continue
            if record is not None:
                records.append(record)
        return records


def _zone(reader: client.Reader) -> zoneinfo.ZoneInfo:
    name = reader.time_zone()
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise http.PermanentError(
            _("%(zone)s is not a time zone (e.g. Europe/Istanbul).") % {"zone": name},
            method="SQL",
            url=reader.s.address,
        ) from None


PLATFORM = OpenCartPlatform()
