"""/api/v1/support/tickets: create, list, get, reply, status; bad input 400, no permission 403, no ticket 404 —
each a {"detail", "code"} and nothing half-written."""

import pytest

from kervan.customers.tests.factories import make_customer, make_order
from kervan.support.models import Ticket

pytestmark = pytest.mark.django_db


def test_create_list_get_reply_and_status(monday, api):
    customer = make_customer()
    order = make_order(customer)
    made = api.post(
        "/support/tickets",
        {
            "subject": "Kırık ürün",
            "body": "Vazo kırık geldi.",
            "customer_id": customer.pk,
            "order_id": order.pk,
            "priority": "high",
            "tags": ["hasar"],
        },
    )
    assert made.status_code == 201, made.content
    body = made.json()
    ticket = Ticket.objects.get()
    assert (body["id"], body["number"], body["channel"], body["status"]) == (ticket.pk, ticket.number, "api", "new")
    assert (body["customer_id"], body["order_id"], body["tags"], body["sla_state"]) == (
        customer.pk,
        order.pk,
        ["hasar"],
        "ok",
    )
    assert body["first_response_due_at"] is not None
    assert [m["direction"] for m in body["messages"]] == ["inbound"]

    listed = api.get("/support/tickets", {"status": "active", "customer_id": customer.pk}).json()
    assert [t["number"] for t in listed["items"]] == [ticket.number] and listed["next_cursor"] is None
    assert api.get("/support/tickets", {"status": "solved"}).json()["items"] == []

    replied = api.post(f"/support/tickets/{ticket.pk}/reply", {"body": "Yenisini gönderiyoruz.", "status": "pending"})
    assert replied.status_code == 201
    assert replied.json()["status"] == "pending" and replied.json()["first_responded_at"] is not None
    assert replied.json()["sla_state"] == "paused"
    solved = api.post(f"/support/tickets/{ticket.pk}/status", {"status": "solved"})
    assert solved.status_code == 200 and solved.json()["status"] == "solved" and solved.json()["solved_at"]
    got = api.get(f"/support/tickets/{ticket.pk}").json()
    assert [m["body"] for m in got["messages"]] == ["Vazo kırık geldi.", "Yenisini gönderiyoruz."]


@pytest.mark.parametrize(
    "payload, status, code",
    [
        ({"subject": "x", "body": "y"}, 400, "requester_required"),
        ({"subject": "x", "body": "y", "requester_email": "nope"}, 400, "invalid_email"),
        ({"subject": "", "body": "y", "requester_email": "a@example.com"}, 400, "required"),
        ({"subject": "x", "body": "y", "requester_email": "a@example.com", "customer_id": 999999}, 404, None),
        ({"subject": "x", "body": "y", "requester_email": "a@example.com", "priority": "asap"}, 422, None),
        ({"subject": "x", "body": "y", "requester_email": "a@example.com", "surprise": 1}, 422, None),
        ({"subject": "x\u0000", "body": "y", "requester_email": "a@example.com"}, 422, None),
        ({"subject": "x", "body": "y", "requester_email": "a@example.com", "order_id": 2**70}, 422, None),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(monday, api, payload, status, code):
    """Refusals of the action are 400 with their code; a body that does not fit the schema is 422
    validation_error (the API's rule for every endpoint)."""
    response = api.post("/support/tickets", payload)
    assert response.status_code == status, response.content
    assert set(response.json()) >= {"detail", "code"}
    assert response.json()["code"] == (code or response.json()["code"])
    if status == 422:
        assert response.json()["code"] == "validation_error"
    assert not Ticket.objects.exists()


def test_missing_ticket_is_404(api):
    for response in (
        api.get("/support/tickets/999999"),
        api.post("/support/tickets/999999/reply", {"body": "x"}),
        api.post("/support/tickets/999999/status", {"status": "open"}),
        api.get(f"/support/tickets/{2**70}"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] in ("ticket_not_found", "not_found")


def test_a_read_only_key_cannot_write(monday, make_api_key, api):
    from kervan.conftest import ApiClient

    ticket = Ticket.objects.get(
        pk=api.post("/support/tickets", {"subject": "x", "body": "y", "requester_email": "a@example.com"}).json()["id"]
    )
    _key, secret = make_api_key({"support": "read"}, name="read only")
    reader = ApiClient(secret)
    assert reader.get(f"/support/tickets/{ticket.pk}").status_code == 200
    for response in (
        reader.post("/support/tickets", {"subject": "x", "body": "y", "requester_email": "a@example.com"}),
        reader.post(f"/support/tickets/{ticket.pk}/reply", {"body": "x"}),
        reader.post(f"/support/tickets/{ticket.pk}/status", {"status": "solved"}),
    ):
        assert response.status_code == 403 and response.json()["code"]
    _key, secret = make_api_key({"orders": "read"}, name="no support")
    assert ApiClient(secret).get("/support/tickets").status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == "new" and ticket.messages.count() == 1 and Ticket.objects.count() == 1
