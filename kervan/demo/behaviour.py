"""Demo clickstream: the canonical events a shop's tracker and order feed would send.

Per customer, a budget of browsing events is spent first on the funnel before their most recent web/app
orders (product view → add to cart → checkout, minutes before the order), then on free browsing sessions, some
of which put things in the cart or start a checkout and stop there: abandoned carts. Orders add "Placed Order"
and one "Ordered Product" per line. Anonymous visitors browse without ever being identified.
"""

from kervan.demo.catalog import CATEGORIES
from kervan.demo.rows import fmt_money, fmt_ts

MINUTE = 60


class Clickstream:
    def __init__(self, generator, catalogue):
        self.g = generator
        self.rng = generator.rng
        self.calendar = generator.calendar
        self.now = generator.calendar.now
        self.prefix = f"demo:{generator.settings.seed}:"
        self.seq = 0
        self.web = generator.sources["web"]
        self.pages = [
            '{"path": "/", "title": "Ana Sayfa"}',
            '{"path": "/kampanyalar", "title": "Kampanyalar"}',
            '{"path": "/yeni-gelenler", "title": "Yeni Gelenler"}',
            *(f'{{"path": "/kategori/{slug}", "title": "{name}"}}' for slug, name, *_ in CATEGORIES),
        ]

    def _event(self, customer_id, anonymous_id: str, name: str, ts, properties: str, source_id, key=None) -> None:
        """Append one event; `ts` is an epoch second or already the formatted time. Order events take `key`, the
        dedupe key kervan.orders.actions gives them, so they show on the timeline as the order rows they are."""
        self.seq += 1
        when = ts if isinstance(ts, str) else fmt_ts(ts)
        ids = self.g.next_id
        event_id = ids["event"]
        ids["event"] = event_id + 1
        self.g.rows["event"].append(
            (
                event_id,
                key or self.prefix + str(self.seq),
                customer_id,
                anonymous_id,
                name,
                when,
                when,
                properties,
                source_id,
            )
        )

    def order_placed(
        self, customer_id, order_id, number, total, lines, channel, discount, placed: str, source_id, per_line: bool
    ) -> None:
        codes = f'["{discount[0]}"]' if discount else "[]"
        items = sum(line[1] for line in lines)
        self._event(
            customer_id,
            "",
            "Placed Order",
            placed,
            f'{{"order_id": {order_id}, "number": "{number}", "value": {fmt_money(total)}, "currency": "TRY", '
            f'"item_count": {items}, "sales_channel": "{channel}", "discount_codes": {codes}}}',
            source_id,
            key=f"order:{order_id}:placed",
        )
        for i, (item, quantity, _discount, _tax, line_total) in enumerate(lines if per_line else ()):
            self._event(
                customer_id,
                "",
                "Ordered Product",
                placed,
                f'{{"order_id": {order_id}, {item.json}, "quantity": {quantity}, "value": {fmt_money(line_total)}}}',
                source_id,
                key=f"order:{order_id}:line:{i}",
            )

    def for_customer(self, state, budget: int, funnels: list) -> int | None:
        """Spend `budget` browsing events on the customer; return the time of the last one (None if none)."""
        rng, cal, now, rand = self.rng, self.calendar, self.now, self.rng.random
        customer_id, last = state.id, None
        for placed, lines in reversed(funnels):
            cost = len(lines) + 2
            if budget < cost:
                break
            budget -= cost
            ts = placed - 15 * MINUTE - int(rand() * 25 * MINUTE)  # at most 12 minutes of carting follow
            self._event(customer_id, "", "Viewed Product", ts, f"{{{lines[0][0].json}}}", self.web)
            for item, quantity, *_ in lines:
                ts += 20 + int(rand() * 160)
                self._event(customer_id, "", "Added to Cart", ts, f'{{{item.json}, "quantity": {quantity}}}', self.web)
            checkout = placed - MINUTE - int(rand() * MINUTE)
            value = sum(line[4] for line in lines)
            self._event(
                customer_id,
                "",
                "Started Checkout",
                checkout,
                f'{{"value": {fmt_money(value)}, "currency": "TRY", "item_count": {len(lines)}}}',
                self.web,
            )
            last = checkout if last is None else max(last, checkout)
        while budget > 0:
            ts = max(cal.sample_time(rng, cal.sample_day(rng, state.signup_day)), state.signup + MINUTE)
            ts = min(ts, now - 30 * MINUTE)
            self._event(customer_id, "", "Viewed Page", ts, rng.choice(self.pages), self.web)
            budget -= 1
            item = None
            for _ in range(min(rng.randint(1, 4), budget)):
                ts += 20 + int(rand() * 160)
                item = self.g.orders.pick_item(state.category)
                self._event(customer_id, "", "Viewed Product", ts, f"{{{item.json}}}", self.web)
                budget -= 1
            if item is not None and budget > 0 and rand() < 0.3:
                ts += 20 + int(rand() * 100)
                self._event(customer_id, "", "Added to Cart", ts, f'{{{item.json}, "quantity": 1}}', self.web)
                budget -= 1
                if budget > 0 and rand() < 0.45:
                    ts += 30 + int(rand() * 270)
                    properties = f'{{"value": {fmt_money(item.price)}, "currency": "TRY", "item_count": 1}}'
                    self._event(customer_id, "", "Started Checkout", ts, properties, self.web)
                    budget -= 1
            last = ts if last is None else max(last, ts)
        return last

    def anonymous_visitors(self, count: int) -> None:
        rng, cal, rand = self.rng, self.calendar, self.rng.random
        for _ in range(count):
            visitor = f"anon-{rng.getrandbits(64):016x}"
            ts = min(cal.sample_time(rng, cal.sample_day(rng)), self.now - 15 * MINUTE)
            self._event(None, visitor, "Viewed Page", ts, rng.choice(self.pages), self.web)
            for _ in range(rng.randint(0, 3)):
                ts += 20 + int(rand() * 160)
                item = self.g.orders.pick_item(rng.randrange(len(CATEGORIES)))
                self._event(None, visitor, "Viewed Product", ts, f"{{{item.json}}}", self.web)
