"""Loading the demo shop: staff logins, sources, catalogue, and the generated customers, orders and events."""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.accounts.models import User
from kervan.accounts.permissions import Role
from kervan.catalog.models import Category, Product, StockLevel, StockMovement, Variant
from kervan.core.audit import audit
from kervan.core.errors import Conflict, KervanError
from kervan.core.models import Source
from kervan.customers.cache import everything_changed
from kervan.customers.models import ConsentRecord, Customer, CustomerStats, Identity, Tag
from kervan.customers.stats import stats_load
from kervan.demo.bulk import TableWriter, deferred_indexes, prepare_session, write_batches
from kervan.demo.catalog import CATEGORIES, build_catalog, ean13
from kervan.demo.generator import SOURCES, TAGS, CatalogueItem, DemoSettings, ShopGenerator
from kervan.demo.rows import COLUMNS, ID_TABLES, TABLE_ORDER
from kervan.events.models import Event
from kervan.orders.actions import returns_settle
from kervan.orders.models import Order, OrderLine, OrderStatusChange, Payment, Refund, Return, ReturnLine, Shipment

logger = logging.getLogger(__name__)

DEMO_PASSWORD = "kervan-demo"
DEMO_USERS = (
    ("demo", Role.ADMIN, "Demo", "Yönetici"),
    ("pazarlama", Role.MARKETING, "Pınar", "Pazarlama"),
    ("satis", Role.SALES, "Serkan", "Satış"),
    ("destek", Role.SUPPORT, "Deniz", "Destek"),
    ("analist", Role.ANALYST, "Aslı", "Analist"),
    ("izleyici", Role.READ_ONLY, "İlker", "İzleyici"),
)
SOURCE_ROWS = {
    "web": ("Kervan Mağaza (Shopify)", Source.Kind.SHOPIFY),
    "trendyol": ("Trendyol Mağazası", Source.Kind.MARKETPLACE),
    "hepsiburada": ("Hepsiburada Mağazası", Source.Kind.MARKETPLACE),
    "n11": ("n11 Mağazası", Source.Kind.MARKETPLACE),
    "amazon": ("Amazon.com.tr Mağazası", Source.Kind.MARKETPLACE),
    "pos": ("Kadıköy Mağaza POS", Source.Kind.POS),
}
MODELS = {
    "customer": Customer,
    "customer_tag": Customer.tags.through,
    "identity": Identity,
    "consent": ConsentRecord,
    "order": Order,
    "line": OrderLine,
    "payment": Payment,
    "shipment": Shipment,
    "status": OrderStatusChange,
    "return": Return,
    "return_line": ReturnLine,
    "refund": Refund,
    "stats": CustomerStats,
    "event": Event,
}
# From this many customers on, indexes are rebuilt after the load and every batch commits on its own.
BULK_FROM = 50_000


class _StatsWriter:
    """The stats rows go through their owner (customers.stats); every other table through a TableWriter."""

    def write(self, rows: list[tuple]) -> None:
        stats_load(rows)


@dataclass
class DemoLoadResult:
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    users_created: list[str] = field(default_factory=list)
    seconds: float = 0.0


def demo_users_ensure(*, actor: Actor) -> list[str]:
    """Create the demo staff logins (one per role, password "kervan-demo") that do not exist yet."""
    created = []
    password_hash = None  # hashed once: the hasher is deliberately slow and every demo login shares the password
    for username, role, first_name, last_name in DEMO_USERS:
        if User.objects.filter(username=username).exists():
            continue
        password_hash = password_hash or make_password(DEMO_PASSWORD)
        user = User(username=username, password=password_hash, role=role, first_name=first_name, last_name=last_name)
        user.save()
        audit(actor=actor, action="create", obj=user, changes={"username": username, "role": role})
        created.append(username)
    return created


