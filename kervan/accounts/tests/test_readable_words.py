"""What the UI tells a person is in words of their language, never raw keys: the audit log (actions, object names,
changes), refusals (the area's name, not `customers`/`write`), API key scopes, and bad filter values."""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from kervan.accounts import actions
from kervan.accounts.actors import Actor
from kervan.accounts.audit_labels import action_label, change_lines, object_name
from kervan.accounts.permissions import Role, refusal_message
from kervan.core.audit import audit
from kervan.core.errors import KervanError, PermissionDenied, check_choice, check_sort
from kervan.core.filters import date_range, parse_amount, parse_count, parse_date, parse_yes_no
from kervan.customers.actions import customer_update
from kervan.customers.tests.factories import make_customer, make_order

pytestmark = pytest.mark.django_db


def _client(user, language: str) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


@pytest.fixture
def trail(admin_user, admin_actor):
    """Audit rows written by the real actions: a customer created and updated, an order, an API key, an import."""
    customer = make_customer(first_name="Deniz", city="Izmir")
    customer_update(actor=admin_actor, customer=customer, city="Bursa")
    make_order(customer)
    actions.api_key_create(actor=admin_actor, name="ERP", scopes={"customers": "read", "orders": "write"})
    audit(
        actor=admin_actor,
        action="import",
        object_type="imports.importjob",
        object_id=4,
        changes={"kind": "customers", "status": "done", "rows": 3, "errors": 1},
    )
    return customer


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        (
            "en",
            ["Customer created", "Customer updated", "Order created", "API key created", "File import finished",
             "Import #4", "City:</span> Izmir → Bursa", "Access:</span> Customers: Read, Orders: Write",
             "Status:</span> Done", "Problems:</span> 1"],
            ["müşteri", "Sipariş"],
        ),
        (
            "tr",
            ["Müşteri oluşturuldu", "Müşteri güncellendi", "Sipariş oluşturuldu", "API anahtarı oluşturuldu",
             "Dosya içe aktarımı bitti", "İçe aktarma #4", "Şehir:</span> Izmir → Bursa",
             "Erişim:</span> Müşteriler: Okuma, Siparişler: Yazma", "Durum:</span> Tamamlandı", "Sorunlar:</span> 1"],
            ["Customer created", "Order created"],
        ),
    ],
)  # fmt: skip
def test_the_audit_log_reads_in_words(admin_user, trail, language, expected, absent):
    html = _client(admin_user, language).get(reverse("accounts:audit_log")).content.decode()
    text = html.split("<tbody>", 1)[1]
    for words in expected:
        assert words in text, words
    for words in absent:
        assert words not in text, words
    visible = re.sub(r"<[^>]+>", " ", text)  # the text, without tags and their attributes
    for raw in ("imports.importjob", "customers.customer", "orders.order", "accounts.apikey", "{", "[", "None"):
        assert raw not in visible, raw


def test_unknown_actions_and_types_still_read_sensibly():
    with translation.override("en"):
        assert action_label("update", "shop.widget") == "Shop.widget updated"
        assert action_label("archive", "orders.order") == "archive"
        assert object_name("orders.order") == "order"
        assert change_lines({"colour": ["red", "blue"], "count": [None, 3], "flag": True}) == [
            ("colour", "red → blue"),
            ("count", "3"),
            ("flag", "Yes"),
        ]
    with translation.override("tr"):
        assert action_label("import", "imports.importjob") == "Dosya içe aktarımı bitti"
        assert action_label("create", "imports.importjob") == "İçe aktarma oluşturuldu"  # İ, not I


