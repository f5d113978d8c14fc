"""Several workers at once (threads, each with its own database session) share the due deliveries: each is sent
once (kervan.core.claim: FOR UPDATE SKIP LOCKED on PostgreSQL)."""

import json
import threading

import pytest
from django.db import connection, connections

from kervan.accounts.actors import Actor
from kervan.core.outgoing import emit
from kervan.outbound import actions
from kervan.outbound.models import WebhookDelivery
from kervan.outbound.sending import deliver_due


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_each_delivery_once(receiver):
    if connection.vendor != "postgresql":
        pytest.skip("row locks between sessions: PostgreSQL (SQLite has one writer at a time)")
    actions.endpoint_create(actor=Actor.system(), url=f"{receiver.url}/hook", events=["order.placed"])
    for i in range(60):
        emit("order.placed", event_id=f"order:{i}", data={"order": {"id": i}})
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while sum(deliver_due(worker=name, limit=5).values()):
                pass
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    ids = [json.loads(body)["id"] for _path, _headers, body in receiver.posted]
    assert sorted(ids) == sorted(f"order:{i}" for i in range(60))  # every one, once
    assert WebhookDelivery.objects.filter(status="delivered").count() == 60
