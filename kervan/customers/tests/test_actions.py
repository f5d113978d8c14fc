import datetime as dt
from decimal import Decimal

import pytest

from kervan.core.errors import Conflict, KervanError
from kervan.core.models import AuditLog
from kervan.customers.actions import customer_create, customer_merge, customer_update, identity_add, note_add
from kervan.customers.consent import consent_record
from kervan.customers.identity import customer_identify, customer_resolve
from kervan.customers.models import ConsentRecord, Customer, CustomerMerge, CustomFieldDefinition, Identity
from kervan.customers.selectors import duplicate_candidates
from kervan.customers.tests.factories import IST, make_customer, make_order
from kervan.events.actions import event_record
from kervan.events.ingest import identify_visitor
from kervan.events.models import Event

pytestmark = pytest.mark.django_db


def test_create_normalises_and_records_identities_and_audit(admin_actor):
    customer = customer_create(
        actor=admin_actor,
        first_name="İsmail",
        last_name="IŞIK",
        email=" Ismail.Isik@Example.com ",
        phone="0532 111 22 33",
        city="İstanbul",
        tags=["vip", "vip", "toptan"],
    )
    assert customer.email == "ismail.isik@example.com"
    assert customer.phone == "+905321112233"
    assert "isik" in customer.search_key and "istanbul" in customer.search_key
    assert set(customer.identities.values_list("kind", "value")) == {
        ("email", "ismail.isik@example.com"),
        ("phone", "+905321112233"),
    }
    assert sorted(customer.tags.values_list("name", flat=True)) == ["toptan", "vip"]
    assert customer.stats.order_count == 0
    log = AuditLog.objects.get(customer_id=customer.pk, action="create")
    assert log.actor_user_id == admin_actor.user.pk and log.changes["email"] == [None, "ismail.isik@example.com"]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("email", "nope", "invalid_email"),
        ("phone", "123", "invalid_phone"),
        ("birth_date", "2999-01-01", "invalid_date"),
        ("gender", "x", "invalid_choice"),
        ("time_zone", "Mars/Base", "invalid_time_zone"),
        ("country", "TUR", "invalid_country"),
    ],
)
def test_create_refuses_bad_fields_and_writes_nothing(admin_actor, field, value, code):
    with pytest.raises(KervanError) as exc:
        customer_create(actor=admin_actor, first_name="A", **{field: value})
    assert exc.value.code == code and exc.value.field == field
    assert Customer.objects.count() == 0 and AuditLog.objects.count() == 0


def test_duplicate_email_is_a_conflict(admin_actor):
    make_customer(email="same@example.com")
    with pytest.raises(Conflict):
        customer_create(actor=admin_actor, first_name="B", email="SAME@example.com")
    assert Customer.objects.count() == 1


def test_custom_fields_are_validated_against_definitions(admin_actor):
    CustomFieldDefinition.objects.create(key="shoe_size", label="Shoe size", field_type="number")
    CustomFieldDefinition.objects.create(key="segment", label="Segment", field_type="choice", choices=["A", "B"])
    CustomFieldDefinition.objects.create(key="newsletter", label="Newsletter", field_type="boolean")
    customer = make_customer(custom_fields={"shoe_size": "42", "segment": "A", "newsletter": "evet"})
    assert customer.custom_fields == {"shoe_size": 42, "segment": "A", "newsletter": True}
    for bad in ({"shoe_size": "big"}, {"segment": "C"}, {"unknown": 1}, {"newsletter": "maybe"}):
        with pytest.raises(KervanError):
            customer_update(actor=admin_actor, customer=customer, custom_fields=bad)
    customer.refresh_from_db()
    assert customer.custom_fields["segment"] == "A"


def test_update_audits_old_and_new_values(admin_actor):
    customer = make_customer(city="Ankara")
    customer_update(actor=admin_actor, customer=customer, city="İzmir", tags=["vip"])
    log = AuditLog.objects.filter(customer_id=customer.pk, action="update").get()
    assert log.changes["city"] == ["Ankara", "İzmir"] and log.changes["tags"] == [[], ["vip"]]
    assert "izmir" in Customer.objects.get(pk=customer.pk).search_key


def test_no_op_update_writes_no_audit(admin_actor):
    customer = make_customer(city="Ankara")
    customer_update(actor=admin_actor, customer=customer, city="Ankara")
    assert not AuditLog.objects.filter(action="update").exists()


def test_identify_joins_anonymous_events_to_profile(system_actor):
    event_record(
        name="Viewed Page", occurred_at=dt.datetime(2026, 1, 1, tzinfo=IST), dedupe_key="e1", anonymous_id="anon-1"
    )
    event_record(
        name="Added to Cart",
        occurred_at=dt.datetime(2026, 1, 1, 0, 5, tzinfo=IST),
        dedupe_key="e2",
        anonymous_id="anon-1",
    )
    customer, created = identify_visitor(
        actor=system_actor, anonymous_id="anon-1", email="Zeynep@Example.com", traits={"first_name": "Zeynep"}
    )
    assert created and customer.first_name == "Zeynep"
    assert Event.objects.filter(customer=customer).count() == 2
    again, created_again = customer_identify(actor=system_actor, email="zeynep@example.com", phone="05321234567")
    assert again.pk == customer.pk and not created_again
    assert again.phone == "+905321234567"
    assert customer_resolve(anonymous_id="anon-1").pk == customer.pk


