"""Demo orders: lines from the catalogue, discounts, 20% KDV, shipping, payment, status timeline with
shipments, cancellations with refunds, and partial returns with refunds.

Amounts are whole kuruş (ints) until they are written, so totals add up exactly:
line total = quantity × unit price − discount + tax, order total = Σ line totals + shipping.
This is the generator's hot loop (10 million orders for the large benchmark), hence the local variables.
"""

from dataclasses import dataclass, field

from kervan.demo.draw import Weighted
from kervan.demo.names import zipf_weights
from kervan.demo.rows import fmt_money, fmt_ts

DAY, HOUR, MINUTE = 86400, 3600, 60
FREE_SHIPPING_FROM = 50000  # ₺500
SHIPPING_FEE = 4990  # ₺49,90
RETURN_RATE = 0.08

PAYMENT_METHODS = {
    "web": Weighted([("card", 74), ("cod", 12), ("bank_transfer", 6), ("wallet", 8)]),
    "mobile_app": Weighted([("card", 80), ("cod", 8), ("bank_transfer", 2), ("wallet", 10)]),
    "phone": Weighted([("cod", 50), ("bank_transfer", 30), ("card", 20)]),
}
PROVIDERS = {
    "card": Weighted([("iyzico", 55), ("PayTR", 30), ("Param", 15)]),
    "wallet": Weighted([("Papara", 60), ("BKM Express", 40)]),
    "bank_transfer": Weighted([("Garanti BBVA", 25), ("İş Bankası", 25), ("Ziraat Bankası", 20), ("Akbank", 15),
                               ("Yapı Kredi", 15)]),
}  # fmt: skip
INSTALLMENTS = Weighted([(1, 50), (2, 5), (3, 20), (6, 14), (9, 6), (12, 5)])
CANCEL_RATE = {"card": 0.04, "wallet": 0.04, "marketplace": 0.05, "cod": 0.08, "bank_transfer": 0.15}
CARRIERS = {
    "": Weighted([("Yurtiçi Kargo", 30), ("Aras Kargo", 25), ("MNG Kargo", 15), ("HepsiJET", 12), ("PTT Kargo", 10),
                  ("Sürat Kargo", 8)]),
    "trendyol": Weighted([("Trendyol Express", 75), ("Yurtiçi Kargo", 10), ("Aras Kargo", 10), ("MNG Kargo", 5)]),
    "hepsiburada": Weighted([("HepsiJET", 80), ("Aras Kargo", 10), ("Yurtiçi Kargo", 10)]),
}  # fmt: skip
# (utm_source, utm_medium, utm_campaign or None for the season's campaign), weight
UTM = Weighted([
    (("google", "cpc", "marka-arama"), 20), (("google", "cpc", "genel-arama"), 12),
    (("instagram", "social", None), 14), (("facebook", "social", None), 8), (("tiktok", "social", None), 6),
    (("newsletter", "email", "haftalik-bulten"), 14), (("sms", "sms", None), 5),
    (("akakce", "cpc", "fiyat-karsilastirma"), 6), (("cimri", "cpc", "fiyat-karsilastirma"), 4),
    (("criteo", "display", "yeniden-hedefleme"), 6), (("youtube", "video", None), 3),
    (("influencer", "social", "influencer-isbirligi"), 2),
])  # fmt: skip
LINE_COUNT = Weighted([(1, 55), (2, 28), (3, 12), (4, 5)])
QUANTITY = Weighted([(1, 85), (2, 11), (3, 3), (4, 1)])
FIT_REASONS = Weighted([("size", 45), ("changed_mind", 20), ("not_as_described", 15), ("damaged", 10),
                        ("wrong_item", 5), ("late", 3), ("other", 2)])  # fmt: skip
OTHER_REASONS = Weighted([("damaged", 30), ("changed_mind", 25), ("not_as_described", 20), ("wrong_item", 12),
                          ("late", 8), ("other", 5)])  # fmt: skip