def demo_load(
    *,
    actor: Actor,
    settings: DemoSettings,
    if_empty: bool = False,
    bulk: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoLoadResult:
    """Fill an empty database with the demo shop described by `settings` (same settings, same data).

    With `if_empty`, does nothing when customers already exist; without it, refuses to add to them.
    Small loads run in one transaction. Large ones (`bulk`, default from 50 000 customers) commit each batch
    and rebuild indexes at the end, so they are not all-or-nothing: load those into a fresh database.
    """
    if settings.customers < 1:
        raise KervanError(_("customers must be at least 1."), "invalid_customers")
    started = time.monotonic()

    def say(message: str) -> None:
        if progress is not None:
            progress(f"[{time.monotonic() - started:7.1f}s] {message}")

    if Customer.objects.exists():
        if if_empty:
            return DemoLoadResult(skipped=True)
        raise Conflict(_("The database already has customers; the demo shop loads into an empty one."), "not_empty")
    if Event.objects.filter(dedupe_key__startswith=f"demo:{settings.seed}:").exists():
        raise Conflict(
            _("Events of an earlier demo load with seed %(seed)s remain; use another seed.") % {"seed": settings.seed},
            "not_empty",
        )
    bulk = settings.customers >= BULK_FROM if bulk is None else bulk

    if not bulk:
        with transaction.atomic():
            result = _load(actor, settings, bulk=False, say=say)
    else:
        result = _load(actor, settings, bulk=True, say=say)
    everything_changed()  # ids may repeat those of a database emptied while the server ran
    result.seconds = time.monotonic() - started
    return result


def _load(actor: Actor, settings: DemoSettings, *, bulk: bool, say) -> DemoLoadResult:
    with transaction.atomic():
        users = demo_users_ensure(actor=actor)
        sources = _sources()
        tags = {name: Tag.objects.get_or_create(name=name)[0].pk for name in TAGS}
        catalogue, catalogue_counts = _catalogue(settings.seed, sources["web"])
    first_ids = {table: (MODELS[table].objects.aggregate(m=Max("pk"))["m"] or 0) + 1 for table in ID_TABLES}
    generator = ShopGenerator(settings, catalogue=catalogue, sources=sources, tags=tags, first_ids=first_ids)
    writers = {table: TableWriter(MODELS[table], COLUMNS[table]) for table in TABLE_ORDER if table != "stats"}
    writers["stats"] = _StatsWriter()
    written = {"customer": 0, "order": 0, "event": 0}

    def after_batch(batch) -> None:
        for table in written:
            written[table] += len(batch[table])
        if bulk or written["customer"] == settings.customers:
            say(f"{written['customer']:,} customers, {written['order']:,} orders, {written['event']:,} events")

    prepare_session()
    if bulk:
        with deferred_indexes([MODELS[t]._meta.db_table for t in TABLE_ORDER], log=say):
            write_batches(generator.batches(), writers, groups=_writer_groups(), after_batch=after_batch)
            say("Rebuilding indexes and constraints…")
    else:
        write_batches(generator.batches(), writers, after_batch=after_batch)

    with transaction.atomic():
        _reset_sequences()
        _messaging_examples(actor)
        _flow_examples(actor)
        returns_settle()  # the generated refunds settle the returns they name, and fully refunded orders' returns
        counts = {table: generator.counts[table] for table in TABLE_ORDER} | catalogue_counts
        audit(
            actor=actor,
            action="import",
            object_type="demo.load",
            changes={"seed": settings.seed, "until": settings.until.isoformat(), "rows": counts},
        )
    if bulk and connection.vendor == "postgresql":
        say("Analysing tables…")
        with connection.cursor() as cursor:
            for table in TABLE_ORDER:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(MODELS[table]._meta.db_table)}")
    return DemoLoadResult(counts=counts, users_created=users)


def _messaging_examples(actor: Actor) -> None:
    """A sender and two ready templates, so the demo's campaigns page has something to send (to var/sent-mail/)."""
    from kervan.messaging.actions import sender_save, template_save
    from kervan.messaging.blocks import blocks_to_html

    sender_save(actor=actor, channel="email", address="merhaba@demo-dukkan.com.tr", name="Demo Dükkan")
    sender_save(actor=actor, channel="sms", address="DEMODUKKAN")
    blocks = {
        "tr": [
            {"type": "header", "text": "Demo Dükkan"},
            {"type": "text", "text": "Merhaba {{ customer.first_name | default('dostum', true) }},\n\nsizi özledik."},
            {"type": "coupon", "prefix": "GERIDON", "text": "Size özel %15 indirim kodu"},
            {"type": "products", "count": 3},
            {"type": "button", "label": "Alışverişe dön", "href": "https://demo-dukkan.com.tr/"},
            {"type": "footer", "text": "Demo Dükkan", "unsubscribe": "Abonelikten çık", "preferences": "Tercihler"},
        ]
    }
    template_save(
        actor=actor,
        name="Sizi özledik",
        channel="email",
        purpose="marketing",
        editor="blocks",
        blocks=blocks,
        content={"tr": {"subject": "{{ customer.first_name }}, sizi özledik", "html": blocks_to_html(blocks["tr"])}},
    )
    template_save(
        actor=actor,
        name="Kargo yolda (SMS)",
        channel="sms",
        purpose="transactional",
        editor="text",
        content={"tr": {"text": "{{ customer.first_name }}, {{ last_order.number }} numaralı siparişiniz yolda."}},
    )


