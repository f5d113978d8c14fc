"""Ready-made flows, in Turkish and English: each starts with one click (its templates are written, it is published)
and is then an ordinary flow to edit. A library flow is data: a trigger, steps that name templates by key, settings,
and the templates' content; adding one is adding an entry here."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from kervan.accounts.actors import Actor
from kervan.flows.actions import flow_create, flow_publish
from kervan.flows.models import Flow
from kervan.messaging.actions import template_save
from kervan.segments.models import Segment


def _mail(subject_tr: str, body_tr: str, subject_en: str, body_en: str) -> dict:
    def html(body: str) -> str:
        return (
            '<html><body style="font-family:Arial,sans-serif">'
            f"<p>{body}</p>"
            '<p style="font-size:12px;color:#666"><a href="{{ preferences_url }}">Tercihler / Preferences</a> · '
            '<a href="{{ unsubscribe_url }}">Abonelikten çık / Unsubscribe</a></p></body></html>'
        )

    return {"tr": {"subject": subject_tr, "html": html(body_tr)}, "en": {"subject": subject_en, "html": html(body_en)}}


CART = (
    "{% set items = flow.properties.get('items') or cart %}"
    "{% for item in items %}<br>· {{ item.title or item.name }} {{ item.price }}{% endfor %}"
)
PRODUCT = "{{ flow.product.title if flow.product else '' }}"
FIRST = "{{ customer.first_name | default('') }}"
VIEWED = "{{ flow.properties.get('name') or flow.properties.get('title') or '%s' }}"


@dataclass(frozen=True)
class LibraryFlow:
    key: str
    name: str  # lazily translated: the flow is named in the language of whoever starts it
    description: str
    trigger: dict
    steps: dict
    settings: dict
    templates: dict  # key → (purpose, content)
    start: str = "s1"
    needs: tuple = field(default_factory=tuple)  # what must exist first ("champions": the RFM segment)


LIBRARY = [
    LibraryFlow(
        key="welcome",
        name=_("Welcome series"),
        description=_("A welcome on sign-up, a coupon three days later for those who have not ordered yet."),
        trigger={"type": "signup"},
        steps={
            "s1": {"type": "send", "template": "welcome_1", "next": "s2"},
            "s2": {"type": "wait", "hours": 72, "next": "s3"},
            "s3": {"type": "split", "kind": "did", "event": "Placed Order", "yes": "s6", "no": "s4"},
            "s4": {"type": "coupon", "prefix": "HOSGELDIN", "next": "s5"},
            "s5": {"type": "send", "template": "welcome_2", "next": None},
            "s6": {"type": "exit"},
        },
        settings={"goal": "Placed Order", "goal_days": 14, "holdout_percent": 10, "reentry_days": None},
        templates={
            "welcome_1": (
                "marketing",
                _mail(
                    "Hoş geldin {{ customer.first_name | default('') }}!",
                    "Aramıza hoş geldin " + FIRST + ". Yeni ürünler ve fırsatlar seni bekliyor.",
                    "Welcome {{ customer.first_name | default('') }}!",
                    "Welcome aboard " + FIRST + ". New arrivals and offers are waiting for you.",
                ),
            ),
            "welcome_2": (
                "marketing",
                _mail(
                    "İlk siparişine özel indirim",
                    "İlk siparişinde geçerli kodun: <b>{{ flow.coupon }}</b>",
                    "A discount on your first order",
                    "Your code for your first order: <b>{{ flow.coupon }}</b>",
                ),
            ),
        },
    ),
    LibraryFlow(
        key="abandoned_cart",
        name=_("Abandoned cart"),
        description=_(
            "Three reminders after a checkout without an order: after 1 hour, 1 day, and 3 days with a coupon."
        ),
        trigger={"type": "event", "event": "Started Checkout", "unless": {"event": "Placed Order", "hours": 1}},
        steps={
            "s1": {"type": "send", "template": "cart_1", "next": "s2"},
            "s2": {"type": "wait", "hours": 23, "next": "s3"},
            "s3": {"type": "send", "template": "cart_2", "next": "s4"},
            "s4": {"type": "wait", "hours": 48, "next": "s5"},
            "s5": {"type": "coupon", "prefix": "SEPET", "next": "s6"},
            "s6": {"type": "send", "template": "cart_3", "next": None},
        },
        settings={
            "exit_on": ["Placed Order"],
            "goal": "Placed Order",
            "goal_days": 7,
            "holdout_percent": 10,
            "reentry_days": 7,
        },
        templates={
            "cart_1": (
                "marketing",
                _mail(
                    "Sepetinde ürünler kaldı",
                    "Sepetindekiler seni bekliyor:" + CART,
                    "You left something in your cart",
                    "Your cart is waiting:" + CART,
                ),
            ),
            "cart_2": (
                "marketing",
                _mail(
                    "Sepetindeki ürünler tükenmeden",
                    "Hâlâ düşünüyor musun? Sepetin:" + CART,
                    "Before your items sell out",
                    "Still thinking it over? Your cart:" + CART,
                ),
            ),
            "cart_3": (
                "marketing",
                _mail(
                    "Sepetine özel indirim kodu",
                    "Siparişini bu kodla tamamla: <b>{{ flow.coupon }}</b>" + CART,
                    "A discount code for your cart",
                    "Complete your order with this code: <b>{{ flow.coupon }}</b>" + CART,
                ),
            ),
        },
    ),
    LibraryFlow(
        key="browse_abandonment",
        name=_("Browse abandonment"),
        description=_("A product was viewed and nothing added to the cart within 2 hours: show it again."),
        trigger={"type": "event", "event": "Viewed Product", "unless": {"event": "Added to Cart", "hours": 2}},
        steps={"s1": {"type": "send", "template": "browse_1", "next": None}},
        settings={
            "exit_on": ["Placed Order"],
            "goal": "Placed Order",
            "goal_days": 5,
            "holdout_percent": 10,
            "reentry_days": 7,
        },
        templates={
            "browse_1": (
                "marketing",
                _mail(
                    "Göz attığın ürün hâlâ burada",
                    VIEWED % "Beğendiğin ürün" + " seni bekliyor.",
                    "The product you looked at is still here",
                    VIEWED % "Your pick" + " is waiting for you.",
                ),
            ),
        },
    ),
    LibraryFlow(
        key="post_purchase",
        name=_("Post-purchase thank-you and review request"),
        description=_(
            "A thank-you when an order is placed; a review request 3 days after delivery (or 10 days after "
            "the order if no delivery is recorded)."
        ),
        trigger={"type": "order", "status": "placed"},
        steps={
            "s1": {"type": "send", "template": "thanks", "next": "s2"},
            "s2": {"type": "wait_event", "event": "Delivered Order", "hours": 240, "yes": "s3", "no": "s4"},
            "s3": {"type": "wait", "hours": 72, "next": "s4"},
            "s4": {"type": "send", "template": "review", "next": None},
        },
        settings={"goal": "Submitted Review", "goal_days": 21, "holdout_percent": 0, "reentry_days": 0},
        templates={
            "thanks": (
                "transactional",
                _mail(
                    "Siparişin için teşekkürler",
                    "Teşekkürler {{ customer.first_name | default('') }}! Siparişin hazırlanıyor.",
                    "Thank you for your order",
                    "Thank you {{ customer.first_name | default('') }}! Your order is being prepared.",
                ),
            ),
            "review": (
                "marketing",
                _mail(
                    "Ürünlerini nasıl buldun?",
                    "Deneyimini paylaşır mısın? Yorumun diğer müşterilere yol gösterir.",
                    "How do you like your order?",
                    "Would you share your experience? Your review helps other customers.",
                ),
            ),
        },
    ),
    LibraryFlow(
        key="birthday",
        name=_("Birthday with a coupon"),
        description=_("On the customer's birthday at 10:00 their time: greetings and a personal coupon."),
        trigger={"type": "date", "field": "birthday", "days_before": 0, "at": "10:00"},
        steps={
            "s1": {"type": "coupon", "prefix": "DOGUMGUNU", "next": "s2"},
            "s2": {"type": "send", "template": "birthday", "next": None},
        },
        settings={"goal": "Placed Order", "goal_days": 14, "holdout_percent": 10, "reentry_days": 300},
        templates={
            # İYS: a birthday greeting is a commercial message (marketing), so it needs consent.
            "birthday": (
                "marketing",
                _mail(
                    "İyi ki doğdun {{ customer.first_name | default('') }}!",
                    "Doğum günün kutlu olsun! Sana özel kodun: <b>{{ flow.coupon }}</b>",
                    "Happy birthday {{ customer.first_name | default('') }}!",
                    "Happy birthday! Your personal code: <b>{{ flow.coupon }}</b>",
                ),
            ),
        },
    ),
    LibraryFlow(
        key="back_in_stock",
        name=_("Back in stock"),
        description=_("Tells those who asked as soon as a product is in stock again."),
        trigger={"type": "back_in_stock"},
        steps={"s1": {"type": "send", "template": "back_in_stock", "next": None}},
        settings={"goal": "Placed Order", "goal_days": 3, "holdout_percent": 0, "reentry_days": 0},
        templates={
            "back_in_stock": (
                "marketing",
                _mail(
                    "{{ flow.product.title }} yeniden stokta",
                    "Beklediğin ürün geri geldi: <b>" + PRODUCT + "</b>. Tükenmeden al!",
                    "{{ flow.product.title }} is back in stock",
                    "The product you wanted is back: <b>" + PRODUCT + "</b>. Get it before it is gone!",
                ),
            ),
        },
    ),
    LibraryFlow(
        key="price_drop",
        name=_("Price drop"),
        description=_("A product viewed or carted in the last 14 days is now at least 10 percent cheaper."),
        trigger={"type": "price_drop", "percent": 10, "days": 14},
        steps={"s1": {"type": "send", "template": "price_drop", "next": None}},
        settings={"exit_on": [], "goal": "Placed Order", "goal_days": 5, "holdout_percent": 10, "reentry_days": 3},
        templates={
            "price_drop": (
                "marketing",
                _mail(
                    "{{ flow.product.title }} için fiyat düştü",
                    PRODUCT + ": {{ flow.old_price }} → <b>{{ flow.price }}</b>",
                    "Price drop on {{ flow.product.title }}",
                    PRODUCT + ": {{ flow.old_price }} → <b>{{ flow.price }}</b>",
                ),
            ),
        },
    ),
    LibraryFlow(
        key="win_back",
        name=_("Win-back"),
        description=_("No order for 90 days: a reminder, then a coupon a week later if they still have not ordered."),
        trigger={"type": "no_order", "days": 90},
        steps={
            "s1": {"type": "send", "template": "winback_1", "next": "s2"},
            "s2": {"type": "wait", "hours": 168, "next": "s3"},
            "s3": {"type": "coupon", "prefix": "OZLEDIK", "next": "s4"},
            "s4": {"type": "send", "template": "winback_2", "next": None},
        },
        settings={
            "exit_on": ["Placed Order"],
            "goal": "Placed Order",
            "goal_days": 14,
            "holdout_percent": 10,
            "reentry_days": 180,
        },
        templates={
            "winback_1": (
                "marketing",
                _mail(
                    "Seni özledik {{ customer.first_name | default('') }}",
                    "Bir süredir görüşemedik. Yeni gelenlere göz atmak ister misin?",
                    "We miss you {{ customer.first_name | default('') }}",
                    "It has been a while. Would you like to see what is new?",
                ),
            ),
            "winback_2": (
                "marketing",
                _mail(
                    "Geri dönüşüne özel indirim",
                    "Sana özel kodun: <b>{{ flow.coupon }}</b>",
                    "A discount to welcome you back",
                    "Your personal code: <b>{{ flow.coupon }}</b>",
                ),
            ),
        },
    ),
    LibraryFlow(
        key="vip",
        name=_("VIP: entered Champions"),
        description=_("A thank-you and a VIP tag when a customer enters the Champions RFM segment."),
        trigger={"type": "segment", "segment": "champions", "on": "entered"},
        steps={
            "s1": {"type": "tag", "add": ["VIP"], "next": "s2"},
            "s2": {"type": "send", "template": "vip", "next": None},
        },
        settings={"goal": "Placed Order", "goal_days": 30, "holdout_percent": 10, "reentry_days": 90},
        templates={
            "vip": (
                "marketing",
                _mail(
                    "Artık VIP'sin",
                    "En değerli müşterilerimizden birisin. Teşekkürler {{ customer.first_name | default('') }}!",
                    "You are a VIP now",
                    "You are one of our most valued customers. Thank you {{ customer.first_name | default('') }}!",
                ),
            ),
        },
        needs=("champions",),
    ),
]

BY_KEY = {entry.key: entry for entry in LIBRARY}


def _champions(actor: Actor) -> int:
    from kervan.segments.actions import segment_create

    segment = Segment.objects.filter(definition__conditions=[CHAMPIONS]).first()
    if segment is None:
        segment = segment_create(
            actor=actor, name=str(_("Champions (RFM)")), definition={"match": "all", "conditions": [CHAMPIONS]}
        )
    return segment.pk


CHAMPIONS = {"field": "rfm_segment", "op": "eq", "value": "champions"}


@transaction.atomic
def library_start(*, actor: Actor, key: str, publish: bool = True) -> Flow:
    """Start a ready-made flow: write its templates, create the flow from them and (by default) publish it."""
    from kervan.core.errors import KervanError

    entry = BY_KEY.get(key)
    if entry is None:
        raise KervanError(_("There is no such ready-made flow."), "unknown_library_flow", field="key")
    name = str(entry.name)
    templates = {
        tkey: template_save(actor=actor, name=f"{name}: {tkey}", channel="email", purpose=purpose, content=content)
        for tkey, (purpose, content) in entry.templates.items()
    }
    steps = {}
    for sid, step in entry.steps.items():
        step = dict(step)
        if step.get("type") == "send":
            step["template"] = templates[step["template"]].pk
            step["channel"] = "email"
        steps[sid] = step
    trigger = dict(entry.trigger)
    if "champions" in entry.needs:
        trigger["segment"] = _champions(actor)
    flow = flow_create(
        actor=actor,
        name=name,
        trigger=trigger,
        graph={"start": entry.start, "steps": steps},
        settings=dict(entry.settings),
        library_key=key,
    )
    if publish:
        flow_publish(actor=actor, flow=flow)
        flow.refresh_from_db()
    return flow