RETURN_NOTES = {
    "size": "Beden küçük geldi, bir büyüğünü alacağım.",
    "damaged": "Ürün hasarlı geldi, kutusu ezilmişti.",
    "wrong_item": "Sipariş ettiğim renk yerine farklı renk gönderilmiş.",
    "not_as_described": "Ürün fotoğraftaki gibi değil.",
    "changed_mind": "Vazgeçtim.",
    "late": "Kargo çok geç geldi.",
    "other": "",
}
# Seasonal codes: (code, percent off, fixed kuruş off the gross, chance a shopper uses it)
PROMOTIONS = {
    "efsane": ("EFSANE20", 20, 0, 0.5),
    "1111": ("ONBIRONBIR", 11, 0, 0.4),
    "bayram": ("BAYRAM15", 15, 0, 0.25),
    "winter": ("KIS15", 15, 0, 0.05),
    "summer": ("YAZ15", 15, 0, 0.05),
    "": ("INDIRIM10", 10, 0, 0.05),
}
WELCOME = ("HOSGELDIN10", 10, 0)
BASKET = ("SEPET100", 0, 10000)  # ₺100 off a basket of ₺1.000 or more
STORE = ("MAGAZA10", 10, 0)
EXTERNAL_ID = {
    "web": lambda seq: str(5_000_000_000_000 + seq),
    "trendyol": lambda seq: str(3_100_000_000 + seq),
    "hepsiburada": lambda seq: f"HB{400_000_000 + seq}",
    "n11": lambda seq: f"N11-{seq:09d}",
    "amazon": lambda seq: f"407-{seq % 10**7:07d}-{seq * 7919 % 10**7:07d}",
    "pos": lambda seq: f"POS-{seq:08d}",
}


@dataclass
class CustomerTotals:
    """Aggregates over a customer's orders, as CustomerStats defines them."""

    spent: int = 0  # Σ (total − refunded) over orders that are not cancelled
    count: int = 0
    first: int | None = None
    last: int | None = None
    returns: int = 0
    refunded: int = 0  # Σ refunds, cancelled orders included
    last_event: int | None = None
    placed_funnels: list = field(default_factory=list)  # (placed_at, lines) of web/app orders, for the clickstream