def _flow_examples(actor: Actor) -> None:
    """Ready-made flows as a shop would start them: the abandoned cart and the birthday live (from now on: the
    demo's history does not replay into them), the welcome series as a draft (live, it would greet every demo
    customer at once as new)."""
    from kervan.flows.library import library_start

    library_start(actor=actor, key="abandoned_cart")
    library_start(actor=actor, key="birthday")
    library_start(actor=actor, key="welcome", publish=False)


def _writer_groups() -> list[list[str]] | None:
    """Tables per writer thread for a bulk load (None: write from this thread, inside its transaction).

    PostgreSQL takes the two biggest tables on a second connection; SQLite has one writer at a time anyway.
    """
    if connection.in_atomic_block:
        return None
    if connection.vendor != "postgresql":
        return [list(TABLE_ORDER)]
    heavy = ["status", "event"]
    return [[t for t in TABLE_ORDER if t not in heavy], heavy]


def _reset_sequences() -> None:
    """After rows with explicit ids, point PostgreSQL's sequences past them (SQLite does this by itself)."""
    statements = connection.ops.sequence_reset_sql(no_style(), [MODELS[t] for t in ID_TABLES])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _sources() -> dict[str, int]:
    ids = {}
    for key in SOURCES:
        name, kind = SOURCE_ROWS[key]
        source, _ = Source.objects.get_or_create(key=key, defaults={"name": name, "kind": kind})
        ids[key] = source.pk
    return ids


def _catalogue(seed: int, web_source_id: int) -> tuple[list[CatalogueItem], dict[str, int]]:
    """The demo catalogue (created on first use, reused after): categories, products, variants, stock."""
    categories = []
    for slug, name, *_rest in CATEGORIES:
        categories.append(Category.objects.get_or_create(slug=slug, defaults={"name": name})[0])
    specs = build_catalog(random.Random(f"kervan-demo-catalogue:{seed}"))
    if not Product.objects.filter(source_id=web_source_id, external_id__startswith="demo-").exists():
        _catalogue_create(specs, categories, web_source_id)
    category_index = {category.pk: i for i, category in enumerate(categories)}
    items = []
    variants = Variant.objects.filter(product__source_id=web_source_id, product__external_id__startswith="demo-")
    for variant in variants.select_related("product").order_by("pk"):
        items.append(
            CatalogueItem(
                variant_id=variant.pk,
                product_id=variant.product_id,
                sku=variant.sku,
                title=f"{variant.product.title} {variant.title}".strip(),
                price=int(variant.price * 100),
                category=category_index[variant.product.category_id],
            )
        )
    return items, {"product": len({item.product_id for item in items}), "variant": len(items)}


def _catalogue_create(specs, categories, web_source_id: int) -> None:
    rng = random.Random("kervan-demo-stock")
    for n, spec in enumerate(specs):
        code = CATEGORIES[spec.category][2]
        product = Product.objects.create(
            source_id=web_source_id,
            external_id=f"demo-{n + 1:04d}",
            title=spec.title,
            description=spec.description,
            brand=spec.brand,
            category=categories[spec.category],
        )
        variants = Variant.objects.bulk_create(
            Variant(
                product=product,
                sku=f"KRV-{code}-{n + 1:04d}-{v + 1}",
                title="" if variant.title == "Standart" else variant.title,
                price=Decimal(variant.price).scaleb(-2),
                compare_at_price=Decimal(variant.compare_at).scaleb(-2) if variant.compare_at else None,
                barcode=ean13(f"869{(n + 1) * 10 + v + 1:09d}"),
                external_id=f"demo-{n + 1:04d}-{v + 1}",
            )
            for v, variant in enumerate(spec.variants)
        )
        for variant in variants:
            quantity = rng.randint(0, 400) if rng.random() > 0.05 else 0
            StockLevel.objects.create(variant=variant, quantity=quantity)
            StockMovement.objects.create(
                variant=variant, delta=quantity, quantity_after=quantity, reason="import", reference="demo catalogue"
            )
