"""The floor under the Customer 360 API on a first read: the same facts for a customer nobody read before, by the
simplest hand-written code on this machine — N processes, each reading a random customer's row and stats, tags,
identities and latest consent per channel with plain SQL over one connection, and encoding them as JSON. No HTTP,
no authentication, no audit row, no cache.

With --page, the floor under the 360 page: the header's facts as above, then the timeline's first page (one
hand-written UNION ALL of the kinds read together — each order once, at its latest status change —, the customer's
newest events per name, merged in Python, the page's rows of each kind read by id, the orders' status steps, the
events' product titles) and the cards' rows (recent orders, segments, prediction, custom field definitions), printed
as the page's HTML with plain Python f-strings and html.escape. No Django, no template, no HTTP, no audit row.

    .venv/bin/python bench/customer360_floor.py     # on kervan_bench (bench/generate_demo.py)
    .venv/bin/python bench/customer360_floor.py --page

Adds "floor" to the uncached Customer 360 API (or page) throughput figures in bench/results/customer360.json.
"""

import argparse
import html
import json
import multiprocessing
import random
import time
from pathlib import Path

import psycopg

RESULTS = Path(__file__).resolve().parent / "results" / "customer360.json"
QUERIES = (
    "SELECT c.*, s.* FROM customers_customer c LEFT JOIN customers_customerstats s ON s.customer_id = c.id"
    " WHERE c.id = %(id)s",
    "SELECT t.name FROM customers_customer_tags ct JOIN customers_tag t ON t.id = ct.tag_id"
    " WHERE ct.customer_id = %(id)s",
    "SELECT kind, value, source_id FROM customers_identity WHERE customer_id = %(id)s ORDER BY kind, value",
    "SELECT DISTINCT ON (channel, purpose) channel, purpose, status FROM customers_consentrecord"
    " WHERE customer_id = %(id)s ORDER BY channel, purpose, occurred_at DESC, id DESC",
)


# The page's header: the customer with stats, tags, identities with their source, the deciding consent per channel.
PAGE_HEADER = (
    "SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.city, c.country, c.birth_date, c.gender, c.language,"
    " c.time_zone, c.created_at, c.custom_fields, s.total_spent, s.order_count, s.currency, s.first_order_at,"
    " s.last_order_at, s.returns_count FROM customers_customer c"
    " LEFT JOIN customers_customerstats s ON s.customer_id = c.id WHERE c.id = %(id)s",
    QUERIES[1],
    "SELECT i.kind, i.value, src.name FROM customers_identity i LEFT JOIN core_source src ON src.id = i.source_id"
    " WHERE i.customer_id = %(id)s ORDER BY i.kind, i.value",
    "SELECT DISTINCT ON (channel, purpose) channel, purpose, status, source, occurred_at FROM customers_consentrecord"
    " WHERE customer_id = %(id)s ORDER BY channel, purpose, occurred_at DESC, id DESC",
)
# The kinds read together, newest first (rank: the registered position), each order once at its latest change.
TIMELINE_KINDS = {
    10: "SELECT occurred_at AS t, 10 AS rank, id FROM (SELECT DISTINCT ON (order_id) occurred_at, id"
    " FROM orders_orderstatuschange WHERE customer_id = %(id)s ORDER BY order_id, occurred_at DESC, id DESC) o",
    20: "SELECT created_at, 20, id FROM orders_return WHERE customer_id = %(id)s",
    30: "SELECT occurred_at, 30, id FROM orders_refund WHERE customer_id = %(id)s",
    35: "SELECT submitted_at, 35, id FROM feedback_review WHERE customer_id = %(id)s",
    40: "SELECT created_at, 40, id FROM customers_customernote WHERE customer_id = %(id)s",
    50: "SELECT occurred_at, 50, id FROM customers_customermerge WHERE survivor_id = %(id)s",
    60: "SELECT occurred_at, 60, id FROM customers_consentrecord WHERE customer_id = %(id)s",
}
EVENTS = """
    WITH RECURSIVE names(name) AS (
        (SELECT name FROM events_event WHERE customer_id = %(id)s ORDER BY name LIMIT 1)
        UNION ALL
        SELECT (SELECT e.name FROM events_event e WHERE e.customer_id = %(id)s AND e.name > names.name
                ORDER BY e.name LIMIT 1) FROM names WHERE names.name IS NOT NULL)
    SELECT newest.occurred_at, 0, newest.id FROM names CROSS JOIN LATERAL (
        SELECT e.occurred_at, e.id FROM events_event e WHERE e.customer_id = %(id)s AND e.name = names.name
        AND e.dedupe_key NOT LIKE 'order:%%' AND e.dedupe_key NOT LIKE 'return:%%' AND e.dedupe_key NOT LIKE 'refund:%%'
        ORDER BY e.occurred_at DESC, e.id DESC LIMIT 31) AS newest
    WHERE names.name IS NOT NULL ORDER BY newest.occurred_at DESC, newest.id DESC LIMIT 31
"""
LOAD = {
    0: "SELECT id, name, occurred_at, properties FROM events_event WHERE id = ANY(%(ids)s)",
    10: "SELECT c.id, c.status, c.occurred_at, c.order_id, o.number, o.total, o.currency"
    " FROM orders_orderstatuschange c JOIN orders_order o ON o.id = c.order_id WHERE c.id = ANY(%(ids)s)",
    20: "SELECT r.id, r.reason, r.note, o.number FROM orders_return r JOIN orders_order o ON o.id = r.order_id"
    " WHERE r.id = ANY(%(ids)s)",
    30: "SELECT r.id, r.amount, r.currency, r.reason, o.number FROM orders_refund r JOIN orders_order o"
    " ON o.id = r.order_id WHERE r.id = ANY(%(ids)s)",
    35: "SELECT id, rating, title, text FROM feedback_review WHERE id = ANY(%(ids)s)",
    40: "SELECT n.id, n.body, u.username FROM customers_customernote n LEFT JOIN accounts_user u ON u.id = n.author_id"
    " WHERE n.id = ANY(%(ids)s)",
    50: "SELECT id, merged_id FROM customers_customermerge WHERE id = ANY(%(ids)s)",
    60: "SELECT id, channel, purpose, status, source FROM customers_consentrecord WHERE id = ANY(%(ids)s)",
}
STEPS = "SELECT order_id, status, occurred_at, details FROM orders_orderstatuschange WHERE order_id = ANY(%(ids)s)"
PRODUCTS = "SELECT id, title FROM catalog_product WHERE id = ANY(%(ids)s)"
CARDS = (
    "SELECT id, number, placed_at, status, total, currency FROM orders_order WHERE customer_id = %(id)s"
    " ORDER BY placed_at DESC LIMIT 5",
    "SELECT s.id, s.name FROM segments_segment s JOIN segments_segmentmembership m ON m.segment_id = s.id"
    " WHERE m.customer_id = %(id)s ORDER BY s.name",
    "SELECT * FROM predictions_customerprediction WHERE customer_id = %(id)s",
    "SELECT key, label, field_type FROM customers_customfielddefinition ORDER BY id",
)
ROW = (
    '<li class="tl-{kind}"><span class="when" title="{iso}">{when}</span><span class="icon kind-{kind}"'
    ' aria-hidden="true"></span><div><strong>{title}</strong><div class="muted">{summary}</div>{steps}</div></li>'
)


