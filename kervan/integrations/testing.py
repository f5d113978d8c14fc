"""Test helpers shared by the platform folders' tests: a connection without the credential check (the check is
tested on its own against a loopback API), a delivery through the real intake address, and the worker run until
nothing is due. The platforms' real payloads are read from ../shared/data/webhooks (never copied here)."""

import pytest
from django.test import Client
from django.urls import reverse

from kervan.core.models import Source
from kervan.core.testing import SHARED_DATA
from kervan.integrations.actions import SOURCE_KINDS
from kervan.integrations.models import Connection
from kervan.integrations.worker import deliveries_process

WEBHOOK_SAMPLES = SHARED_DATA / "webhooks"
needs_samples = pytest.mark.skipif(
    not WEBHOOK_SAMPLES.is_dir(), reason=f"the platforms' sample payloads are not at {WEBHOOK_SAMPLES} (../shared/data)"
)


def sample(path: str) -> bytes:
    """The bytes of ../shared/data/webhooks/<path>, exactly as the platform published them."""
    return (WEBHOOK_SAMPLES / path).read_bytes()


def connection_make(
    platform: str, *, name: str = "Test shop", base_url: str = "http://127.0.0.1:9", credentials: dict | None = None
) -> Connection:
    source = Source.objects.create(
        key=f"{platform}-{Source.objects.count() + 1}", name=name, kind=SOURCE_KINDS[platform]
    )
    connection = Connection(platform=platform, name=name, base_url=base_url, source=source)
    connection.credentials = credentials or {}
    connection.save()
    return connection


def deliver(connection: Connection, body: bytes, headers: dict[str, str], client: Client | None = None):
    """POST `body` to the connection's webhook address as the platform would (headers by their HTTP names)."""
    client = client or Client()
    extra = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    return client.post(
        reverse("integrations:webhook", args=[connection.token]), data=body, content_type="application/json", **extra
    )


def process_all() -> int:
    """Run the delivery worker until nothing is due; returns how many deliveries it took."""
    total = 0
    while taken := deliveries_process(worker="test-worker"):
        total += taken
    return total
