"""How fast can a 1M-row customer import be on this machine at all? The floors under bench/import_customers.py.

Takes the rows a real 1M import wrote (run `bench/import_customers.py --rows 1000000 --db postgresql sqlite` first:
it leaves them in the PostgreSQL database kervan_import_bench and in /tmp/kervan_import_bench.sqlite3) and writes the
same rows again into empty tables under several schemas, in one transaction each, with no Kervan code involved:

- rows + primary keys: customers, identities, stats and tag links with nothing but their primary keys;
- minimal viable: what the product cannot do without: the unique (kind, value) identity index that matching by
  email/phone rests on, identities by customer, customers by creation date (the list's order), the tag link's
  uniqueness, and the foreign keys from identities, stats and tag links to customers;
- current schema: every index and foreign key of the real tables (the trigram search index included);
- built after the load (PostgreSQL, for the minimal and the current schema): the same indexes and foreign keys created
  after the rows are in, as pg_restore does (cheaper, but it locks the tables against readers for the whole import).

PostgreSQL loads each table with a server-side COPY from a file (no client work at all). SQLite loads them with
executemany on one connection set up as Kervan's (WAL, 64 MB cache). It also times the least Python any import must
do per row: read the CSV and normalise each email and phone (kervan.core.emails / kervan.core.phones).

    .venv/bin/python bench/import_floor.py [python] [postgresql] [sqlite]

Writes bench/results/import_floor.json (then bench/collect.py merges it into bench/results.json).
"""

import csv
import json
import os
import re
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
from import_customers import PG_NAME, PG_SERVER, SQLITE_PATH, csv_file  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent
# Where bench/import_customers.py leaves a 1M import's rows: the input here.
PG = f"{PG_SERVER}/{PG_NAME}"
SQLITE_SOURCE = SQLITE_PATH
SQLITE_TARGET = "/tmp/kervan_import_floor.sqlite3"
CSV = csv_file(1_000_000)
TABLES = ("customers_customer", "customers_identity", "customers_customerstats", "customers_customer_tags")
SHORT = {"customers_customer": "customers", "customers_identity": "identities",
         "customers_customerstats": "stats", "customers_customer_tags": "tags"}  # fmt: skip

# Indexes and foreign keys of each schema, as (table, SQL with {t} for the table's name in that schema, {s} for the
# schema). Primary keys come with every table.
MINIMAL = [
    ("customers_identity", "CREATE UNIQUE INDEX ON {t} (kind, value) WHERE source_id IS NULL"),
    ("customers_identity", "CREATE INDEX ON {t} (customer_id)"),
    ("customers_customer", "CREATE INDEX ON {t} (created_at DESC, id DESC)"),
    ("customers_customer_tags", "CREATE UNIQUE INDEX ON {t} (customer_id, tag_id)"),
]
MINIMAL_FKS = [
    ("customers_identity", "customer_id"),
    ("customers_customerstats", "customer_id"),
    ("customers_customer_tags", "customer_id"),
]


@contextmanager
def timed(result: dict, step: str):
    started = time.perf_counter()
    yield
    result[step] = round(time.perf_counter() - started, 2)


def commit(conn, result: dict, label: str) -> None:
    """COMMIT (timed), then the total of the steps; printed as it goes, a run takes minutes."""
    with timed(result, "commit"):
        conn.execute("COMMIT")
    result["total"] = round(sum(result.values()), 2)
    print(f"{label}: {result}", flush=True)


def pg_schema_sql(cursor) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The real tables' secondary indexes and foreign keys, as SQL to rebuild them on a copy in another schema."""
    indexes, fks = [], []
    for table in TABLES:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass AND NOT indisprimary",
            [table],
        )
        for (ddl,) in cursor.fetchall():
            # "CREATE INDEX name ON public.table USING …" → unnamed, on the copy
            on = ddl.index(" ON ")
            head = "CREATE UNIQUE INDEX" if ddl.startswith("CREATE UNIQUE") else "CREATE INDEX"
            rest = ddl[on + 4 :].split(" ", 1)[1]
            indexes.append((table, f"{head} ON {{t}} {rest}"))
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        for (ddl,) in cursor.fetchall():
            for other in TABLES:
                ddl = ddl.replace(f"REFERENCES {other}(", f"REFERENCES {{s}}.{other}(")
            fks.append((table, f"ALTER TABLE {{t}} ADD FOREIGN KEY {ddl[len('FOREIGN KEY ') :]}"))
    return indexes, fks


