"""One-off API fuzzing against a live Kervan on PostgreSQL: is there any request that makes the server answer 500?

    .venv/bin/python bench/fuzz_api.py --max-examples 500
    .venv/bin/python bench/fuzz_api.py --max-examples 200 -- --include-path-regex '^/api/v1/orders'

Creates and migrates the database (default `kervan_fuzz` on the local PostgreSQL), seeds a few customers, orders, a
product and a category through the real actions, creates a full-access API key, serves Kervan with granian
(config.settings.production, DEBUG off) on 127.0.0.1 and runs the schemathesis CLI against /api/v1/openapi.json
with the `not_a_server_error` and `response_schema_conformance` checks. Revoking API keys runs in a second pass with
a fresh key, so a fuzzed revoke of the first key cannot turn the rest of the run into 401s.

Server tracebacks go to var/fuzz/server.log, schemathesis' reports to var/fuzz/. This is not a test: the bounded,
deterministic fuzz test that runs in the suite is kervan/core/tests/test_api_fuzz.py.
"""

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from serving import start_server, stop_server  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "fuzz"
REVOKE = "^/api/v1/accounts/api-keys/\\{key_id\\}/revoke$"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    os.environ.setdefault("KERVAN_SECRET_KEY", "fuzz-secret-key-not-for-production")
    os.environ.setdefault("KERVAN_SSL_REDIRECT", "0")  # plain http on loopback: no redirect to https
    import django

    django.setup()


def ensure_database(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def seed() -> tuple[str, dict]:
    """A little of everything, so fuzzed ids sometimes exist. Returns a new full-access API key's secret and the
    ids that exist, by the name the API gives them."""
    from django.core.management import call_command

    from kervan.accounts.actions import api_key_create
    from kervan.accounts.actors import Actor
    from kervan.accounts.models import User
    from kervan.accounts.permissions import Role, area_keys
    from kervan.catalog.actions import category_create, product_create
    from kervan.catalog.models import Product
    from kervan.customers.actions import customer_create
    from kervan.customers.custom_fields import custom_field_define
    from kervan.customers.models import Customer, CustomFieldDefinition
    from kervan.orders.actions import NewOrder, order_create
    from kervan.orders.models import Order, OrderLine

    call_command("migrate", verbosity=0)
    admin = User.objects.filter(username="fuzz-admin").first() or User.objects.create_user(
        username="fuzz-admin", password="fuzz-admin-pw", role=Role.ADMIN, language="en"
    )
    system = Actor.system()
    if not Customer.objects.exists():
        placed = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
        for n in range(1, 11):
            customer = customer_create(
                actor=system, first_name="Ayşe", last_name=f"Yılmaz{n}", email=f"ayse{n}@example.com"
            )
            lines = [{"sku": "FUZZ-1", "title": "Ürün", "quantity": 2, "unit_price": "50.00"}]
            order_create(actor=system, new_order=NewOrder(customer=customer, lines=lines, placed_at=placed))
    if not Product.objects.exists():
        category = category_create(actor=system, name="Giyim")
        product_create(
            actor=system,
            title="Keten gömlek",
            category=category,
            variants=[{"sku": "FUZZ-1", "price": "50.00", "stock": 10}, {"sku": "FUZZ-2", "price": "60.00"}],
        )
    if not CustomFieldDefinition.objects.exists():
        custom_field_define(actor=system, key="shoe_size", label="Shoe size", field_type="number")
    _, secret = api_key_create(actor=Actor.for_user(admin), name="fuzz", scopes={d: "write" for d in area_keys()})
    customers = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:10])
    ids = {
        "customer_id": customers,
        "order_id": list(Order.objects.order_by("pk").values_list("pk", flat=True)[:10]),
        "order_line_id": list(OrderLine.objects.order_by("pk").values_list("pk", flat=True)[:10]),
        "product_id": list(Product.objects.order_by("pk").values_list("pk", flat=True)[:10]),
        "user_id": [admin.pk],
        "sku": ["FUZZ-1", "FUZZ-2"],
        "key": list(CustomFieldDefinition.objects.values_list("key", flat=True)[:5]),
    }
    return secret, ids


