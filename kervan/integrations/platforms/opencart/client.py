"""Reading an OpenCart 4 shop's own database (MySQL/MariaDB): OpenCart has no order API and no webhooks, so Kervan
connects with a read-only user and pages through its tables.

Every read runs in one READ ONLY transaction (a consistent snapshot of an order with its lines, totals and
history, and a second guard besides the user's SELECT-only grant: nothing here can write). Paging is by keyset,
never OFFSET: backfills by primary key, polls by (date_modified, id) so rows modified in the same second are
neither skipped nor read twice. OpenCart writes its dates in the shop's local time without an offset; the cursors
keep them exactly as the database has them (naive), so comparisons stay in the database's own terms.

Failures become kervan.core.http's errors, which the backfill and the poll already handle: an unreachable server
or a lost connection is retryable, a refused user or a missing table is permanent until someone fixes it.
"""

import datetime as dt
import re
from contextlib import contextmanager
from dataclasses import dataclass

import pymysql
import pymysql.cursors
from django.utils.translation import gettext as _

from kervan.core import http

PAGE_SIZE = 500
CONNECT_TIMEOUT = 10  # seconds
READ_TIMEOUT = 60
DEFAULT_PORT = 3306
DEFAULT_PREFIX = "oc_"
DEFAULT_TIME_ZONE = "Europe/Istanbul"
# MySQL/MariaDB error numbers the messages below tell apart.
ACCESS_DENIED, DB_ACCESS_DENIED, UNKNOWN_DATABASE = 1045, 1044, 1049
NO_SUCH_TABLE, UNKNOWN_COLUMN, TABLE_ACCESS_DENIED = 1146, 1054, 1142
PERMANENT = {ACCESS_DENIED, DB_ACCESS_DENIED, UNKNOWN_DATABASE, NO_SUCH_TABLE, UNKNOWN_COLUMN, TABLE_ACCESS_DENIED}
_PREFIX = re.compile(r"^[A-Za-z0-9_]{0,32}$")


@dataclass(frozen=True)
class Settings:
    """A connection's credentials, read and checked once per call."""

    host: str
    port: int
    database: str
    user: str
    password: str
    prefix: str
    language_id: int
    store_id: int | None
    time_zone: str  # "" : the shop's own config_timezone, else DEFAULT_TIME_ZONE

    @classmethod
    def of(cls, connection) -> "Settings":
        creds = connection.credentials
        prefix = str(creds.get("table_prefix") or DEFAULT_PREFIX)  # left empty on the form: OpenCart's default
        if not _PREFIX.match(prefix):
            raise ValueError(_("The table prefix may hold only letters, digits and _ (e.g. oc_)."))
        store = str(creds.get("store_id") or "").strip()
        try:
            return cls(
                host=str(creds.get("host") or "").strip(),
                port=int(creds.get("port") or DEFAULT_PORT),
                database=str(creds.get("database") or "").strip(),
                user=str(creds.get("user") or "").strip(),
                password=str(creds.get("password") or ""),
                prefix=prefix,
                language_id=int(creds.get("language_id") or 1),
                store_id=int(store) if store else None,
                time_zone=str(creds.get("time_zone") or "").strip(),
            )
        except ValueError:
            raise ValueError(_("The port, language id and store id must be whole numbers.")) from None

    @property
    def address(self) -> str:
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"

    def table(self, name: str) -> str:
        return f"`{self.prefix}{name}`"