def pg_run(conn, name: str, indexes, fks, after: bool) -> dict:
    schema = "floor"
    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    conn.execute(f"CREATE SCHEMA {schema}")
    for table in TABLES:
        conn.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        conn.execute(f"ALTER TABLE {schema}.{table} ADD PRIMARY KEY ({'customer_id' if 'stats' in table else 'id'})")
    ddl = [sql.format(t=f"{schema}.{table}", s=schema) for table, sql in (*indexes, *fks)]
    result = {}
    conn.execute("BEGIN")
    conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
    if not after:
        for statement in ddl:
            conn.execute(statement)
    for table in TABLES:
        with timed(result, SHORT[table]):
            conn.execute(f"COPY {schema}.{table} FROM '/tmp/kervan_floor_{table}.copy'")
    if after:
        with timed(result, "indexes and foreign keys"):
            for statement in ddl:
                conn.execute(statement)
    commit(conn, result, f"postgresql, {name}")
    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return result


def postgresql() -> dict:
    with psycopg.connect(PG, autocommit=True) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        if counts["customers_customer"] < 900_000:
            sys.exit("Run bench/import_customers.py --rows 1000000 --db postgresql first: its rows are the input.")
        for table in TABLES:
            conn.execute(f"COPY {table} TO '/tmp/kervan_floor_{table}.copy'")
        with conn.cursor() as cursor:
            indexes, fks = pg_schema_sql(cursor)
        minimal_fks = [(t, f"ALTER TABLE {{t}} ADD FOREIGN KEY ({c}) REFERENCES {{s}}.customers_customer (id) "
                           "DEFERRABLE INITIALLY DEFERRED") for t, c in MINIMAL_FKS]  # fmt: skip
        out = {"rows": {SHORT[t]: n for t, n in counts.items()}}
        out["rows + primary keys"] = pg_run(conn, "rows + primary keys", [], [], after=False)
        out["minimal viable"] = pg_run(conn, "minimal viable", MINIMAL, minimal_fks, after=False)
        out["minimal viable, built after the load"] = pg_run(conn, "minimal, built after", MINIMAL, minimal_fks, True)
        out["current schema"] = pg_run(conn, "current schema", indexes, fks, after=False)
        out["current schema, built after the load"] = pg_run(conn, "built after", indexes, fks, after=True)
        for table in TABLES:
            Path(f"/tmp/kervan_floor_{table}.copy").unlink(missing_ok=True)
    return out


def sqlite_run(source, name: str, schema: list[str], indexes: list[str] = (), after: bool = False) -> dict:
    for suffix in ("", "-wal", "-shm"):
        Path(SQLITE_TARGET + suffix).unlink(missing_ok=True)
    conn = sqlite3.connect(SQLITE_TARGET, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    for sql in schema:
        conn.execute(sql)
    if not after:
        for sql in indexes:
            conn.execute(sql)
    result = {}
    conn.execute("BEGIN IMMEDIATE")
    for table in ("core_source", "customers_tag", *TABLES):
        rows = source.execute(f"SELECT * FROM {table}").fetchall()  # read before the clock starts
        insert = f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})"
        with timed(result, SHORT.get(table, "")):
            for start in range(0, len(rows), 5000):
                conn.executemany(insert, rows[start : start + 5000])
    result.pop("", None)  # core_source and customers_tag: a handful of rows, not part of the figure
    if after:
        with timed(result, "indexes"):
            for sql in indexes:
                conn.execute(sql)
    commit(conn, result, f"sqlite, {name}")
    conn.close()
    return result


def sqlite() -> dict:
    source = sqlite3.connect(SQLITE_SOURCE)
    if source.execute("SELECT count(*) FROM customers_customer").fetchone()[0] < 900_000:
        sys.exit("Run bench/import_customers.py --rows 1000000 --db sqlite first: its rows are the input.")
    tables = {
        name: sql
        for name, sql in source.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        if name in (*TABLES, "core_source", "customers_tag")
    }
    plain = list(tables.values())
    bare = [_strip_references(sql) for sql in plain]  # primary keys only, no foreign keys
    indexes = [
        sql
        for (sql,) in source.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        if any(f'"{t}"' in sql for t in TABLES)
    ]
    # SQLite wants index names.
    minimal = [
        sql.format(t=table).replace(" INDEX ON ", f" INDEX minimal_{i} ON ") for i, (table, sql) in enumerate(MINIMAL)
    ]
    out = {"rows": {SHORT[t]: source.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}}
    out["rows + primary keys"] = sqlite_run(source, "rows + primary keys", bare)
    # SQLite's foreign keys live in CREATE TABLE; the minimal schema keeps the real tables' (one per parent).
    out["minimal viable"] = sqlite_run(source, "minimal viable", plain, minimal)
    out["minimal viable, built after the load"] = sqlite_run(source, "minimal, built after", plain, minimal, True)
    out["current schema"] = sqlite_run(source, "current schema", plain, indexes)
    out["current schema, built after the load"] = sqlite_run(source, "built after", plain, indexes, True)
    for suffix in ("", "-wal", "-shm"):
        Path(SQLITE_TARGET + suffix).unlink(missing_ok=True)
    return out