class OrderMaker:
    def __init__(self, generator, catalogue):
        self.g = generator
        self.rng = generator.rng
        self.random = generator.rng.random
        self.calendar = generator.calendar
        self.now = generator.calendar.now
        self.categories = Weighted(enumerate(generator.category_weights))
        # Each category's items, most popular first in a seeded order; cheap things sell more often than dear ones.
        self.by_category = []
        for index in range(len(generator.category_weights)):
            items = [item for item in catalogue if item.category == index]
            self.rng.shuffle(items)
            ranks = zipf_weights(len(items), 0.9)
            self.by_category.append(Weighted((item, w * 100000 / item.price) for w, item in zip(ranks, items)))  # noqa: B905
        self.order_seq = 0
        self.order_events = generator.settings.order_events

    def pick_item(self, preferred: int):
        rand = self.random
        category = preferred if rand() < 0.55 else self.categories.pick(rand)
        return self.by_category[category].pick(rand)

    def for_customer(self, state, count: int) -> CustomerTotals:
        rng, cal, rand = self.rng, self.calendar, self.random
        totals = CustomerTotals()
        times = []
        for _ in range(count):
            ts = cal.sample_time(rng, cal.sample_day(rng, state.signup_day))
            if ts <= state.signup:  # the signup day itself: order after signing up
                ts = min(state.signup + 600 + int(rand() * 10000), self.now - MINUTE)
            times.append(ts)
        times.sort()
        for n, placed in enumerate(times):
            self._order(state, placed, n == 0, totals)
        return totals

    def _discount(self, channel: str, day: int, first: bool):
        """(code, percent, fixed kuruş off the gross) or None."""
        rand = self.random
        if channel == "pos":
            return STORE if rand() < 0.05 else None
        if channel not in ("web", "mobile_app"):
            return None
        if first and rand() < 0.35:
            return WELCOME
        code, percent, fixed, chance = PROMOTIONS[self.calendar.promotion[day]]
        if rand() < chance:
            return BASKET if rand() < 0.3 else (code, percent, fixed)
        return None

    def _lines(self, state, discount):
        """[(item, quantity, discount, tax, total)] with the discount spread over the lines before tax."""
        rand = self.random
        quantities: dict = {}
        for _ in range(2 + int(rand() * 5) if state.wholesale else LINE_COUNT.pick(rand)):
            item = self.pick_item(state.category)
            if state.wholesale:  # boxes, up to about ₺20.000 of one item
                quantity = min(3 + int(rand() * 13), max(1, 2_000_000 // item.price))
            else:
                quantity = QUANTITY.pick(rand)
            quantities[item] = quantities.get(item, 0) + quantity
        net = [(item, quantity, quantity * item.net) for item, quantity in quantities.items()]
        subtotal = sum(amount for _, _, amount in net)
        if discount is None:
            off = [0] * len(net)
        elif discount[1]:
            percent = discount[1]
            off = [(amount * percent + 50) // 100 for _, _, amount in net]
        elif subtotal * 12 >= discount[2] * 100:  # a fixed amount needs a basket ten times its size
            fixed_net = (discount[2] * 10 + 6) // 12
            off = [fixed_net * amount // subtotal for _, _, amount in net]
            off[-1] = fixed_net - sum(off[:-1])
        else:
            discount, off = None, [0] * len(net)
        lines = []
        for (item, quantity, amount), d in zip(net, off):  # noqa: B905
            tax = ((amount - d) * 20 + 50) // 100
            lines.append((item, quantity, d, tax, amount - d + tax))
        return lines, subtotal, discount

    def _order(self, state, placed: int, first: bool, totals: CustomerTotals) -> None:  # noqa: C901 - one timeline
        g, rand, rows, now, cal = self.g, self.random, self.g.rows, self.now, self.calendar
        order_id = g.new_id("order")
        seq = self.order_seq
        self.order_seq += 1
        day = cal.day_index(placed)
        channel = state.channels.pick(rand)
        marketplace = state.marketplaces.pick(rand) if channel == "marketplace" else ""
        source_key = marketplace or ("pos" if channel == "pos" else "web")
        lines, subtotal, discount = self._lines(state, self._discount(channel, day, first))
        goods = sum(line[4] for line in lines)
        shipping = 0 if channel == "pos" or goods >= FREE_SHIPPING_FROM else SHIPPING_FEE
        total = goods + shipping
        utm = ("", "", "")
        if channel == "web" and rand() < 0.45:
            utm = UTM.pick(rand)
            if utm[2] is None:
                utm = (utm[0], utm[1], cal.campaign[day])

        if channel == "marketplace":
            method = "marketplace"
        elif channel == "pos":
            method = "card"
        else:
            method = PAYMENT_METHODS[channel].pick(rand)

        # The timeline: each step happens only if its time has come by "now".
        placed_text = fmt_ts(placed)
        steps = [("placed", placed, placed_text, "{}")]
        payment = None  # (status, occurred_at)
        refunds = []  # (amount, reason, note, occurred_at, return id or None)
        shipment = None
        if channel == "pos":
            paid_text = fmt_ts(placed + 30)
            steps += [
                ("paid", placed + 30, paid_text, '{"method": "card"}'),
                ("delivered", placed + 60, fmt_ts(placed + 60), "{}"),
            ]
            payment = ("captured", paid_text)
        else:
            if method == "bank_transfer":
                paid_at = placed + HOUR + int(rand() * 19 * HOUR)
            elif method == "cod":
                paid_at = None
            else:
                paid_at = placed + MINUTE + int(rand() * 9 * MINUTE)
            fulfilled_at = (paid_at or placed) + 2 * HOUR + int(rand() * 28 * HOUR)
            shipped_at = fulfilled_at + HOUR + int(rand() * 7 * HOUR)
            delivered_at = shipped_at + 18 * HOUR + int(rand() * (42 if marketplace == "trendyol" else 78) * HOUR)
            cancelled_at = reason = None
            if rand() < CANCEL_RATE[method]:
                if method == "bank_transfer":
                    cancelled_at, paid_at, reason = placed + 3 * DAY, None, "payment_not_received"
                elif method in ("card", "wallet") and rand() < 0.4:
                    cancelled_at, paid_at, reason = placed + 600 + int(rand() * 3000), None, "payment_failed"
                    payment = ("failed", fmt_ts(placed + 30))
                else:
                    start = paid_at or placed
                    cancelled_at = start + int((0.05 + 0.95 * rand()) * (fulfilled_at - start))
                    reason = "customer_request"
                if cancelled_at >= now:
                    cancelled_at, payment = None, None  # not yet: the order carries on for now
            if paid_at is not None and paid_at < now:
                paid_text = fmt_ts(paid_at)
                steps.append(("paid", paid_at, paid_text, f'{{"method": "{method}"}}'))
                payment = ("captured", paid_text)
            if cancelled_at is not None:
                steps.append(("cancelled", cancelled_at, fmt_ts(cancelled_at), f'{{"reason": "{reason}"}}'))
                if paid_at is not None:
                    refund_at = cancelled_at + HOUR + int(rand() * 47 * HOUR)
                    if refund_at < now:
                        refunds.append((total, "changed_mind", "Sipariş iptali: ücret iadesi", refund_at, None))
            else:
                if fulfilled_at < now:
                    steps.append(("fulfilled", fulfilled_at, fmt_ts(fulfilled_at), "{}"))
                if shipped_at < now:
                    carrier = CARRIERS.get(marketplace, CARRIERS[""]).pick(rand)
                    tracking = str(100_000_000_000 + int(rand() * 899_999_999_999))
                    details = f'{{"carrier": "{carrier}", "tracking_number": "{tracking}"}}'
                    shipped_text = fmt_ts(shipped_at)
                    steps.append(("shipped", shipped_at, shipped_text, details))
                    delivered_text = fmt_ts(delivered_at) if delivered_at < now else None
                    shipment = (carrier, tracking, shipped_text, delivered_text)
                    if delivered_text:
                        steps.append(("delivered", delivered_at, delivered_text, "{}"))
                        if method == "cod":
                            payment = ("captured", delivered_text)

        if shipment is not None:
            rows["shipment"].append((g.new_id("shipment"), order_id, *shipment))
        line_ids = g.new_ids("line", len(lines))
        returned = [0] * len(lines)
        if steps[-1][0] == "delivered" and rand() < RETURN_RATE:
            self._return(state, order_id, steps[-1][1], lines, line_ids, returned, refunds, totals)

        if payment is not None:
            provider, reference, installments = "", "", 1
            if method == "marketplace":
                provider = marketplace
            elif channel == "pos":
                provider = "Mağaza POS"
            elif method != "cod":
                provider = PROVIDERS[method].pick(rand)
            if method == "card" and total >= 100000:
                installments = INSTALLMENTS.pick(rand)
            if method != "cod":
                reference = f"{method[:3].upper()}-{order_id:010d}"
            rows["payment"].append(
                (
                    g.new_id("payment"), order_id, fmt_money(total), method, provider, reference, installments,
                    payment[0], payment[1],
                )
            )  # fmt: skip

        customer_id = state.id
        status_id = g.new_ids("status", len(steps))
        rows["status"] += [
            (status_id[n], order_id, customer_id, status, text, details)
            for n, (status, _ts, text, details) in enumerate(steps)
        ]
        refunded = 0
        for amount, reason, note, ts, return_id in refunds:
            refunded += amount
            text = fmt_money(amount)
            rows["refund"].append(
                (g.new_id("refund"), order_id, customer_id, return_id, text, reason, note, fmt_ts(ts), text)
            )
        rows["line"] += [
            (
                line_id, order_id, item.variant_id, item.sku, item.title, quantity, item.net_text,
                fmt_money(d) if d else "0.00", fmt_money(tax), fmt_money(line_total), back,
            )
            for line_id, (item, quantity, d, tax, line_total), back in zip(line_ids, lines, returned)  # noqa: B905
        ]  # fmt: skip
        final_status = steps[-1][0]
        updated = fmt_ts(max(steps[-1][1], refunds[-1][3])) if refunds else steps[-1][2]
        source_id = g.sources[source_key]
        number = f"#{1001 + seq}"
        total_text, refunded_text = fmt_money(total), fmt_money(refunded) if refunded else "0.00"
        rows["order"].append(
            (
                order_id, placed_text, updated, source_id, EXTERNAL_ID[source_key](seq), number,
                customer_id, final_status, fmt_money(subtotal), fmt_money(sum(line[2] for line in lines)),
                fmt_money(sum(line[3] for line in lines)), fmt_money(shipping), total_text,
                refunded_text, channel, marketplace, *utm, f'["{discount[0]}"]' if discount else "[]", placed_text,
                "1", total_text, refunded_text,
            )
        )  # fmt: skip

        totals.refunded += refunded
        if final_status != "cancelled":
            totals.spent += total - refunded
            totals.count += 1
            if totals.first is None:
                totals.first = placed
            totals.last = placed
        if channel in ("web", "mobile_app"):
            totals.placed_funnels.append((placed, lines))
        if self.order_events != "none":
            per_line = self.order_events == "all"
            g.clicks.order_placed(
                customer_id, order_id, number, total, lines, channel, discount, placed_text, source_id, per_line
            )
            totals.last_event = placed  # orders come in time order

    def _return(self, state, order_id, delivered_at, lines, line_ids, returned, refunds, totals) -> None:
        """A partial return some days after delivery, refunded (without shipping) a few days later."""
        g, rand, now = self.g, self.random, self.now
        created = delivered_at + DAY + int(rand() * 13 * DAY)
        if created >= now:
            return
        picks = [i for i in range(len(lines)) if rand() < 0.6] or [int(rand() * len(lines))]
        table = FIT_REASONS if lines[picks[0]][0].category in (0, 1) else OTHER_REASONS
        reason = table.pick(rand)
        return_id = g.new_id("return")
        g.rows["return"].append((return_id, order_id, state.id, reason, RETURN_NOTES[reason], fmt_ts(created)))
        amount = 0
        for i in picks:
            quantity, line_total = lines[i][1], lines[i][4]
            back = 1 + int(rand() * quantity) if quantity > 1 and rand() < 0.3 else 1
            returned[i] = back
            amount += line_total * back // quantity
            g.rows["return_line"].append((g.new_id("return_line"), return_id, line_ids[i], back))
        totals.returns += 1
        refund_at = created + DAY + int(rand() * 5 * DAY)
        if refund_at < now:
            refunds.append((amount, reason, RETURN_NOTES[reason], refund_at, return_id))