class Reader:
    """One connection to the shop's database for the length of a `with` block (a page of a backfill or a poll)."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.db = None
        self._statuses: dict[int, str] | None = None
        self._config: dict[str, str] | None = None

    def __enter__(self) -> "Reader":
        self.db = pymysql.connect(
            host=self.s.host,
            port=self.s.port,
            user=self.s.user,
            password=self.s.password.encode(),  # as a UTF-8 client sends it (PyMySQL would take latin-1 only)
            database=self.s.database,
            charset="utf8mb4",
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            write_timeout=READ_TIMEOUT,
            cursorclass=pymysql.cursors.DictCursor,
            autocommit=True,
        )
        self.db.cursor().execute("START TRANSACTION READ ONLY")
        return self

    def __exit__(self, *exc) -> None:
        if self.db is not None:
            try:
                self.db.rollback()  # nothing was written; ends the snapshot
            finally:
                self.db.close()

    def rows(self, sql: str, args: tuple | list = ()) -> list[dict]:
        with self.db.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())

    # -- the shop ---------------------------------------------------------------------------------------------------

    def config(self) -> dict[str, str]:
        """config_name, config_currency, config_timezone of the store (its own rows, else the default store's)."""
        if self._config is None:
            rows = self.rows(
                f"SELECT store_id, `key`, value FROM {self.s.table('setting')} WHERE store_id IN (0, %s) "
                "AND `key` IN ('config_name', 'config_currency', 'config_timezone') ORDER BY store_id",
                (self.s.store_id or 0,),
            )
            self._config = {row["key"]: row["value"] for row in rows}  # the store's own rows come last and win
        return self._config

    def time_zone(self) -> str:
        return self.s.time_zone or self.config().get("config_timezone") or DEFAULT_TIME_ZONE

    def currency(self) -> str:
        return (self.config().get("config_currency") or "TRY").upper()[:3]

    def statuses(self) -> dict[int, str]:
        """order_status_id → its name in the connection's language."""
        if self._statuses is None:
            rows = self.rows(
                f"SELECT order_status_id, name FROM {self.s.table('order_status')} WHERE language_id = %s",
                (self.s.language_id,),
            )
            self._statuses = {row["order_status_id"]: row["name"] for row in rows}
        return self._statuses

    def probe(self) -> None:
        """The OpenCart 4 order table is there and readable (language_code is OpenCart 4's, not 3's)."""
        self.rows(
            f"SELECT order_id, date_modified, currency_code, currency_value, language_code "
            f"FROM {self.s.table('order')} LIMIT 1"
        )
        self.rows(f"SELECT customer_id, newsletter FROM {self.s.table('customer')} LIMIT 1")

    # -- pages ------------------------------------------------------------------------------------------------------

    def count(self, kind: str) -> int:
        where, args = self._store_filter(kind, [])
        row = self.rows(f"SELECT COUNT(*) AS n FROM {self.s.table(_TABLES[kind])} t WHERE 1=1{where}", args)
        return int(row[0]["n"])

    def last_id(self, kind: str) -> int:
        key = _KEYS[kind]
        row = self.rows(f"SELECT MAX({key}) AS last FROM {self.s.table(_TABLES[kind])}")
        return int(row[0]["last"] or 0)

    def page_by_id(self, kind: str, after: int, limit: int = PAGE_SIZE) -> list[dict]:
        """Rows of `kind` with a primary key above `after`, in key order (backfills)."""
        key = _KEYS[kind]
        where, args = self._store_filter(kind, [after])
        return self._select(kind, f"t.{key} > %s{where} ORDER BY t.{key} LIMIT {int(limit)}", args)

    def page_modified(self, kind: str, since: tuple[str, int] | None, limit: int = PAGE_SIZE) -> list[dict]:
        """Rows of `kind` modified after `since` = (date_modified as the database writes it, id), in that order."""
        key = _KEYS[kind]
        args: list = []
        keyset = "1=1"
        if since is not None:
            when = dt.datetime.fromisoformat(since[0])
            keyset = f"(t.date_modified > %s OR (t.date_modified = %s AND t.{key} > %s))"
            args = [when, when, int(since[1])]
        where, args = self._store_filter(kind, args)
        return self._select(kind, f"{keyset}{where} ORDER BY t.date_modified, t.{key} LIMIT {int(limit)}", args)

    def _select(self, kind: str, condition: str, args: list) -> list[dict]:
        if kind == "products":
            sql = (
                f"SELECT t.*, d.name AS title FROM {self.s.table('product')} t "
                f"LEFT JOIN {self.s.table('product_description')} d "
                f"ON d.product_id = t.product_id AND d.language_id = {self.s.language_id} WHERE {condition}"
            )
        else:
            sql = f"SELECT t.* FROM {self.s.table(_TABLES[kind])} t WHERE {condition}"
        rows = self.rows(sql, args)
        if kind == "orders":
            self._attach_order_parts(rows)
        return rows

    def _store_filter(self, kind: str, args: list) -> tuple[str, list]:
        if self.s.store_id is None:
            return "", args
        if kind == "products":
            stores = self.s.table("product_to_store")
            return f" AND t.product_id IN (SELECT product_id FROM {stores} WHERE store_id = %s)", [
                *args,
                self.s.store_id,
            ]
        return " AND t.store_id = %s", [*args, self.s.store_id]

    def _attach_order_parts(self, orders: list[dict]) -> None:
        """Each order's lines, totals and status history, read in three queries for the whole page."""
        if not orders:
            return
        ids = [order["order_id"] for order in orders]
        marks = ", ".join(["%s"] * len(ids))
        parts = {
            "lines": f"SELECT * FROM {self.s.table('order_product')} WHERE order_id IN ({marks}) ORDER BY order_product_id",  # noqa: E501
            "totals": f"SELECT * FROM {self.s.table('order_total')} WHERE order_id IN ({marks}) ORDER BY sort_order, order_total_id",  # noqa: E501
            "history": f"SELECT * FROM {self.s.table('order_history')} WHERE order_id IN ({marks}) ORDER BY date_added, order_history_id",  # noqa: E501
        }
        by_order: dict[int, dict] = {order["order_id"]: order for order in orders}
        for order in orders:
            order.update(lines=[], totals=[], history=[])
        for part, sql in parts.items():
            for row in self.rows(sql, ids):
                by_order[row["order_id"]][part].append(row)
        countries = {o.get("shipping_country_id") or o.get("payment_country_id") for o in orders} - {None, 0}
        iso = self.countries(countries)
        for order in orders:
            order["country_iso"] = iso.get(order.get("shipping_country_id") or order.get("payment_country_id"), "")

    def countries(self, ids: set) -> dict[int, str]:
        if not ids:
            return {}
        marks = ", ".join(["%s"] * len(ids))
        try:
            rows = self.rows(
                f"SELECT country_id, iso_code_2 FROM {self.s.table('country')} WHERE country_id IN ({marks})",
                list(ids),
            )
        except pymysql.err.ProgrammingError:  # a trimmed copy of the shop without its country table: no country
            return {}
        return {row["country_id"]: row["iso_code_2"] for row in rows}


_TABLES = {"orders": "order", "customers": "customer", "products": "product"}
_KEYS = {"orders": "order_id", "customers": "customer_id", "products": "product_id"}


@contextmanager
def reading(connection):
    """A Reader on the connection's database; its failures as kervan.core.http errors (see the module's doc)."""
    try:
        settings = Settings.of(connection)
    except ValueError as wrong:
        raise http.PermanentError(str(wrong), method="SQL", url="mysql://") from None
    try:
        with Reader(settings) as reader:
            yield reader
    except pymysql.err.MySQLError as failure:
        code = failure.args[0] if failure.args and isinstance(failure.args[0], int) else None
        error = http.PermanentError if code in PERMANENT else http.RetryableError
        raise error(describe(failure, settings), method="SQL", url=settings.address) from failure


def describe(failure: Exception, s: Settings) -> str:
    """What went wrong, in words a shop owner can act on."""
    code = failure.args[0] if failure.args and isinstance(failure.args[0], int) else None
    detail = failure.args[1] if len(failure.args) > 1 else str(failure)
    if code == ACCESS_DENIED:
        return _("MariaDB refused user %(user)s: check the user name and password, and that the user may connect from Kervan's address.") % {"user": s.user}  # noqa: E501 # fmt: skip
    if code in (DB_ACCESS_DENIED, UNKNOWN_DATABASE):
        return _("The database %(database)s does not exist or user %(user)s may not open it.") % {"database": s.database, "user": s.user}  # noqa: E501 # fmt: skip
    if code == NO_SUCH_TABLE:
        return _("There are no OpenCart 4 tables with prefix %(prefix)s in database %(database)s (%(detail)s).") % {"prefix": s.prefix or "—", "database": s.database, "detail": detail}  # noqa: E501 # fmt: skip
    if code == UNKNOWN_COLUMN:
        return _("The tables with prefix %(prefix)s are not in the OpenCart 4 layout (OpenCart 3 or older?): %(detail)s") % {"prefix": s.prefix or "—", "detail": detail}  # noqa: E501 # fmt: skip
    if code == TABLE_ACCESS_DENIED:
        return _("User %(user)s may not read the OpenCart tables: grant it SELECT on database %(database)s (%(detail)s).") % {"user": s.user, "database": s.database, "detail": detail}  # noqa: E501 # fmt: skip
    if isinstance(failure, pymysql.err.OperationalError) and code in (2003, 2005, 2006, 2013):
        return _("The database server at %(host)s:%(port)s cannot be reached: %(detail)s") % {"host": s.host, "port": s.port, "detail": detail}  # noqa: E501 # fmt: skip
    return _("The shop's database answered: %(detail)s") % {"detail": detail}