def test_identify_never_steals_an_identity_from_another_customer(system_actor):
    owner = make_customer(email="owner@example.com")
    other, _ = customer_identify(actor=system_actor, phone="05329998877")
    customer, created = customer_identify(actor=system_actor, phone="05329998877", email="owner@example.com")
    # source id > email > phone: the email wins and the phone stays where it was
    assert customer.pk == owner.pk and not created
    assert Identity.objects.get(kind="phone", value="+905329998877").customer_id == other.pk


def test_merge_moves_everything_and_keeps_history(admin_actor):
    survivor = make_customer(first_name="Ayşe", last_name="Kaya", city="Bursa")
    merged = make_customer(first_name="Ayse", last_name="KAYA", phone="05321112233", birth_date="1990-05-01")
    make_order(survivor, total_lines=((1, "100.00"),), placed_at=dt.datetime(2026, 2, 1, tzinfo=IST))
    make_order(merged, total_lines=((2, "50.00"),), placed_at=dt.datetime(2025, 12, 1, tzinfo=IST))
    note_add(actor=admin_actor, customer=merged, body="Called about delivery")
    consent_record(actor=admin_actor, customer=merged, channel="sms", status="granted")
    record = customer_merge(actor=admin_actor, survivor=survivor, merged=merged)

    survivor.refresh_from_db()
    merged.refresh_from_db()
    assert merged.merged_into_id == survivor.pk
    assert survivor.phone == "+905321112233" and survivor.birth_date == dt.date(1990, 5, 1)
    assert survivor.orders.count() == 2 and survivor.notes.count() == 1
    assert survivor.consent_sms == "granted"
    stats = survivor.stats
    assert stats.order_count == 2 and stats.total_spent == Decimal("200.00")
    assert stats.average_order_value == Decimal("100.00")
    assert stats.first_order_at == dt.datetime(2025, 12, 1, tzinfo=IST)
    assert customer_resolve(phone="+905321112233").pk == survivor.pk
    assert CustomerMerge.objects.get(pk=record.pk).snapshot["phone"] == "+905321112233"
    assert AuditLog.objects.filter(action="merge").count() == 2
    with pytest.raises(Conflict):
        customer_merge(actor=admin_actor, survivor=survivor, merged=merged)


def test_duplicates_need_name_and_one_more_matching_detail(system_actor):
    base = make_customer(first_name="Mehmet", last_name="Yılmaz", city="Konya", email="mehmet.y@gmail.com")
    same_city = make_customer(first_name="MEHMET", last_name="YILMAZ", city="KONYA", email="m2@example.com")
    same_email_name = make_customer(first_name="Mehmet", last_name="Yilmaz", email="mehmet.y@hotmail.com")
    make_customer(first_name="Mehmet", last_name="Yılmaz", city="Van", email="other@example.com")  # name only
    found = {c.pk: reasons for c, reasons in duplicate_candidates(actor=system_actor, customer=base)}
    assert set(found) == {same_city.pk, same_email_name.pk}
    assert "same_city" in found[same_city.pk] and "same_email_name" in found[same_email_name.pk]


def test_consent_ledger_latest_record_wins_and_carries_iys_fields(admin_actor):
    customer = make_customer(phone="05325554433")
    now = dt.datetime(2026, 5, 1, 10, tzinfo=IST)
    consent_record(
        actor=admin_actor,
        customer=customer,
        channel="sms",
        status="granted",
        occurred_at=now,
        iys_source="HS_WEB",
        source="checkout",
        proof="Kampanyalardan haberdar olmak istiyorum",
    )
    late_old = consent_record(
        actor=admin_actor, customer=customer, channel="sms", status="refused", occurred_at=now - dt.timedelta(days=30)
    )
    customer.refresh_from_db()
    assert customer.consent_sms == "granted"  # an older record arriving late does not overturn a newer one
    assert late_old.iys_channel == "MESAJ" and late_old.iys_status == "RET" and late_old.address == "+905325554433"
    consent_record(
        actor=admin_actor, customer=customer, channel="sms", status="refused", occurred_at=now + dt.timedelta(days=1)
    )
    customer.refresh_from_db()
    assert customer.consent_sms == "refused"
    assert ConsentRecord.objects.filter(customer=customer).count() == 3  # append-only
    with pytest.raises(KervanError):
        consent_record(actor=admin_actor, customer=customer, channel="fax", status="granted")
    with pytest.raises(KervanError):
        consent_record(actor=admin_actor, customer=customer, channel="sms", status="granted", iys_source="HS_X")


def test_identity_add_validates_kind_and_value(admin_actor):
    customer = make_customer()
    identity_add(actor=admin_actor, customer=customer, kind="email", value="second@Example.com")
    assert customer.identities.filter(kind="email", value="second@example.com").exists()
    with pytest.raises(KervanError):
        identity_add(actor=admin_actor, customer=customer, kind="fax", value="1")
    with pytest.raises(KervanError):
        identity_add(actor=admin_actor, customer=customer, kind="source_id", value="123")
