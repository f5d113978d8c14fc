"""Consent per address (issue 19): an index that reaches the latest record for one address directly; each customer's
email mailbox (email_key); the addresses already in the ledger normalised the way identities are (an email as its
mailbox); the cached consent recomputed for each customer's current address, a refusal winning a tie. The rule is
copied here as it stands today (customers.consent_state), as migrations must not change when the code does."""

from django.db import connection, migrations, models
from django.db.models import Case, Exists, F, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce

from kervan.core.emails import email_match_key
from kervan.core.errors import KervanError
from kervan.core.phones import normalize_phone

MATCH_FIELD = {"email": "email_key", "sms": "phone", "call": "phone", "whatsapp": "phone", "push": None}
BATCH = 2000


def fill_email_keys(apps, schema_editor):
    """Customer.email_key = the mailbox of Customer.email. Most addresses are their own key: one statement sets those,
    then only the rows whose key differs (Gmail forms, non-ASCII local parts) are written one by one."""
    Customer = apps.get_model("customers", "Customer")
    Customer.objects.exclude(email="").update(email_key=F("email"))
    changed = []
    for pk, email in Customer.objects.exclude(email="").values_list("pk", "email").iterator(chunk_size=BATCH):
        try:
            key = email_match_key(email)
        except KervanError:
            continue
        if key != email:
            changed.append((key, pk))
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(changed), BATCH):
            cursor.executemany(f"UPDATE {table} SET email_key = %s WHERE id = %s", changed[start : start + BATCH])


def normalize_addresses(apps, schema_editor):
    """An address typed by hand ("0532 111 22 33") becomes the form the customer's own is stored in ("+90532…"), or
    the customer's address would not find its consent. One that does not parse is kept as it was."""
    ConsentRecord = apps.get_model("customers", "ConsentRecord")
    changed = []
    records = ConsentRecord.objects.exclude(address="").exclude(channel="push").only("id", "channel", "address")
    for record in records.iterator(chunk_size=BATCH):
        try:
            value = email_match_key(record.address) if record.channel == "email" else normalize_phone(record.address)
        except KervanError:
            continue
        if value != record.address:
            record.address = value
            changed.append(record)
    ConsentRecord.objects.bulk_update(changed, ["address"], batch_size=BATCH)


def recompute_cached_consent(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    ConsentRecord = apps.get_model("customers", "ConsentRecord")

    def state(channel):
        records = ConsentRecord.objects.filter(customer_id=OuterRef("pk"), channel=channel, purpose="marketing")
        if MATCH_FIELD[channel]:
            records = records.filter(address=OuterRef(MATCH_FIELD[channel]))
        latest = records.order_by(
            F("occurred_at").desc(),
            Case(When(status="refused", then=Value(0)), default=Value(1)).asc(),
            F("id").desc(),
        )
        return Coalesce(Subquery(latest.values("status")[:1]), Value(""))

    with_records = Customer.objects.filter(Exists(ConsentRecord.objects.filter(customer_id=OuterRef("pk"))))
    with_records.update(**{f"consent_{channel}": state(channel) for channel in MATCH_FIELD})


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_email_forms")]

    operations = [
        migrations.AddField(
            model_name="customer", name="email_key", field=models.CharField(blank=True, default="", max_length=254)
        ),
        migrations.RunPython(fill_email_keys, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="consentrecord", name="consent_latest_idx"),
        migrations.AddIndex(
            model_name="consentrecord",
            index=models.Index(
                fields=["customer", "channel", "purpose", "address", "-occurred_at"], name="consent_address_idx"
            ),
        ),
        migrations.RunPython(normalize_addresses, migrations.RunPython.noop),
        migrations.RunPython(recompute_cached_consent, migrations.RunPython.noop),
    ]