def _page(conn, customer_id: int, kinds_sql: str) -> str:
    params = {"id": customer_id}
    customer, tags, identities, consents = [conn.execute(sql, params).fetchall() for sql in PAGE_HEADER]
    rows = conn.execute(kinds_sql, params).fetchall() + conn.execute(EVENTS, params).fetchall()
    page = sorted(rows, reverse=True)[:30]
    loaded = {}
    for rank in {r for _t, r, _id in page}:
        ids = [pk for _t, r, pk in page if r == rank]
        loaded[rank] = {row[0]: row for row in conn.execute(LOAD[rank], {"ids": ids}).fetchall()}
    steps: dict[int, list] = {}
    orders = [row[3] for row in loaded.get(10, {}).values()]
    if orders:
        for order_id, status, occurred_at, _details in conn.execute(STEPS, {"ids": orders}).fetchall():
            steps.setdefault(order_id, []).append(
                f'<div class="tl-step">{status} <time>{occurred_at:%d.%m.%Y %H:%M}</time></div>'
            )
    products = {
        int(p["product_id"])
        for p in (row[3] for row in loaded.get(0, {}).values())
        if str(p.get("product_id", "")).isdigit()
    }
    titles = dict(conn.execute(PRODUCTS, {"ids": list(products)}).fetchall()) if products else {}
    recent, segments, prediction, fields = [conn.execute(sql, params).fetchall() for sql in CARDS]
    items = []
    for when, rank, pk in page:
        row = loaded[rank][pk]
        if rank == 0:
            title, summary = (
                row[1],
                titles.get(
                    int(row[3].get("product_id", 0) or 0) if str(row[3].get("product_id", "")).isdigit() else 0, ""
                ),
            )
        elif rank == 10:
            title, summary = f"Order {row[4]} {row[1]}", f"{row[5]} {row[6]}"
        else:
            title, summary = str(row[1]), str(row[-1])
        items.append(
            ROW.format(
                kind=rank,
                iso=when.isoformat(),
                when=f"{when:%d.%m.%Y %H:%M}",
                title=html.escape(str(title)),
                summary=html.escape(str(summary)),
                steps="".join(steps.get(row[3], [])) if rank == 10 else "",
            )
        )
    c = customer[0] if customer else ("",) * 19
    facts = "".join(
        f"<dt>{k}</dt><dd>{html.escape(str(v))}</dd>"
        for k, v in zip(
            ("Email", "Phone", "City", "Country", "Birth date", "Gender", "Language", "Time zone"),
            (c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]),
            strict=True,
        )
    )
    facts += "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(str((c[12] or {}).get(key, '—')))}</dd>"
        for key, label, _t in fields
    )
    return (
        f"<!doctype html><html lang=tr><head><title>{html.escape(f'{c[1]} {c[2]}')}</title></head><body>"
        f"<h1>{html.escape(f'{c[1]} {c[2]}')}</h1><span>#{c[0]} · {c[11]:%d.%m.%Y}</span>"
        + "".join(f'<span class="pill">{html.escape(t)}</span>' for (t,) in tags)
        + f'<section class="kpis"><div>{c[13]} {c[15]}</div><div>{c[14]}</div><div>{c[16]}</div><div>{c[17]}</div>'
        f"<div>{c[18]}</div></section><dl class=facts>{facts}</dl>"
        + "".join(
            f'<li data-channel="{ch}"><span class="pill {st}">{ch}: {st}</span></li>' for ch, p, st, _s, _o in consents
        )
        + "".join(f"<li>{k}: {html.escape(v)} ({html.escape(str(s or ''))})</li>" for k, v, s in identities)
        + "".join(
            f"<tr><td>{n}</td><td>{p:%d.%m.%Y}</td><td>{st}</td><td>{t} {cur}</td></tr>"
            for _i, n, p, st, t, cur in recent
        )
        + "".join(f'<a class="pill" href="/segments/{i}/">{html.escape(n)}</a>' for i, n in segments)
        + (f"<section>{len(prediction[0])}</section>" if prediction else "")
        + '<ul class="timeline">'
        + "".join(items)
        + "</ul></body></html>"
    )


