"""iyzico through the real intake and worker, with a loopback iyzico API answering the payment lookups.

The notifications are iyzico's documented samples (../shared/data/webhooks/iyzico), signed in the test with the
recipe of iyzico's documentation (X-IYZ-SIGNATURE-V3, written out here independently of verify.py). The lookup
answers (/payment/detail, the checkout form's detail) are written here after iyzico's documented response fields:
no real answer is among the samples. Proves: payments mark the store order paid with amount and installments,
failures become "Payment Failed" events, a payment before its order is retried, subscriptions are ignored, bad
signatures and unreadable notifications are refused, the IYZWSv2 authorisation, check() and the missing backfill."""

import base64
import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.core.testing import LoopbackSite, free_port
from kervan.customers.tests.factories import make_customer
from kervan.events.models import Event
from kervan.integrations.actions import backfill_start
from kervan.integrations.models import Backfill, Delivery
from kervan.integrations.platforms.base import CheckFailed
from kervan.integrations.platforms.iyzico import PLATFORM
from kervan.integrations.platforms.iyzico.client import authorization
from kervan.integrations.testing import connection_make, deliver, needs_samples, process_all, sample
from kervan.orders.actions.orders import NewOrder, order_create
from kervan.orders.models import Order, OrderStatus, Payment

pytestmark = [needs_samples, pytest.mark.django_db]

SECRET = "sandbox-secret-kervan"
API_KEY = "sandbox-apikey-kervan"
MERCHANT = "3404590"
DETAIL = "/payment/detail"
FORM_DETAIL = "/payment/iyzipos/checkoutform/auth/ecom/detail"


def hmac_hex(text: str) -> str:
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


def direct_signature(p: dict) -> str:
    return hmac_hex(SECRET + p["iyziEventType"] + str(p["paymentId"]) + p["paymentConversationId"] + p["status"])


def hpp_signature(p: dict) -> str:
    return hmac_hex(SECRET + p["iyziEventType"] + str(p["iyziPaymentId"]) + p["token"] + p["paymentConversationId"]
                    + p["status"])  # fmt: skip


def subscription_signature(p: dict, *, merchant_first: bool = True) -> str:
    rest = p["iyziEventType"] + p["subscriptionReferenceCode"] + p["orderReferenceCode"] + p["customerReferenceCode"]
    return hmac_hex(MERCHANT + SECRET + rest if merchant_first else SECRET + MERCHANT + rest)


def notification(name: str, **changes) -> dict:
    payload = json.loads(sample(f"iyzico/{name}.json"))
    payload.update(changes)
    return payload


def send(connection, payload: dict, signature: str):
    return deliver(connection, json.dumps(payload).encode(), {"X-IYZ-SIGNATURE-V3": signature})


def answer(**fields) -> tuple[int, bytes]:
    """A lookup answer; prices as JSON numbers, as iyzico sends them (read as Decimal, never float)."""
    base = {"status": "success", "locale": "tr", "systemTime": 1766730780000, "conversationId": "conversationId",
            "price": "PRICE", "paidPrice": "PAID", "installment": 3, "paymentId": "28157248", "currency": "TRY",
            "basketId": "B67832", "paymentStatus": "SUCCESS", "fraudStatus": 1}  # fmt: skip
    base.update(fields)
    text = json.dumps(base).replace('"PRICE"', "1500.00").replace('"PAID"', "1530.75")
    return 200, text.encode()


@pytest.fixture
def api():
    with LoopbackSite() as site:
        yield site


@pytest.fixture
def iyzico(db, api):
    return connection_make("iyzico", name="iyzico", credentials={
        "api_key": API_KEY, "secret_key": SECRET, "merchant_id": MERCHANT, "api_base": api.url})  # fmt: skip


@pytest.fixture
def shop(db):
    return connection_make("shopify", name="Shop")


def store_order(shop, *, external_id: str, number: str) -> Order:
    order, _created = order_create(
        actor=Actor.system(),
        new_order=NewOrder(customer=make_customer(), lines=[{"title": "Halı", "quantity": 1, "unit_price": "1500.00"}],
                           currency="TRY", source=shop.source, external_id=external_id, number=number,
                           placed_at=dt.datetime(2025, 12, 26, 6, 0, tzinfo=dt.UTC)),
    )  # fmt: skip
    return order


def sent_auth_is_valid(path: str, headers: dict, body: bytes) -> bool:
    return headers["Authorization"] == authorization(API_KEY, SECRET, path, body.decode(), headers["x-iyzi-rnd"])


# -- payments ------------------------------------------------------------------------------------------------------


