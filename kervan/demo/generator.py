"""The demo shop generator: customers with their consents and identities, their orders (lines, payments,
shipments, status timeline, returns, refunds), their clickstream and their stats, streamed in batches.

One Random, seeded from the settings, drives everything in a fixed order, and "now" is the end of
`settings.until` (not the clock), so the same settings always give the same rows. Ids are assigned here,
from `first_ids`, so rows can be written with COPY without asking the database for keys.
"""

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from kervan.core.emails import email_match_key
from kervan.customers.models import average_order_value
from kervan.customers.search import customer_name_key, customer_search_key
from kervan.demo.behaviour import Clickstream
from kervan.demo.catalog import CATEGORIES
from kervan.demo.draw import Weighted, poisson
from kervan.demo.orders import OrderMaker
from kervan.demo.people import PeopleFactory
from kervan.demo.rows import ID_TABLES, fmt_money, fmt_ts, new_batch
from kervan.demo.seasons import DEFAULT_UNTIL, ShopCalendar

# How uneven buying is: orders per customer ~ Poisson(mean × Gamma(k, 1/k)), a negative binomial with a long
# tail. k = 0.4 puts most customers at 0–2 orders and a few loyal ones at dozens.
ORDER_SHAPE = 0.4
DEFAULT_ORDERS_PER_CUSTOMER = 2.5
PRE_WINDOW_SHARE = 0.35  # customers who signed up before the data window
CATEGORY_WEIGHTS = (26, 14, 12, 14, 14, 8, 6, 6)  # Giyim … Oyuncak, as in catalog.CATEGORIES
TAGS = ("vip", "toptan", "influencer", "kurumsal", "personel")
VIP_SPEND = 2_500_000  # kuruş: ₺25.000 net
SOURCES = ("web", "trendyol", "hepsiburada", "n11", "amazon", "pos")

CONSENT_TEXT = {
    "granted": "Kampanya ve duyurulardan haberdar olmak için ticari elektronik ileti almayı kabul ediyorum. (v3)",
    "refused": "Ticari elektronik ileti onay kutusu işaretlenmedi.",
}
SIGNUP_CONSENT_SOURCE = {
    "web": ("Üyelik formu", "HS_WEB"),
    "trendyol": ("Sipariş sonrası üyelik", "HS_WEB"),
    "pos": ("Mağaza kasası", "HS_FIZIKSEL_ORTAM"),
}
LATER_CONSENT_SOURCE = {
    ("email", "refused"): ("E-posta abonelikten çıkma bağlantısı", "HS_EPOSTA"),
    ("sms", "refused"): ("SMS ile RET", "HS_MESAJ"),
    ("email", "granted"): ("Hesap ayarları", "HS_WEB"),
    ("sms", "granted"): ("Hesap ayarları", "HS_WEB"),
}


@dataclass
class DemoSettings:
    customers: int
    seed: int = 7
    orders: int | None = None  # about this many orders in all; default 2.5 per customer
    events_per_customer: float = 10.0  # browsing events (page, product, cart, checkout) per customer, on average
    # Per order: "all" = "Placed Order" + one "Ordered Product" per line, "placed" = only "Placed Order", "none"
    order_events: str = "all"
    anonymous_share: float = 0.3  # anonymous visitors per customer
    until: dt.date = DEFAULT_UNTIL  # the last day of data; "now" is the midnight after it, Europe/Istanbul
    batch_size: int = 2000  # customers per batch

    @property
    def target_orders(self) -> int:
        return self.orders if self.orders is not None else round(self.customers * DEFAULT_ORDERS_PER_CUSTOMER)


class CatalogueItem:
    """A sellable variant as the generator needs it; `net` is the price without the 20% KDV."""

    __slots__ = ("variant_id", "product_id", "sku", "title", "price", "net", "net_text", "category", "json")

    def __init__(self, *, variant_id: int, product_id: int, sku: str, title: str, price: int, category: int):
        self.variant_id, self.product_id, self.sku, self.title = variant_id, product_id, sku, title
        self.price, self.category = price, category
        self.net = (price * 10 + 6) // 12  # round(price / 1.2)
        self.net_text = fmt_money(self.net)
        # The product part of event properties, rendered once (titles hold no quotes or backslashes).
        self.json = (
            f'"product_id": {product_id}, "variant_id": {variant_id}, "sku": "{sku}", "title": "{title}", '
            f'"category": "{CATEGORIES[category][1]}", "price": {fmt_money(price)}'
        )


