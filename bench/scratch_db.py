"""The benchmarks' scratch databases: a PostgreSQL database named in the URL is created when it does not exist yet
(SQLite creates its file by itself)."""

from config.database import database_from_url


def create_if_missing(database_url: str) -> None:
    if not database_url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    db = database_from_url(database_url)
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname="postgres",
        autocommit=True, connect_timeout=5,
    ) as conn:  # fmt: skip
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