def _strip_references(sql: str) -> str:
    """CREATE TABLE without its REFERENCES … DEFERRABLE INITIALLY DEFERRED clauses."""
    return re.sub(r' REFERENCES "\w+" \("\w+"\)( DEFERRABLE INITIALLY DEFERRED)?', "", sql)


def python_floor() -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from kervan.core.emails import normalize_email
    from kervan.core.errors import KervanError
    from kervan.core.phones import normalize_phone

    started = time.perf_counter()
    rows = 0
    with open(CSV, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for _row in reader:
            rows += 1
    read = time.perf_counter() - started
    started = time.perf_counter()
    with open(CSV, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            for value, normalize in ((row[2], normalize_email), (row[3], normalize_phone)):
                if value:
                    try:  # noqa: SIM105 - suppress() costs more per row
                        normalize(value)
                    except KervanError:
                        pass
    validate = time.perf_counter() - started
    result = {"rows": rows, "read csv": round(read, 2), "read csv + normalise email and phone": round(validate, 2)}
    print(f"python: {result}", flush=True)
    return result


FIGURES = {  # (part, variant) → what the figure is called in bench/results.json
    ("postgresql", "rows + primary keys"): "rows and primary keys only",
    ("postgresql", "minimal viable"): "minimal schema, indexes kept up row by row",
    ("postgresql", "minimal viable, built after the load"): "minimal schema, indexes built after the load",
    ("postgresql", "current schema"): "Kervan's schema, indexes kept up row by row",
    ("postgresql", "current schema, built after the load"): "Kervan's schema, indexes built after the load",
    ("sqlite", "rows + primary keys"): "rows and primary keys only",
    ("sqlite", "minimal viable"): "minimal schema, indexes kept up row by row",
    ("sqlite", "minimal viable, built after the load"): "minimal schema, indexes built after the load",
    ("sqlite", "current schema"): "Kervan's schema, indexes kept up row by row",
    ("sqlite", "current schema, built after the load"): "Kervan's schema, indexes built after the load",
}


def figures(out: dict, command: str) -> dict:
    """The measurements as figures for bench/results.json: no targets, they are what the targets stand on."""
    recorded = {}
    if "python" in out:
        recorded["import floor: read a 1M-row CSV and normalise its emails and phones (Python)"] = {
            "value": out["python"]["read csv + normalise email and phone"],
            "unit": "s",
            "target": "",
            "data": f"{out['python']['rows']:,} rows; reading alone {out['python']['read csv']} s",
            "db": "",
            "command": command,
        }
    for (part, variant), name in FIGURES.items():
        if part not in out:
            continue
        result = out[part][variant]
        rows = ", ".join(f"{n:,} {table}" for table, n in out[part]["rows"].items()) + " (what a 1M-row import wrote)"
        where = "PostgreSQL server work (COPY from a file)" if part == "postgresql" else "SQLite writes (executemany)"
        recorded[f"import floor: {where}, {name}"] = {
            "value": result["total"],
            "unit": "s",
            "target": "",
            "data": f"{rows}; " + ", ".join(f"{k} {v} s" for k, v in result.items() if k != "total"),
            "db": part,
            "command": command,
        }
    return recorded


def main() -> None:
    parts = {"python": python_floor, "postgresql": postgresql, "sqlite": sqlite}
    out = {name: run() for name, run in parts.items() if len(sys.argv) < 2 or name in sys.argv[1:]}
    path = ROOT / "bench" / "results" / "import_floor.json"
    recorded = json.loads(path.read_text()) if path.exists() else {}
    recorded.update(figures(out, "python bench/import_floor.py " + " ".join(sys.argv[1:])))
    path.write_text(json.dumps(recorded, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