# Where those ids go: half of the generated values are replaced by one that exists, so requests get past the 404
# and into the actions (schemathesis "dictionaries").
BINDINGS = {
    "customer_id": ["path.customer_id", "query.customer_id", "body.customer_id", "body.merged_id"],
    "order_id": ["path.order_id"],
    "order_line_id": ["body.lines[*].order_line_id"],
    "product_id": ["path.product_id"],
    "user_id": ["path.user_id", "query.actor_user"],
    "sku": ["path.sku", "body.lines[*].sku"],
    "key": ["path.key"],
}


def write_config(ids: dict) -> Path:
    lines = ["[dictionaries]"]
    for name, values in ids.items():
        lines.append(f"{name} = {{ values = {json.dumps(values)} }}")
    lines += ["", "[parameters]"]
    for name, keys in BINDINGS.items():
        for key in keys:
            lines.append(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}')
    path = OUT / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def schemathesis(base: str, secret: str, args, label: str, extra: list[str]) -> tuple[int, int]:
    """Run the CLI, echo its output, and return (exit code, test cases generated)."""
    command = [
        str(ROOT / ".venv/bin/schemathesis"),
        "--config-file",
        str(OUT / "schemathesis.toml"),
        "run",
        f"{base}/api/v1/openapi.json",
        "-H",
        f"Authorization: Bearer {secret}",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--max-examples",
        str(args.max_examples),
        "--workers",
        str(args.workers),
        "--seed",
        str(args.seed),
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--continue-on-failure",
        "--report",
        "junit,ndjson",
        "--report-dir",
        str(OUT / label),
        "--output-truncate",
        "true",
        *extra,
    ]
    started = time.monotonic()
    generated = 0
    # The working directory is var/fuzz: schemathesis keeps its replay store there.
    with subprocess.Popen(command, cwd=OUT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as run:
        for line in run.stdout:
            print(line, end="", flush=True)
            found = re.search(r"(\d+) generated", line)
            generated = int(found.group(1)) if found else generated
    print(f"[{label}] schemathesis exit {run.returncode} in {time.monotonic() - started:.0f}s", flush=True)
    return run.returncode, generated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="kervan_fuzz")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--max-examples", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("extra", nargs="*", help="more schemathesis arguments, after --")
    args = parser.parse_args()

    url = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    ensure_database(args.database)
    setup_django(url)
    (first, ids), (second, _) = seed(), seed()
    from django.db import connection

    connection.close()

    OUT.mkdir(parents=True, exist_ok=True)
    write_config(ids)
    env = {**os.environ, "KERVAN_API_RATE_LIMIT": "100000000"}
    with open(OUT / "server.log", "w") as log:
        server, base = start_server(port=args.port, workers=2, env=env, ready_path="/api/v1/openapi.json", log=log)
    try:
        started = time.monotonic()
        rc, generated = schemathesis(base, first, args, "main", ["--exclude-path-regex", REVOKE, *args.extra])
        rc_revoke, generated_revoke = schemathesis(
            base, second, args, "revoke", ["--include-path-regex", REVOKE, *args.extra]
        )
        minutes = (time.monotonic() - started) / 60
    finally:
        stop_server(server)
    errors = (OUT / "server.log").read_text().count("Internal Server Error:")  # django.request logs every 5xx
    print(f"server answered {errors} requests with a 5xx (see {OUT / 'server.log'})")
    write_results(args, generated + generated_revoke, errors, rc | rc_revoke, minutes)
    return rc | rc_revoke


def write_results(args, generated: int, errors: int, rc: int, minutes: float) -> None:
    """Only a run over every operation is recorded: a narrowed one (schemathesis arguments after --) would replace
    the whole-API figure with a partial one; its counts are printed instead."""
    if args.extra:
        print(f"narrowed run ({' '.join(args.extra)}): {generated} test cases, {errors} answered 5xx; not recorded")
        return
    command = f".venv/bin/python bench/fuzz_api.py --max-examples {args.max_examples} --seed {args.seed}"
    data = (
        f"every operation of /api/v1/openapi.json, coverage + fuzzing + stateful phases, positive and negative "
        f"data, {args.workers} schemathesis workers against granian (2 workers, config.settings.production) on "
        f"127.0.0.1; {minutes:.0f} min; schemathesis exit code {rc}"
    )
    common = {"data": data, "db": "postgresql", "command": command}
    results = {
        "fuzzed API requests": {"value": generated, "unit": "test cases", "target": "-", **common},
        "API server errors (5xx) under fuzzing": {"value": errors, "unit": "errors", "target": "0", **common},
    }
    path = ROOT / "bench" / "results" / "fuzz_api.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
