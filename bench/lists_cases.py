"""The cases bench/lists.py times: every list the UI and API offer (customers, orders, products, events), each sort and
filter, with the hand-written SQL statement that is its floor (the same rows, keyset by a row comparison)."""

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

PAGE = 50
EPOCH_PG = "'1970-01-01 00:00:00+00'::timestamptz"
EPOCH_SQLITE = "'1970-01-01 00:00:00'"


@dataclass
class Floor:
    """One hand-written statement for a list's page: SELECT `select` FROM `source` WHERE `where` ORDER BY `keys`
    (each descending or not, the last the id) LIMIT 50; a deep page adds the keyset as a row comparison."""

    select: str
    source: str
    where: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)
    keys: tuple[str, str] = ("c.created_at", "c.id")
    descending: bool = True

    def sql(self, after: list | None, *, matches_first: bool = False) -> tuple[str, list]:
        """The walk: the filters checked along the sort key's order. `matches_first`: the matching rows first (a
        materialized CTE, through the filters' own indexes), then sorted — the better plan for a selective filter."""
        where, params = list(self.where), list(self.params)
        prefix = ""
        if matches_first:
            prefix = f"WITH m AS MATERIALIZED (SELECT {self.id} FROM {self.source} WHERE {' AND '.join(where)}) "
            where = [f"{self.id} IN (SELECT {self.id.split('.')[-1]} FROM m)"]
        if after is not None:
            where.append(f"({self.keys[0]}, {self.keys[1]}) {'<' if self.descending else '>'} (%s, %s)")
            params.extend(after)
        direction = "DESC" if self.descending else "ASC"
        sql = (
            f"{prefix}SELECT {self.select} FROM {self.source}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" ORDER BY {self.keys[0]} {direction}, {self.keys[1]} {direction} LIMIT {PAGE}"
        )
        return sql, params

    @property
    def id(self) -> str:
        return self.source.split()[1] + ".id"  # "customers_customer c JOIN …" → c.id


@dataclass
class Case:
    list: str  # "customer list"
    label: str  # "sort total_spent"
    page: str | None  # the page's path, or None when the list has no page
    api: str | None  # the API's path, or None
    params: dict  # the page's query (the API takes the same, unless api_params says otherwise)
    floor: Floor | None
    api_params: dict | None = None

    @property
    def name(self) -> str:
        return f"{self.list} {self.label}"


# ---------------------------------------------------------------------------------------------------------------
# The cases: what each list's page offers (its sorts, each filter alone, and combinations a saved view holds).