def test_a_direct_payment_marks_the_order_paid_with_its_amount_and_installments(iyzico, shop, api, clock):
    order = store_order(shop, external_id="conversationId", number="#1001")  # the sample's paymentConversationId
    api.once[DETAIL] = [answer()]
    payload = notification("direct_format_api_auth")
    response = send(iyzico, payload, direct_signature(payload))
    assert response.status_code == 200
    delivery = Delivery.objects.get()
    assert (delivery.topic, delivery.delivery_id) == ("API_AUTH", "97f61d20-e66f-4120-82e9-92f4a183370a")
    assert send(iyzico, payload, direct_signature(payload)).json() == {"status": "duplicate"}
    process_all()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DONE
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    payment = Payment.objects.get(order=order)
    assert (payment.amount, payment.currency, payment.installments) == (Decimal("1530.75"), "TRY", 3)
    assert (payment.provider, payment.reference, payment.method) == ("iyzico", "28157248", "card")
    assert payment.occurred_at == dt.datetime(2025, 12, 26, 6, 32, 58, 396000, tzinfo=dt.UTC)  # 1766730778396 ms
    ((path, headers, body),) = api.posted
    assert path == DETAIL and json.loads(body)["paymentId"] == "28157248"
    assert json.loads(body)["paymentConversationId"] == "conversationId"
    assert headers["Authorization"].startswith("IYZWSv2 ") and sent_auth_is_valid(path, headers, body)


def test_a_checkout_form_payment_is_looked_up_by_its_token_and_names_the_order_by_number(iyzico, shop, api, clock):
    order = store_order(shop, external_id="88001", number="123456789")
    api.once[FORM_DETAIL] = [answer(paymentId="28157797", installment=1, token="9895e0e6-cd7e-4635-9c33-fe52c337de09")]
    payload = notification("hpp_format_checkout_form_auth")
    assert (
        send(iyzico, payload, direct_signature({**payload, "paymentId": payload["iyziPaymentId"]})).status_code == 401
    )
    assert send(iyzico, payload, hpp_signature(payload)).status_code == 200
    process_all()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    payment = Payment.objects.get(order=order)
    assert (payment.reference, payment.amount, payment.installments) == ("28157797", Decimal("1530.75"), 1)
    ((path, headers, body),) = api.posted
    assert path == FORM_DETAIL and json.loads(body)["token"] == "9895e0e6-cd7e-4635-9c33-fe52c337de09"
    assert sent_auth_is_valid(path, headers, body)


def test_a_failed_payment_is_a_payment_failed_event(iyzico, shop, api, clock):
    order = store_order(shop, external_id="conversationId", number="#1001")
    api.once[DETAIL] = [answer(paymentStatus="FAILURE")]
    payload = notification("direct_format_api_auth", status="FAILURE")
    send(iyzico, payload, direct_signature(payload))
    process_all()
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED and not Payment.objects.exists()
    failed = Event.objects.get(name="Payment Failed")
    assert failed.customer_id == order.customer_id
    assert failed.properties == {"order_id": order.pk, "number": "#1001", "value": "1530.75", "currency": "TRY",
                                 "provider": "iyzico"}  # fmt: skip


def test_a_payment_before_its_order_is_retried_until_the_order_arrives(iyzico, shop, api, clock):
    api.once[DETAIL] = [answer(), answer()]
    payload = notification("direct_format_api_auth")
    send(iyzico, payload, direct_signature(payload))
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.RETRYING and "conversationId" in delivery.error
    order = store_order(shop, external_id="conversationId", number="#1001")
    clock.advance(dt.timedelta(hours=1))
    process_all()
    delivery.refresh_from_db()
    order.refresh_from_db()
    assert delivery.status == Delivery.Status.DONE and order.status == OrderStatus.PAID
    assert Payment.objects.get().installments == 3


def test_iyzico_down_during_the_lookup_is_retried_and_a_refused_lookup_is_dead(iyzico, shop, api, clock):
    order = store_order(shop, external_id="conversationId", number="#1001")
    api.once[DETAIL] = [(503, b"down")] * 3
    payload = notification("direct_format_api_auth")
    send(iyzico, payload, direct_signature(payload))
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.RETRYING and "503" in delivery.error
    api.once[DETAIL] = [(200, json.dumps({"status": "failure", "errorCode": "1001",
                                          "errorMessage": "api bilgileri bulunamadı"}).encode())]  # fmt: skip
    clock.advance(dt.timedelta(hours=1))
    process_all()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DEAD and "api bilgileri bulunamadı (1001)" in delivery.error
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED and not Payment.objects.exists()


