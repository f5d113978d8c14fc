"""The floors of issue 15's intake figures, on the same machine, server and load as bench/integrations.py:

- accepted per second: a WSGI app of a few lines (no Django) that checks the same HMAC and stores the same body
  with one INSERT through psycopg, served by granian with 2 workers, driven by the same wrk script;
- processing: the same orders written by Kervan's order actions alone (customer_identify, order_create and the
  status change to paid), one process, against the worker processing the same deliveries in one process.

    .venv/bin/python bench/integrations_floor.py [--database-url postgres://…/kervan_intbench]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flows_setup import PG, setup_django, sql
from integrations import ACCEPT_FIGURE, PROCESS_FIGURE, RESULTS, free_port, wrk
from integrations_shop import SECRET, order, signed_requests

ROOT = Path(__file__).resolve().parent.parent

FLOOR_APP = """
import base64, hashlib, hmac, os
import psycopg
SECRET = os.environ["FLOOR_SECRET"].encode()
connection = psycopg.connect(os.environ["FLOOR_DSN"], autocommit=True)
def application(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    expected = base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, environ.get("HTTP_X_SHOPIFY_HMAC_SHA256", "")):
        start_response("401 Unauthorized", [("Content-Type", "application/json")])
        return [b"{}"]
    connection.execute(
        "INSERT INTO bench_floor_delivery (delivery_id, topic, body) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        (environ.get("HTTP_X_SHOPIFY_WEBHOOK_ID"), environ.get("HTTP_X_SHOPIFY_TOPIC"), body.decode()),
    )
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"status": "accepted"}']
"""


def accept_floor(url: str) -> float:
    sql("CREATE TABLE IF NOT EXISTS bench_floor_delivery (id bigserial PRIMARY KEY, delivery_id text UNIQUE, "
        "topic text, body text, received_at timestamptz DEFAULT now())")  # fmt: skip
    sql("TRUNCATE bench_floor_delivery")
    work = Path(tempfile.mkdtemp())
    (work / "floor_app.py").write_text(FLOOR_APP)
    requests_file = work / "burst.txt"
    signed_requests(requests_file, 8_000_000, 20_000)
    port = free_port()
    env = {**os.environ, "FLOOR_SECRET": SECRET, "FLOOR_DSN": url, "PYTHONPATH": str(work)}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "2", "--blocking-threads", "4", "--log-level", "warning", "floor_app:application"],
        cwd=work, env=env,
    )  # fmt: skip
    time.sleep(3)
    try:
        result = wrk(f"http://127.0.0.1:{port}/hook", requests_file, seconds=15, connections=16, pause_ms=0)
    finally:
        server.terminate()
        server.wait()
    print(f"bench: floor intake {result['requests_per_s']:.0f}/s, {result['non_2xx']} non-2xx")
    return result["requests_per_s"]


def processing(count: int) -> tuple[float, float]:
    """(Kervan's worker, the order actions alone): orders per second, one process each."""
    from kervan.accounts.actors import Actor
    from kervan.core import clock
    from kervan.customers.identity import customer_identify
    from kervan.integrations.models import Connection, Delivery
    from kervan.integrations.worker import deliveries_process
    from kervan.orders.actions.orders import NewOrder, order_create, order_set_status

    connection = Connection.objects.get(name="intake")
    first = 6_000_000 + int(time.time()) % 10_000 * 1_000
    now = clock.now()
    Delivery.objects.bulk_create(
        Delivery(connection=connection, topic="orders/create", delivery_id=f"floor-{first + n}", headers={},
                 body=json.dumps(order(first + n, prefix="w")), received_at=now, due_at=now)
        for n in range(count)
    )  # fmt: skip
    started = time.perf_counter()
    while deliveries_process(limit=100, worker="floor"):
        pass
    worker_rate = count / (time.perf_counter() - started)
    actor = Actor.system()
    data = [order(first + count + n, prefix="z") for n in range(count)]
    started = time.perf_counter()
    for item in data:
        person = item["customer"]
        customer, _ = customer_identify(actor=actor, email=item["email"], source=connection.source,
                                        source_customer_id=str(person["id"]),
                                        traits={"first_name": "Ayşe", "last_name": person["last_name"]})  # fmt: skip
        placed, _ = order_create(actor=actor, adjust_stock=False, new_order=NewOrder(
            customer=customer, source=connection.source, external_id=str(item["id"]), number=item["name"],
            placed_at=clock.now(), currency=item["currency"],
            lines=[{"sku": line["sku"], "title": line["title"], "quantity": line["quantity"],
                    "unit_price": line["price"]} for line in item["line_items"]],
        ))  # fmt: skip
        order_set_status(actor=actor, order=placed, status="paid", payment={"method": "card"})
    floor_rate = count / (time.perf_counter() - started)
    print(f"bench: processing {worker_rate:.0f}/s (worker) vs {floor_rate:.0f}/s (order actions alone)")
    return worker_rate, floor_rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=f"{PG}/kervan_intbench")
    parser.add_argument("--orders", type=int, default=1_000)
    args = parser.parse_args()
    setup_django(args.database_url)
    current = json.loads(RESULTS.read_text())
    accepted = accept_floor(args.database_url)
    figure = current[ACCEPT_FIGURE]
    figure["floor"] = {
        "value": round(accepted), "unit": "deliveries/s", "ratio": round(figure["value"] / accepted, 2),
        "what": "a few-line WSGI app checking the same HMAC and INSERTing the body (psycopg), same granian, same wrk",
        "command": ".venv/bin/python bench/integrations_floor.py",
    }  # fmt: skip
    worker_rate, floor_rate = processing(args.orders)
    current[PROCESS_FIGURE]["floor"] = {
        "value": round(floor_rate), "unit": "orders/s, one process",
        "ratio": round(floor_rate / worker_rate, 2),
        "what": "the same orders through Kervan's order actions alone (customer_identify, order_create, paid), "
                "against the worker's orders/s in one process " + f"({worker_rate:.0f}/s)",
        "command": ".venv/bin/python bench/integrations_floor.py",
    }  # fmt: skip
    RESULTS.write_text(json.dumps(current, indent=2, ensure_ascii=False, default=str) + "\n")


if __name__ == "__main__":
    sys.exit(main())