def customer_cases(vendor: str, probe) -> list[Case]:
    from kervan.core.text import search_fold

    epoch = EPOCH_PG if vendor == "postgresql" else EPOCH_SQLITE
    select = (
        "c.id, c.first_name, c.last_name, c.email, c.phone, c.city, c.consent_email, c.consent_sms, c.created_at, "
        "s.currency, s.total_spent, s.order_count, s.last_order_at"
    )
    source = "customers_customer c JOIN customers_customerstats s ON s.customer_id = c.id"
    sorts = {
        "newest": (("c.created_at", "c.id"), True),
        "oldest": (("c.created_at", "c.id"), False),
        "name": (("c.name_key", "c.id"), False),
        "total_spent": (("s.total_spent", "s.customer_id"), True),
        "orders": (("s.order_count", "s.customer_id"), True),
        "last_order": ((f"COALESCE(s.last_order_at, {epoch})", "s.customer_id"), True),
    }
    vip = probe("SELECT id FROM customers_tag WHERE name = 'vip'")
    small_city = probe(
        "SELECT city FROM customers_customer WHERE city <> '' GROUP BY city ORDER BY count(*) LIMIT 1", default=""
    )

    def words(q: str) -> tuple[list[str], list]:
        folded = search_fold(q).split()
        return ["c.search_key LIKE %s"] * len(folded), [f"%{w}%" for w in folded]

    filters = {  # name → (page params, API params, floor conditions, floor params)
        "": ({}, {}, [], []),
        "search 'ışık'": ({"q": "ışık"}, None, *words("ışık")),
        "search 'ayşe yılmaz'": ({"q": "ayşe yılmaz"}, None, *words("ayşe yılmaz")),
        "search 'istanbul'": ({"q": "istanbul"}, None, *words("istanbul")),
        "filter city İstanbul": ({"city": "İstanbul"}, None, ["c.city = %s"], ["İstanbul"]),
        f"filter city {small_city}": ({"city": small_city}, None, ["c.city = %s"], [small_city]),
        "filter tag vip": (
            {"tag": "vip"},
            None,
            ["EXISTS (SELECT 1 FROM customers_customer_tags t WHERE t.customer_id = c.id AND t.tag_id = %s)"],
            [vip],
        ),
        "filter has orders": ({"has_orders": "yes"}, {"has_orders": "true"}, ["s.order_count > 0"], []),
        "filter never ordered": ({"has_orders": "no"}, {"has_orders": "false"}, ["s.order_count = 0"], []),
        "filter email consent granted": ({"consent_email": "granted"}, None, ["c.consent_email = 'granted'"], []),
        "filter spent at least 5000": ({"min_spent": "5000"}, None, ["s.total_spent >= 5000"], []),
        "filter created in 2025": (
            {"created_from": "2025-01-01", "created_to": "2025-12-31"},
            None,
            ["c.created_at >= %s", "c.created_at < %s"],
            [istanbul_day(vendor, 2025, 1, 1), istanbul_day(vendor, 2026, 1, 1)],
        ),
    }
    combos = [
        ("filter tag vip", "total_spent"),
        ("filter city İstanbul", "total_spent"),
        (f"filter city {small_city}", "last_order"),
        ("filter has orders", "last_order"),
        ("filter email consent granted", "orders"),
        ("search 'ayşe yılmaz'", "total_spent"),
        ("filter created in 2025", "total_spent"),
    ]
    cases = []

    def add(filter_name: str, sort: str):
        page_params, api_params, where, params = filters[filter_name]
        keys, descending = sorts[sort]
        label = " ".join(part for part in (f"sort {sort}", filter_name) if part)
        extra = {} if sort == "newest" else {"sort": sort}
        cases.append(
            Case(
                "customer list",
                label,
                "/customers/",
                "/api/v1/customers/",
                {**page_params, **extra},
                Floor(select, source, ["c.merged_into_id IS NULL", *where], params, keys, descending),
                api_params={**(api_params if api_params is not None else page_params), **extra},
            )
        )

    for sort in sorts:
        add("", sort)
    for filter_name in filters:
        if filter_name:
            add(filter_name, "newest")
    for filter_name, sort in combos:
        add(filter_name, sort)
    return cases