@pytest.mark.parametrize("name", ["subscription_order_success", "subscription_order_failure"])
def test_subscription_notifications_are_verified_either_way_and_ignored(iyzico, api, clock, name):
    payload = notification(name)
    assert send(iyzico, payload, subscription_signature(payload)).status_code == 200
    assert send(iyzico, payload, subscription_signature(payload, merchant_first=False)).json()["status"] == "duplicate"
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.topic == payload["iyziEventType"] and delivery.delivery_id == payload["iyziReferenceCode"]
    assert delivery.status == Delivery.Status.IGNORED and not api.posted
    iyzico.credentials = {**iyzico.credentials, "merchant_id": ""}
    iyzico.save()
    Delivery.objects.all().delete()
    assert send(iyzico, payload, subscription_signature(payload)).status_code == 401  # no merchant id: unverifiable


# -- what goes wrong -----------------------------------------------------------------------------------------------


def test_a_bad_signature_is_refused_and_malformed_json_is_a_400(iyzico, clock):
    payload = notification("direct_format_api_auth")
    tampered = {**payload, "paymentConversationId": "someone-elses-order"}
    assert send(iyzico, tampered, direct_signature(payload)).status_code == 401
    assert send(iyzico, payload, "").status_code == 401
    response = deliver(iyzico, b'{"iyziEventType": ', {"X-IYZ-SIGNATURE-V3": "00"})
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"
    assert not Delivery.objects.exists()


def test_a_notification_without_a_payment_id_is_dead_and_writes_nothing(iyzico, shop, api, clock):
    store_order(shop, external_id="conversationId", number="#1001")
    payload = notification("direct_format_api_auth", paymentId=None, iyziPaymentId=None)
    send(iyzico, payload, hmac_hex(SECRET + "API_AUTH" + "conversationIdSUCCESS"))
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DEAD and "neither a paymentId nor a token" in delivery.error
    assert not Payment.objects.exists() and not api.posted


def test_intermediate_statuses_are_ignored(iyzico, api, clock):
    payload = notification("direct_format_api_auth", status="INIT_THREEDS")
    send(iyzico, payload, direct_signature(payload))
    process_all()
    assert Delivery.objects.get().status == Delivery.Status.IGNORED and not api.posted


# -- the API -------------------------------------------------------------------------------------------------------


def test_iyzwsv2_matches_iyzicos_published_vector():
    # iyzipay-rust's test of IyziAuthV2Generator: the query string is not signed.
    expected = "IYZWSv2 YXBpS2V5OmFwaUtleSZyYW5kb21LZXk6cmFuZG9tJnNpZ25hdHVyZTo0YWZhMjhjYjE3NTkwNThlYWEzNjNhZGVkNjAzM2NhNTg0N2NmNDYxODNhZDdiYTI5ZDEwZjE3ZWNiMGJmY2M4"  # noqa: E501
    assert authorization("apiKey", "secretKey", "/v2/uri?test=true", '{"data":"value"}', "random") == expected
    assert authorization("apiKey", "secretKey", "/v2/uri", '{"data":"value"}', "random") == expected
    assert base64.b64decode(expected.split()[1]).decode().startswith("apiKey:apiKey&randomKey:random&signature:")


def test_check_works_with_valid_credentials_and_says_what_is_wrong_otherwise(iyzico, api, clock):
    api.once["/payment/bin/check"] = [(200, b'{"status": "success", "binNumber": "554960", "bankName": "Garanti"}')]
    assert PLATFORM.check(iyzico) == "iyzico"
    ((path, headers, body),) = api.posted
    assert path == "/payment/bin/check" and sent_auth_is_valid(path, headers, body)
    api.once["/payment/bin/check"] = [(200, json.dumps({"status": "failure", "errorCode": "1000",
                                                        "errorMessage": "Geçersiz imza"}).encode())]  # fmt: skip
    with pytest.raises(CheckFailed, match="iyzico refused the API key and secret key: Geçersiz imza"):
        PLATFORM.check(iyzico)
    api.once["/payment/bin/check"] = [(401, b'{"status": "failure"}')]
    with pytest.raises(CheckFailed, match=r"refused the API key and secret key \(HTTP 401\)"):
        PLATFORM.check(iyzico)
    iyzico.credentials = {**iyzico.credentials, "api_base": f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(CheckFailed, match="iyzico could not be reached at http://127.0.0.1"):
        PLATFORM.check(iyzico)


def test_there_is_no_backfill_and_starting_one_is_refused_clearly(iyzico, admin_actor):
    assert PLATFORM.backfill_kinds == ()
    with pytest.raises(KervanError) as refused:
        backfill_start(actor=admin_actor, connection=iyzico)
    assert refused.value.code == "backfill_unsupported"
    assert "iyzico has no API to read past records from" in refused.value.detail
    assert not Backfill.objects.exists()
