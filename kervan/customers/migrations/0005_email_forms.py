"""Emails in one form (issue 19, rule 5).

Every email Identity comes to hold the mailbox key (kervan.core.emails.email_match_key) and Customer.email the
normalised address (normalize_email: NFC, Turkish-aware lower case, ASCII domain). Profiles whose addresses turn out
to reach one mailbox ("Ayşe.Kaya@gmail.com" and "aysekaya+shop@googlemail.com"; "ALİ@…" typed with Turkish Caps
Lock, stored as "ali̇@…", and "ali@…"; one letter in NFC and in NFD) are merged the way
kervan.customers.actions.customer_merge merges, into the oldest profile (lowest id): identities, tags, notes,
consents, orders (their status changes, returns, refunds), events and CustomerStats move to the survivor, its empty
profile fields are filled, the merged profile keeps a snapshot (merged_into set), and both get a merge record
(CustomerMerge on the survivor's timeline, an audit row each). It uses the historical models only: app code that
writes could change after this migration was written.

Built for a million customers: email identities are read in id order, BATCH at a time, and only those whose value
changes take work (a plain lower-case ASCII address outside Gmail, most of them, does not); collisions are found per
batch with one query on the indexed value. Each batch commits on its own (atomic = False), so a long run holds few
locks and an interrupted one simply runs again: a rewritten identity does not change twice and a merged profile has
no identities left. A stored address that today's rules refuse (e.g. a domain label of 64 characters) is left as it
is. Measured on PostgreSQL 15 (this machine, tables analysed): 200,000 customers, 60,000 identities rewritten and 580
merges in about 20 seconds, the process's memory flat.
"""

import contextlib
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import migrations, transaction
from django.utils import timezone

from kervan.core.emails import email_match_key, normalize_email
from kervan.core.errors import KervanError
from kervan.customers.search import customer_name_key, customer_search_key

BATCH = 2000
# customers.profile.PROFILE_FIELDS and ConsentRecord.Channel when this was written.
PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "city",
    "country",
    "language",
    "time_zone",
)
CHANNELS = ("email", "sms", "call", "push", "whatsapp")
# (app, model) of every row that names its customer and moves to the survivor of a merge.
MOVED = (
    ("customers", "Identity"),
    ("customers", "CustomerNote"),
    ("customers", "ConsentRecord"),
    ("orders", "Order"),
    ("orders", "OrderStatusChange"),
    ("orders", "Return"),
    ("orders", "Refund"),
    ("events", "Event"),
)


def _new_forms(value: str) -> tuple[str, str] | None:
    """(normalised address, mailbox key) of a stored email, or None for one today's rules refuse."""
    try:
        return normalize_email(value), email_match_key(value)
    except KervanError:
        return None


def _jsonable(value):
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