def istanbul_day(vendor: str, year: int, month: int, day: int):
    """Midnight in Istanbul as the database compares it (SQLite: Django's UTC text)."""
    moment = dt.datetime(year, month, day, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    return adapt(vendor, moment)


def adapt(vendor: str, value):
    """A keyset value as the hand-written statement passes it (SQLite keeps aware datetimes as UTC text)."""
    if vendor == "sqlite" and isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
    if vendor == "sqlite" and isinstance(value, Decimal):
        return float(value)  # compares with a stored amount and with a SUM (which has no column affinity) alike
    return value


def order_cases(vendor: str, probe) -> list[Case]:
    from kervan.core.text import search_fold

    qty = "(SELECT sum(l.quantity) FROM orders_orderline l WHERE l.order_id = o.id)"
    agg = "string_agg(sh.tracking_number, ' ')" if vendor == "postgresql" else "group_concat(sh.tracking_number, ' ')"
    tracking = f"(SELECT {agg} FROM orders_shipment sh WHERE sh.order_id = o.id)"
    select = (
        "o.id, o.number, o.placed_at, o.status, o.sales_channel, o.currency, o.total, o.refunded_total, "
        f"c.first_name, c.last_name, c.email, src.key, {qty}, {tracking}"
    )
    source = (
        "orders_order o JOIN customers_customer c ON c.id = o.customer_id JOIN core_source src ON src.id = o.source_id"
    )
    sorts = {
        "newest": (("o.placed_at", "o.id"), True),
        "oldest": (("o.placed_at", "o.id"), False),
        "total": (("o.total", "o.id"), True),
        "number": (("o.number", "o.id"), False),
    }
    number = probe("SELECT number FROM orders_order WHERE number <> '' ORDER BY id DESC LIMIT 1 OFFSET 5000")
    tracking_number = probe(
        "SELECT tracking_number FROM orders_shipment WHERE tracking_number <> '' ORDER BY id DESC LIMIT 1 OFFSET 5000"
    )
    channel = probe("SELECT sales_channel FROM orders_order ORDER BY id DESC LIMIT 1")
    source_key, source_id = probe(
        "SELECT key, id FROM core_source WHERE id IN (SELECT source_id FROM orders_order ORDER BY id DESC LIMIT 1)",
        row=True,
    )
    last_day = probe("SELECT max(placed_at) FROM orders_order")
    last_day = (
        last_day
        if isinstance(last_day, dt.datetime)
        else dt.datetime.fromisoformat(str(last_day)).replace(tzinfo=dt.UTC)
    )
    month_ago = (last_day - dt.timedelta(days=30)).date()
    name_words = search_fold("ayşe yılmaz").split()
    filters = {
        "": ({}, [], []),
        "search an order number": ({"q": number}, ["o.number LIKE %s"], [f"{number}%"]),
        "search a tracking number": (
            {"q": tracking_number},
            ["o.id IN (SELECT order_id FROM orders_shipment WHERE tracking_number = %s)"],
            [tracking_number],
        ),
        "search customer 'ayşe yılmaz'": (
            {"q": "ayşe yılmaz"},
            [
                "o.customer_id IN (SELECT id FROM customers_customer WHERE merged_into_id IS NULL AND "
                + " AND ".join(["search_key LIKE %s"] * len(name_words))
                + ")"
            ],
            [f"%{w}%" for w in name_words],
        ),
        "filter status shipped": ({"status": "shipped"}, ["o.status = 'shipped'"], []),
        "filter status placed or paid": (
            {"status": ["placed", "paid"]},
            ["o.status IN ('placed', 'paid')"],
            [],
        ),
        f"filter sales channel {channel}": ({"sales_channel": channel}, ["o.sales_channel = %s"], [channel]),
        f"filter source {source_key}": ({"source": source_key}, ["o.source_id = %s"], [source_id]),
        "filter placed in the last 30 days": (
            {"placed_from": month_ago.isoformat()},
            ["o.placed_at >= %s"],
            [istanbul_day(vendor, month_ago.year, month_ago.month, month_ago.day)],
        ),
        "filter total 1000-2000": (
            {"min_total": "1000", "max_total": "2000"},
            ["o.total >= 1000", "o.total <= 2000"],
            [],
        ),
        "filter has return": (
            {"has_return": "yes"},
            ["EXISTS (SELECT 1 FROM orders_return r WHERE r.order_id = o.id)"],
            [],
        ),
        "filter has refund": ({"has_refund": "yes"}, ["o.refunded_total > 0"], []),
    }
    combos = [
        ("filter status shipped", "total"),
        ("filter placed in the last 30 days", "total"),
        ("filter has return", "total"),
        (f"filter sales channel {channel}", "oldest"),
    ]
    cases = []

    def add(filter_name: str, sort: str):
        params, where, floor_params = filters[filter_name]
        keys, descending = sorts[sort]
        extra = {} if sort == "newest" else {"sort": sort}
        label = " ".join(part for part in (f"sort {sort}", filter_name) if part)
        cases.append(
            Case(
                "order list",
                label,
                "/orders/",
                "/api/v1/orders/",
                {**params, **extra},
                Floor(select, source, where, floor_params, keys, descending),
            )
        )

    for sort in sorts:
        add("", sort)
    for filter_name in filters:
        if filter_name:
            add(filter_name, "newest")
    for filter_name, sort in combos:
        add(filter_name, sort)
    return cases


def product_cases(vendor: str, probe) -> list[Case]:
    from kervan.catalog.selectors import sales_period

    period = sales_period()
    stock = (
        "COALESCE((SELECT sum(sl.quantity) FROM catalog_stocklevel sl JOIN catalog_variant v ON v.id = sl.variant_id "
        "WHERE v.product_id = p.id), 0)"
    )

    def period_sum(column: str) -> str:
        return (
            f"COALESCE((SELECT sum(d.{column}) FROM catalog_productdailysales d WHERE d.product_id = p.id "
            f"AND d.day >= '{period.first.isoformat()}' AND d.day <= '{period.last.isoformat()}'), 0)"
        )

    select = f"p.id, p.title, p.brand, p.created_at, cat.name, {stock}, {period_sum('units')}, {period_sum('revenue')}"
    source = "catalog_product p LEFT JOIN catalog_category cat ON cat.id = p.category_id"
    sorts = {
        "newest": (("p.created_at", "p.id"), True),
        "name": (("p.search_key", "p.id"), False),
        "units_sold": ((period_sum("units"), "p.id"), True),
        "revenue": ((period_sum("revenue"), "p.id"), True),
        "stock": ((stock, "p.id"), False),
    }
    category = probe("SELECT id FROM catalog_category WHERE parent_id IS NULL ORDER BY id LIMIT 1")
    word = probe("SELECT search_key FROM catalog_product ORDER BY id LIMIT 1", default="x").split()[0]
    filters = {
        "": ({}, [], []),
        f"search '{word}'": ({"q": word}, ["p.search_key LIKE %s"], [f"%{word}%"]),
        "filter category": (
            {"category": str(category)},
            ["(p.category_id = %s OR cat.parent_id = %s)"],
            [category, category],
        ),
    }
    cases = []
    for sort in sorts:
        for filter_name in filters if sort == "newest" else ("",):
            params, where, floor_params = filters[filter_name]
            keys, descending = sorts[sort]
            extra = {} if sort == "newest" else {"sort": sort}
            label = " ".join(part for part in (f"sort {sort}", filter_name) if part)
            cases.append(
                Case(
                    "product list",
                    label,
                    "/catalog/products/",
                    "/api/v1/catalog/products",
                    {**params, **extra},
                    Floor(select, source, where, floor_params, keys, descending),
                )
            )
    return cases


def event_cases(vendor: str, probe) -> list[Case]:
    select = "e.id, e.name, e.occurred_at, e.properties, e.customer_id, c.first_name, c.last_name, c.email, src.key"
    source = (
        "events_event e LEFT JOIN customers_customer c ON c.id = e.customer_id "
        "LEFT JOIN core_source src ON src.id = e.source_id"
    )
    keys = ("e.occurred_at", "e.id")
    customer = probe("SELECT customer_id FROM events_event WHERE customer_id IS NOT NULL ORDER BY id DESC LIMIT 1")
    # the most and the least frequent names among the latest 100,000 events (the least seen at least 50 times)
    names = (
        "SELECT name, count(*) AS n FROM (SELECT name FROM events_event ORDER BY id DESC LIMIT 100000) x GROUP BY name"
    )
    common = probe(f"SELECT name FROM ({names}) y ORDER BY n DESC LIMIT 1")
    rare = probe(f"SELECT name FROM ({names}) y WHERE n >= 50 ORDER BY n LIMIT 1", default=common)
    product = probe(
        "SELECT properties FROM events_event WHERE name = 'Viewed Product' ORDER BY id DESC LIMIT 1", default=None
    )
    if isinstance(product, str):
        product = json.loads(product)
    product_id = (product or {}).get("product_id")
    last = probe("SELECT max(placed_at) FROM orders_order")  # the generated data's last day
    last = last if isinstance(last, dt.datetime) else dt.datetime.fromisoformat(str(last)).replace(tzinfo=dt.UTC)
    week_ago = (last - dt.timedelta(days=7)).date()
    prop_sql = (
        "(e.properties -> 'product_id') IN (%s::jsonb, %s::jsonb)"
        if vendor == "postgresql"
        else "json_extract(e.properties, '$.product_id') IN (%s, %s)"
    )
    prop_params = (
        [json.dumps(str(product_id)), json.dumps(product_id)]
        if vendor == "postgresql"
        else [str(product_id), product_id]
    )
    filters = {
        "": ({}, {}, [], []),
        f"filter name {common}": ({"name": common}, {"name": common}, ["e.name = %s"], [common]),
        f"filter name {rare}": ({"name": rare}, {"name": rare}, ["e.name = %s"], [rare]),
        "filter customer": ({"customer": str(customer)}, {"customer_id": customer}, ["e.customer_id = %s"], [customer]),
        f"filter prop product_id={product_id}": ({"prop": f"product_id={product_id}"}, None, [prop_sql], prop_params),
        "filter since a week ago": (
            {"since": week_ago.isoformat()},
            {"since": f"{week_ago.isoformat()}T00:00:00+03:00"},
            ["e.occurred_at >= %s"],
            [istanbul_day(vendor, week_ago.year, week_ago.month, week_ago.day)],
        ),
    }
    cases = []
    for filter_name, (params, api_params, where, floor_params) in filters.items():
        cases.append(
            Case(
                "event list",
                " ".join(part for part in ("newest", filter_name) if part),
                "/events/",
                "/api/v1/events/" if api_params is not None else None,
                params,
                Floor(select, source, where, floor_params, keys, True),
                api_params=api_params,
            )
        )
    return cases