class CustomerState:
    """What the order and event makers need to know about the customer being generated."""

    __slots__ = ("id", "source", "signup", "signup_day", "wholesale", "category", "channels", "marketplaces")

    def __init__(self, **values):
        for key, value in values.items():
            setattr(self, key, value)


CHANNELS = {
    "web": Weighted([("web", 62), ("mobile_app", 25), ("marketplace", 8), ("pos", 3), ("phone", 2)]),
    "trendyol": Weighted([("marketplace", 85), ("web", 10), ("mobile_app", 5)]),
    "pos": Weighted([("pos", 75), ("web", 20), ("mobile_app", 5)]),
}
MARKETPLACES = {
    "trendyol": Weighted([("trendyol", 90), ("hepsiburada", 10)]),
    "other": Weighted([("trendyol", 50), ("hepsiburada", 28), ("amazon", 12), ("n11", 10)]),
}


class ShopGenerator:
    def __init__(
        self,
        settings: DemoSettings,
        *,
        catalogue: list[CatalogueItem],
        sources: dict[str, int],
        tags: dict[str, int],
        first_ids: dict[str, int],
    ):
        self.settings = settings
        self.rng = random.Random(f"kervan-demo:{settings.seed}")
        self.calendar = ShopCalendar(settings.until)
        self.people = PeopleFactory(self.rng, settings.until)
        self.sources = sources
        self.tags = tags
        self.next_id = {table: first_ids.get(table, 1) for table in ID_TABLES}
        self.rows = new_batch()
        self.counts: Counter = Counter()
        self.category_weights = CATEGORY_WEIGHTS
        self.categories = Weighted(enumerate(CATEGORY_WEIGHTS))
        self.clicks = Clickstream(self, catalogue)
        self.orders = OrderMaker(self, catalogue)
        cal = self.calendar
        total = cal.cumulative[-1]
        # The average share of the window a customer is around for: some joined before it, the rest during it.
        self.mean_life = PRE_WINDOW_SHARE + (1 - PRE_WINDOW_SHARE) * sum(
            w / total * cal.remaining_share(d) for d, w in enumerate(cal.demand)
        )
        self.orders_per_customer = settings.target_orders / max(settings.customers, 1)

    def new_id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def new_ids(self, table: str, count: int) -> range:
        value = self.next_id[table]
        self.next_id[table] = value + count
        return range(value, value + count)

    def batches(self) -> Iterator[dict[str, list[tuple]]]:
        """Yield rows per table, `batch_size` customers (with everything that hangs off them) at a time."""
        settings = self.settings
        done = 0
        while done < settings.customers:
            size = min(settings.batch_size, settings.customers - done)
            for _ in range(size):
                self._customer()
            self.clicks.anonymous_visitors(round(size * settings.anonymous_share))
            done += size
            batch, self.rows = self.rows, new_batch()
            for table, rows in batch.items():
                self.counts[table] += len(rows)
            yield batch

    def _customer(self) -> None:
        rng, cal = self.rng, self.calendar
        customer_id = self.new_id("customer")
        r = rng.random()
        source = "web" if r < 0.78 else "trendyol" if r < 0.92 else "pos"
        with_email = rng.random() < {"web": 0.99, "trendyol": 0.8, "pos": 0.7}[source]
        with_phone = rng.random() < (0.97 if source == "pos" else 0.88) or not with_email
        person = self.people.person(with_email=with_email, with_phone=with_phone)
        if rng.random() < PRE_WINDOW_SHARE:  # joined before the window
            signup, signup_day = cal.day_start[0] - rng.randrange(86400, 365 * 86400), 0
            life = 1.0
        else:
            signup_day = cal.sample_day(rng)
            signup = cal.sample_time(rng, signup_day)
            life = cal.remaining_share(signup_day)
        wholesale = rng.random() < 0.01  # wholesale buyers order three times as often (1.02 keeps the mean)
        engagement = rng.gammavariate(ORDER_SHAPE, 1 / ORDER_SHAPE)
        lam = self.orders_per_customer * engagement * life / self.mean_life * (3 if wholesale else 1) / 1.02
        state = CustomerState(
            id=customer_id,
            source=source,
            signup=signup,
            signup_day=signup_day,
            wholesale=wholesale,
            category=self.categories.pick(rng.random),
            channels=CHANNELS[source],
            marketplaces=MARKETPLACES["trendyol" if source == "trendyol" else "other"],
        )
        consent_email = self._consent(
            customer_id, "email", email_match_key(person.email) if person.email else "", source, signup
        )
        consent_sms = self._consent(customer_id, "sms", person.phone, source, signup)
        self._identities(customer_id, person, source, signup)

        totals = self.orders.for_customer(state, min(poisson(rng, lam), 500))
        budget = poisson(rng, self.settings.events_per_customer * (0.35 + 0.65 * min(engagement, 6.0)))
        last_event = self.clicks.for_customer(state, budget, totals.placed_funnels)
        last_event = max(last_event or 0, totals.last_event or 0) or None

        tags = []
        if totals.spent >= VIP_SPEND or totals.count >= 15:
            tags.append("vip")
        if wholesale:
            tags.append("toptan")
            if rng.random() < 0.5:
                tags.append("kurumsal")
        if rng.random() < 0.004:
            tags.append("influencer")
        if rng.random() < 0.002:
            tags.append("personel")
        for tag in tags:
            self.rows["customer_tag"].append((self.new_id("customer_tag"), customer_id, self.tags[tag]))

        average = average_order_value(Decimal(totals.spent).scaleb(-2), totals.count)
        self.rows["stats"].append(
            (
                customer_id,
                fmt_money(totals.spent),
                totals.count,
                f"{average:.2f}",
                fmt_ts(totals.first) if totals.first else None,
                fmt_ts(totals.last) if totals.last else None,
                totals.returns,
                fmt_money(totals.refunded),
                fmt_ts(last_event) if last_event else None,
            )
        )
        created = fmt_ts(signup)
        self.rows["customer"].append(
            (
                customer_id,
                created,
                created,
                person.first_name,
                person.last_name,
                person.email,
                person.phone,
                person.birth_date.isoformat() if person.birth_date else None,
                person.gender,
                person.city,
                person.language,
                self.sources[source],
                consent_email,
                consent_sms,
                customer_search_key(
                    first_name=person.first_name,
                    last_name=person.last_name,
                    email=person.email,
                    phone=person.phone,
                    city=person.city,
                ),
                customer_name_key(first_name=person.first_name, last_name=person.last_name),
                email_match_key(person.email) if person.email else "",
            )
        )

    def _identities(self, customer_id: int, person, source: str, signup: int) -> None:
        rows, created = self.rows["identity"], fmt_ts(signup)
        if person.email:
            rows.append((self.new_id("identity"), customer_id, "email", email_match_key(person.email), None, created))
        if person.phone:
            rows.append((self.new_id("identity"), customer_id, "phone", person.phone, None, created))
        if source == "web":
            # The web store's own customer id (Shopify-style, 13 digits).
            store_id = str(7_000_000_000_000 + customer_id)
            rows.append((self.new_id("identity"), customer_id, "source_id", store_id, self.sources["web"], created))

    def _consent(self, customer_id: int, channel: str, address: str, source: str, signup: int) -> str:
        """Write the customer's consent ledger for one channel; return the latest status ("" if none)."""
        rng = self.rng
        if not address or rng.random() < 0.1:
            return ""
        iys_channel = "EPOSTA" if channel == "email" else "MESAJ"
        status = "granted" if rng.random() < (0.55 if channel == "email" else 0.45) else "refused"
        label, iys_source = SIGNUP_CONSENT_SOURCE[source]
        self._consent_row(customer_id, channel, status, label, signup, address, iys_channel, iys_source)
        if rng.random() < (0.12 if channel == "email" else 0.08):
            status = "refused" if status == "granted" else "granted"
            later = signup + int(rng.random() * (self.calendar.now - signup))
            label, iys_source = LATER_CONSENT_SOURCE[(channel, status)]
            self._consent_row(customer_id, channel, status, label, later, address, iys_channel, iys_source)
        return status

    def _consent_row(self, customer_id, channel, status, label, ts, address, iys_channel, iys_source) -> None:
        when = fmt_ts(ts)
        self.rows["consent"].append(
            (
                self.new_id("consent"),
                customer_id,
                channel,
                status,
                label,
                CONSENT_TEXT[status],
                when,
                when,
                address,
                iys_channel,
                "ONAY" if status == "granted" else "RET",
                iys_source,
            )
        )