class EmailForms:
    def __init__(self, apps, connection):
        self.connection = connection
        self.db = connection.alias
        self.Customer = apps.get_model("customers", "Customer")
        self.Identity = apps.get_model("customers", "Identity")
        self.CustomerStats = apps.get_model("customers", "CustomerStats")
        self.CustomerMerge = apps.get_model("customers", "CustomerMerge")
        self.ConsentRecord = apps.get_model("customers", "ConsentRecord")
        self.AuditLog = apps.get_model("core", "AuditLog")
        self.moved_models = [apps.get_model(app, name) for app, name in MOVED]
        self.merged_into: dict[int, int | None] = {}  # customer id → the profile it was merged into (None: active)
        self.merges = 0

    def objects(self, model):
        return model.objects.using(self.db)

    def run(self) -> None:
        emails = self.objects(self.Identity).filter(kind="email", source__isnull=True).order_by("id")
        last = 0
        while True:
            rows = list(emails.filter(id__gt=last).values_list("id", "value", "customer_id")[:BATCH])
            if not rows:
                return
            last = rows[-1][0]
            changed = []
            for pk, value, customer_id in rows:
                forms = _new_forms(value)
                if forms is not None and forms[1] != value:
                    changed.append((pk, customer_id, forms[1], forms[0] != value))
            if changed:
                with transaction.atomic(using=self.db):
                    self.rewrite(changed)

    def rewrite(self, changed: list[tuple[int, int, str, bool]]) -> None:
        """Give each changed identity (id, customer id, mailbox key, whether the address itself changed) its key;
        where another identity already holds the key, the two profiles are one person: merge them, keep one row."""
        holders = dict(
            self.objects(self.Identity)
            .filter(kind="email", source__isnull=True, value__in={key for _pk, _c, key, _a in changed})
            .values_list("value", "id")
        )
        owner_of = dict(self.objects(self.Identity).filter(pk__in=holders.values()).values_list("id", "customer_id"))
        self.merged_into = {}  # read again for each batch: memory stays the size of a batch
        self.remember({customer_id for _pk, customer_id, _k, _a in changed} | set(owner_of.values()))
        pending: dict[int, tuple[str, int]] = {}  # identity id → (new value, customer id), written in bulk below
        shown_anew = set()  # customers whose Customer.email may need its new form
        for pk, customer_id, key, address_changed in changed:
            owner = self.survivor_of(customer_id)
            if address_changed:
                shown_anew.add(customer_id)
            holder = holders.get(key)
            if holder is None:
                pending[pk] = (key, owner)
                holders[key], owner_of[pk] = pk, owner
                continue
            other = self.survivor_of(owner_of[holder])
            survivor = min(owner, other)
            if owner != other:
                self.merge(survivor_id=survivor, merged_id=max(owner, other))
                shown_anew.add(survivor)
            # One row per mailbox stays, the survivor's own (the one already holding the key when both were).
            keep, drop = (pk, holder) if owner == survivor and other != survivor else (holder, pk)
            pending.pop(drop, None)
            self.objects(self.Identity).filter(pk=drop).delete()
            pending[keep] = (key, survivor)
            holders[key], owner_of[keep] = keep, survivor
        if pending:
            # One statement sent many times (pipelined by psycopg): Django's bulk_update (one CASE per column) took
            # 40 of 70 seconds for 60,000 rows here.
            table = self.connection.ops.quote_name(self.Identity._meta.db_table)
            with self.connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {table} SET value = %s, customer_id = %s WHERE id = %s",
                    [(value, cid, pk) for pk, (value, cid) in pending.items()],
                )
        self.show_anew(shown_anew)

    def remember(self, customer_ids: set[int]) -> None:
        """Read merged_into for the customers not seen yet (and the profiles they point at), for survivor_of."""
        missing = customer_ids - self.merged_into.keys()
        while missing:
            found = dict(self.objects(self.Customer).filter(pk__in=missing).values_list("pk", "merged_into_id"))
            self.merged_into.update(found)
            missing = {target for target in found.values() if target} - self.merged_into.keys()

    def survivor_of(self, customer_id: int) -> int:
        seen = set()
        while self.merged_into.get(customer_id) and customer_id not in seen:
            seen.add(customer_id)
            customer_id = self.merged_into[customer_id]
        return customer_id

    def merge(self, *, survivor_id: int, merged_id: int) -> None:
        """customers.actions.customer_merge with the historical models, by the system."""
        customers = self.objects(self.Customer)
        locked = {c.pk: c for c in customers.select_for_update().filter(pk__in=(survivor_id, merged_id)).order_by("pk")}
        survivor, merged = locked[survivor_id], locked[merged_id]
        tags = list(merged.tags.all())
        snapshot = {f: str(getattr(merged, f) or "") for f in PROFILE_FIELDS}
        snapshot.update(id=merged.pk, custom_fields=merged.custom_fields, tags=[t.name for t in tags])
        filled = {}
        for name in PROFILE_FIELDS:
            if not getattr(survivor, name) and getattr(merged, name):
                filled[name] = [_jsonable(getattr(survivor, name)), _jsonable(getattr(merged, name))]
                setattr(survivor, name, getattr(merged, name))
        survivor.custom_fields = {**(merged.custom_fields or {}), **(survivor.custom_fields or {})}
        for model in self.moved_models:
            self.objects(model).filter(customer_id=merged_id).update(customer_id=survivor_id)
        survivor.tags.add(*tags)
        self.fold_stats(survivor_id=survivor_id, merged_id=merged_id)
        for channel in CHANNELS:
            latest = (
                self.objects(self.ConsentRecord)
                .filter(customer_id=survivor_id, channel=channel, purpose="marketing")
                .order_by("-occurred_at", "-id")
                .values_list("status", flat=True)
                .first()
            )
            setattr(survivor, f"consent_{channel}", latest or "")
        self.refresh_keys(survivor)
        survivor.save(using=self.db)
        merged.merged_into_id = survivor_id
        merged.save(using=self.db, update_fields=["merged_into", "updated_at"])
        # merged_into always names a survivor: profiles merged into this one before now point at the survivor.
        customers.filter(merged_into_id=merged_id).update(merged_into_id=survivor_id)
        for pk, target in self.merged_into.items():
            if target == merged_id:
                self.merged_into[pk] = survivor_id
        self.merged_into[merged_id] = survivor_id
        self.objects(self.CustomerMerge).create(
            survivor_id=survivor_id, merged_id=merged_id, actor=None, snapshot=snapshot
        )
        self.audit(survivor_id, {"merged_customer": [merged_id, survivor_id], **filled})
        self.audit(merged_id, {"merged_into": [None, survivor_id]})
        self.merges += 1

    def fold_stats(self, *, survivor_id: int, merged_id: int) -> None:
        """customers.stats.stats_merge: counts and amounts add up, the earliest first and the latest last dates win,
        the average is recomputed (half-even to the cent); the merged profile's order aggregates become zero."""
        stats = self.objects(self.CustomerStats)
        merged = stats.filter(customer_id=merged_id).first()
        if merged is None:
            return
        survivor = stats.filter(customer_id=survivor_id).first() or self.CustomerStats(
            customer_id=survivor_id, currency=merged.currency
        )
        survivor.order_count = (survivor.order_count or 0) + merged.order_count
        survivor.total_spent = (survivor.total_spent or Decimal("0")) + merged.total_spent
        survivor.refunded_total = (survivor.refunded_total or Decimal("0")) + merged.refunded_total
        survivor.returns_count = (survivor.returns_count or 0) + merged.returns_count
        survivor.first_order_at = _earliest(survivor.first_order_at, merged.first_order_at)
        survivor.last_order_at = _latest(survivor.last_order_at, merged.last_order_at)
        survivor.last_event_at = _latest(survivor.last_event_at, merged.last_event_at)
        survivor.average_order_value = (
            (survivor.total_spent / survivor.order_count).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
            if survivor.order_count
            else Decimal("0")
        )
        survivor.save(using=self.db)
        stats.filter(customer_id=merged_id).update(
            order_count=0,
            total_spent=0,
            refunded_total=0,
            returns_count=0,
            average_order_value=0,
            first_order_at=None,
            last_order_at=None,
        )

    def show_anew(self, customer_ids: set[int]) -> None:
        """Customer.email in its normalised form, for the customers whose stored address was written another way."""
        rows = self.objects(self.Customer).filter(pk__in=customer_ids).exclude(email="")
        for customer in rows.only("pk", "email", "first_name", "last_name", "phone", "city"):
            forms = _new_forms(customer.email)
            if forms is not None and forms[0] != customer.email:
                customer.email = forms[0]
                self.refresh_keys(customer)
                self.objects(self.Customer).filter(pk=customer.pk).update(
                    email=customer.email, search_key=customer.search_key, updated_at=timezone.now()
                )

    @staticmethod
    def refresh_keys(customer) -> None:
        parts = {f: getattr(customer, f) for f in ("first_name", "last_name", "email", "phone", "city")}
        customer.search_key = customer_search_key(**parts)
        customer.name_key = customer_name_key(first_name=parts["first_name"], last_name=parts["last_name"])

    def audit(self, customer_id: int, changes: dict) -> None:
        self.objects(self.AuditLog).create(
            action="merge",
            object_type="customers.customer",
            object_id=str(customer_id),
            customer_id=customer_id,
            changes=changes,
        )


def _earliest(a, b):
    return min(x for x in (a, b) if x is not None) if (a or b) else None


def _latest(a, b):
    return max(x for x in (a, b) if x is not None) if (a or b) else None


def forwards(apps, schema_editor) -> None:
    forms = EmailForms(apps, schema_editor.connection)
    forms.run()
    if forms.merges:
        from kervan.core.cache import customer_360

        # Cached 360s of merged profiles are out of date. A cache that cannot be reached holds nothing to forget
        # past its entries' expiry, and must not fail the migration.
        with contextlib.suppress(Exception):
            customer_360.everything_changed()


class Migration(migrations.Migration):
    atomic = False  # each batch commits on its own (see above)

    dependencies = [
        ("core", "0001_initial"),
        ("customers", "0004_plain_indexes"),
        ("events", "0001_initial"),
        ("orders", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
