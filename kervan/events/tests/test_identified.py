"""kervan.events.identified: every path that joins a visitor id to a customer (the API's identify, the tracker's,
a batch whose events name a person and a visitor) tells the registered apps, inside the identify's transaction;
one that joins no visitor tells nobody."""

import pytest

from kervan.accounts.actors import Actor
from kervan.customers.models import Customer
from kervan.events import identified
from kervan.events.actions import events_identify
from kervan.events.schemas import IdentifyIn


@pytest.fixture
def heard(monkeypatch):
    calls: list[tuple[str, int]] = []

    def listener(*, anonymous_id: str, customer_id: int) -> None:
        calls.append((anonymous_id, customer_id))

    monkeypatch.setitem(identified._handlers, "test.listener", listener)
    return calls


def test_the_api_identify_tells_the_registered_apps(api, heard):
    response = api.post("/events/identify", {"anonymous_id": "visitor-1", "email": "ayse@example.com"})
    assert response.status_code == 200
    assert heard == [("visitor-1", response.json()["customer_id"])]


def test_an_identify_without_a_visitor_id_tells_nobody(api, heard):
    assert api.post("/events/identify", {"email": "ayse@example.com"}).status_code == 200
    assert heard == []


def test_events_naming_a_person_and_a_visitor_tell_the_registered_apps(api, event, heard):
    response = api.post("/events/track", event(anonymous_id="visitor-2", email="can@example.com"))
    assert response.status_code in (200, 202), response.json()
    assert heard == [("visitor-2", Customer.objects.get(email="can@example.com").pk)]


def test_a_failing_listener_undoes_the_identify(db, monkeypatch):
    def broken(*, anonymous_id: str, customer_id: int) -> None:
        raise RuntimeError("listener failed")

    monkeypatch.setitem(identified._handlers, "test.broken", broken)
    item = IdentifyIn(anonymous_id="visitor-3", email="deniz@example.com")
    with pytest.raises(RuntimeError):
        events_identify(actor=Actor.system(), item=item)
    assert not Customer.objects.filter(email="deniz@example.com").exists()


def test_a_name_is_registered_once(monkeypatch):
    monkeypatch.setattr(identified, "_handlers", {})

    def first(*, anonymous_id: str, customer_id: int) -> None: ...

    def second(*, anonymous_id: str, customer_id: int) -> None: ...

    identified.register_visitor_identified("x", first)
    identified.register_visitor_identified("x", first)  # ready() again: the same registration is fine
    with pytest.raises(ValueError):
        identified.register_visitor_identified("x", second)