@pytest.mark.parametrize(
    ("language", "access", "message"),
    [
        ("en", "write", "You need permission to change Customers."),
        ("en", "read", "You need permission to view Customers."),
        ("tr", "write", "Bunun için Müşteriler alanında değişiklik izni gerekir."),
        ("tr", "read", "Bunun için Müşteriler alanını görüntüleme izni gerekir."),
    ],
)
def test_a_refusal_names_the_area_and_what_was_wanted(make_user, language, access, message):
    actor = Actor.for_user(make_user(Role.READ_ONLY if access == "write" else Role.MARKETING, "someone"))
    actor.scopes["customers"] = "read" if access == "write" else None
    with translation.override(language), pytest.raises(PermissionDenied) as refused:
        actor.require("customers", access)
    assert refused.value.detail == message
    with translation.override(language):
        assert refusal_message("customers", access) == message


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "You need permission to change Settings."),
        ("tr", "Bunun için Ayarlar alanında değişiklik izni gerekir."),
    ],
)
def test_the_403_page_names_the_area(make_user, language, words):
    html = _client(make_user(Role.SUPPORT, "agent"), language).get(reverse("accounts:api_keys"))
    assert html.status_code == 403
    main = html.content.decode().split("<main", 1)[1]
    assert words in main
    assert "write access" not in main and "access to settings" not in main


@pytest.mark.parametrize(
    ("language", "scopes"),
    [("en", ["Customers: Read", "Orders: Write"]), ("tr", ["Müşteriler: Okuma", "Siparişler: Yazma"])],
)
def test_api_key_scopes_are_shown_by_name(admin_user, admin_actor, language, scopes):
    actions.api_key_create(actor=admin_actor, name="ERP", scopes={"customers": "read", "orders": "write"})
    html = _client(admin_user, language).get(reverse("accounts:api_keys")).content.decode()
    for scope in scopes:
        assert f'<span class="pill">{scope}</span>' in html
    assert "customers: read" not in html


def test_giving_a_key_more_than_you_have_is_refused_in_words(make_user):
    marketer = Actor.for_user(make_user(Role.ADMIN, "boss"))
    marketer.scopes["orders"] = "read"
    with translation.override("en"), pytest.raises(PermissionDenied) as refused:
        actions.api_key_create(actor=marketer, name="too much", scopes={"orders": "write"})
    assert refused.value.detail == "You cannot give a key permission to change Orders: you do not have it yourself."


def test_bad_choice_sort_and_filter_values_never_name_the_field_by_its_key():
    with translation.override("en"):
        cases = [
            (lambda: check_choice("x", ("a", "b"), field="status"), "'x' is not one of: a, b.", "status"),
            (
                lambda: check_choice("x", ("a", "b"), field="status", label="Order status"),
                "Order status must be one of: a, b.",
                "status",
            ),
            (lambda: check_sort("bogus", ("new", "old")), "'bogus' is not a sort order this list offers.", "sort"),
            (lambda: parse_date("3 May", "placed_from"), "'3 May' is not a date; use YYYY-MM-DD.", "placed_from"),
            (
                lambda: parse_date("3 May", "placed_from", label="Placed from"),
                "Placed from: '3 May' is not a date; use YYYY-MM-DD.",
                "placed_from",
            ),
            (
                lambda: date_range("2026-03-02", "2026-03-01", start_field="from", end_field="to"),
                "The end date must not be before the start date.",
                "to",
            ),
            (lambda: parse_yes_no("maybe", "has_orders"), "Use yes or no.", "has_orders"),
            (lambda: parse_amount("lots", "min_total"), "'lots' is not an amount; write it like 1250.50.", "min_total"),
            (lambda: parse_count("-1", "days", low=0, high=90), "Use a whole number from 0 to 90.", "days"),
        ]
        for call, message, field in cases:
            with pytest.raises(KervanError) as refused:
                call()
            assert (refused.value.detail, refused.value.field) == (message, field)
    with translation.override("tr"), pytest.raises(KervanError) as refused:
        parse_date("3 May", "placed_from")
    assert refused.value.detail == "'3 May' bir tarih değil; YYYY-AA-GG biçimini kullanın."


def test_a_bad_sort_on_the_customer_list_is_told_beside_the_sort_menu(admin_client):
    html = admin_client.get("/customers/", {"sort": "bogus", "city": "Izmir"}).content.decode()
    assert "&#x27;bogus&#x27; is not a sort order this list offers." in html
    assert "sort must be one of" not in html