def worker(args) -> int:
    url, seconds, seed, top, page = args
    rng = random.Random(seed)
    reads = 0
    with psycopg.connect(url, autocommit=True) as conn:
        has = {name for (name,) in conn.execute("SELECT relname FROM pg_class WHERE relkind = 'r'").fetchall()}
        kinds = [sql for rank, sql in TIMELINE_KINDS.items() if rank != 35 or "feedback_review" in has]
        kinds_sql = " UNION ALL ".join(f"({sql})" for sql in kinds) + " ORDER BY 1 DESC, 2 DESC, 3 DESC LIMIT 31"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            customer_id = rng.randint(1, top)
            if page:
                _page(conn, customer_id, kinds_sql)
            else:
                body = [conn.execute(sql, {"id": customer_id}).fetchall() for sql in QUERIES]
                json.dumps(body, default=str)
            reads += 1
    return reads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/kervan_bench")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--page", action="store_true", help="the floor under the page, not the API")
    args = parser.parse_args()
    with psycopg.connect(args.url) as conn:
        top = conn.execute("SELECT max(id) FROM customers_customer").fetchone()[0]
    started = time.monotonic()
    jobs = [(args.url, args.duration, args.seed * 100 + n, top, args.page) for n in range(args.processes)]
    with multiprocessing.Pool(args.processes) as pool:
        reads = sum(pool.map(worker, jobs))
    rate = round(reads / (time.monotonic() - started), 1)
    command = f".venv/bin/python bench/customer360_floor.py --processes {args.processes} --seed {args.seed}"
    what = "row + stats, tags, identities, latest consent per channel, in plain SQL, encoded as JSON; no HTTP, no audit"
    what += " row"
    if args.page:
        command += " --page"
        what = (
            "the header's rows, the timeline's first page (one UNION ALL of the kinds read together, the newest events"
            " per name, rows by id, order steps, product titles) and the cards' rows in plain SQL, printed as HTML with"
            " f-strings; no Django, no template, no HTTP, no audit row"
        )
    floor = {
        "value": rate,
        "unit": "requests/s",
        "what": f"{args.processes} processes reading random customers never read before: {what}",
        "command": command,
    }
    results = json.loads(RESULTS.read_text())
    figure_name = "Customer 360 page, uncached throughput" if args.page else "Customer 360 API, uncached throughput"
    for name, figure in results.items():
        if name.startswith(figure_name):
            figure["floor"] = floor
            figure["ratio_to_floor"] = round(figure["value"] / rate, 2)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"floor: {rate} requests/s")


if __name__ == "__main__":
    main()
