"""A real OpenCart 4 shop database on the test machine's MariaDB (127.0.0.1:3306, root without a password), one per
test: the order and customer tables are created from the layout published in
../shared/data/webhooks/opencart/opencart4_order_tables_columns.txt, the statuses from opencart_order_status.csv
(both read there, never copied into the project), the few other tables Kervan reads (setting, order_status,
product, product_description, product_to_store, country) from OpenCart 4's db_schema.php. Kervan reads it as a
read-only user.

Without MariaDB the tests are skipped with the reason, except in CI (CI or KERVAN_REQUIRE_MARIADB set), where an
absent MariaDB is a failure.
"""

import csv
import io
import os
import secrets

import pymysql
import pytest

from kervan.integrations.testing import WEBHOOK_SAMPLES, sample

HOST, PORT = "127.0.0.1", 3306
LAYOUT = "opencart/opencart4_order_tables_columns.txt"
STATUSES = "opencart/opencart_order_status.csv"
# Tables Kervan reads beyond the published layout, as OpenCart 4 declares them (a subset of their columns).
OTHER_TABLES = {
    "setting": "setting_id int(11) AUTO_INCREMENT PRIMARY KEY, store_id int(11) NOT NULL DEFAULT 0, code varchar(128), "
    "`key` varchar(128), value text, serialized tinyint(1) NOT NULL DEFAULT 0",
    "order_status": "order_status_id int(11), language_id int(11), name varchar(32), "
    "PRIMARY KEY (order_status_id, language_id)",
    "product": "product_id int(11) AUTO_INCREMENT PRIMARY KEY, master_id int(11) NOT NULL DEFAULT 0, "
    "model varchar(64), sku varchar(64), quantity int(4) NOT NULL DEFAULT 0, image varchar(255), "
    "price decimal(15,4) NOT NULL DEFAULT 0, "
    "subtract tinyint(1) NOT NULL DEFAULT 1, status tinyint(1) NOT NULL DEFAULT 0, date_added datetime, "
    "date_modified datetime",
    "product_description": "product_id int(11), language_id int(11), name varchar(255), description text, "
    "PRIMARY KEY (product_id, language_id)",
    "product_to_store": "product_id int(11), store_id int(11) NOT NULL DEFAULT 0, PRIMARY KEY (product_id, store_id)",
    "country": "country_id int(11) AUTO_INCREMENT PRIMARY KEY, name varchar(128), iso_code_2 varchar(2), "
    "iso_code_3 varchar(3), status tinyint(1) NOT NULL DEFAULT 1",
}


def required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("KERVAN_REQUIRE_MARIADB"))


def root():
    return pymysql.connect(host=HOST, port=PORT, user="root", password="", charset="utf8mb4", autocommit=True)


def available_or_skip() -> None:
    if not (WEBHOOK_SAMPLES / LAYOUT).is_file():
        pytest.skip(f"OpenCart's published layout is not at {WEBHOOK_SAMPLES / LAYOUT} (../shared/data)")
    try:
        root().close()
    except pymysql.err.MySQLError as failure:
        message = f"MariaDB is not reachable at {HOST}:{PORT} as root without a password: {failure}"
        if required():
            pytest.fail(message + " (required in CI)")
        pytest.skip(message)


def layout() -> dict[str, list[tuple[str, str]]]:
    """{table without its prefix: [(column, type)]} as published."""
    tables = {}
    for line in sample(LAYOUT).decode().splitlines():
        if ":" not in line or not line.startswith("oc_"):
            continue
        name, columns = line.split(": ", 1)
        tables[name.removeprefix("oc_")] = [tuple(col.strip().split(":", 1)) for col in columns.split(", ")]
    return tables


class ShopDB:
    """One OpenCart database with its tables and a read-only user; `credentials` are what Kervan is given."""

    def __init__(self, prefix: str = "oc_") -> None:
        token = secrets.token_hex(4)
        self.name = f"kervan_oc_{token}"
        self.user = f"kervan_ro_{token}"
        self.password = secrets.token_urlsafe(12)
        self.prefix = prefix
        self.db = root()
        self.sql(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        self.db.select_db(self.name)
        for table, columns in layout().items():
            key = columns[0][0]  # each published table starts with its auto-increment primary key
            cols = ", ".join(
                f"`{col}` {kind} AUTO_INCREMENT PRIMARY KEY" if col == key else f"`{col}` {kind} NULL"
                for col, kind in columns
            )
            self.sql(f"CREATE TABLE `{prefix}{table}` ({cols}) ENGINE=InnoDB")
        for table, cols in OTHER_TABLES.items():
            self.sql(f"CREATE TABLE `{prefix}{table}` ({cols}) ENGINE=InnoDB")
        self.sql(f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{self.password}'")
        self.sql(f"GRANT SELECT ON `{self.name}`.* TO '{self.user}'@'%'")
        rows = list(csv.DictReader(io.StringIO(sample(STATUSES).decode())))
        self.insert("order_status", rows)

    @property
    def credentials(self) -> dict:
        return {
            "host": HOST,
            "port": str(PORT),
            "database": self.name,
            "user": self.user,
            "password": self.password,
            "table_prefix": self.prefix,
        }

    def sql(self, statement: str, args=None) -> None:
        with self.db.cursor() as cursor:
            cursor.execute(statement, args)

    def insert(self, table: str, rows: list[dict]) -> None:
        for row in rows:
            columns = ", ".join(f"`{c}`" for c in row)
            marks = ", ".join(["%s"] * len(row))
            self.sql(f"INSERT INTO `{self.prefix}{table}` ({columns}) VALUES ({marks})", list(row.values()))

    def drop(self) -> None:
        try:
            self.sql(f"DROP USER IF EXISTS '{self.user}'@'%'")
            self.sql(f"DROP DATABASE IF EXISTS `{self.name}`")
        finally:
            self.db.close()
