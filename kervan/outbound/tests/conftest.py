import pytest

from kervan.accounts.actors import Actor
from kervan.core.testing import LoopbackSite
from kervan.outbound import actions
from kervan.outbound.registrations import BUILT_IN_EVENTS
from kervan.outbound.sending import deliver_due

# The every-page test's fixtures (english_words, looked_up), for the outbound pages it cannot reach (they need ids).
from kervan.workspace.tests.test_every_page_translated import english_words, looked_up  # noqa: F401

ALL_EVENTS = [name for name, _label in BUILT_IN_EVENTS]


@pytest.fixture
def receiver():
    """A real HTTP server on loopback that records every POST (kervan.core.testing.LoopbackSite); queue answers in
    receiver.once["/hook"] (status, body[, headers]) for it to fail first."""
    with LoopbackSite() as site:
        yield site


@pytest.fixture
def endpoint(db, receiver):
    def make(events=None, path="/hook", **extra):
        return actions.endpoint_create(
            actor=Actor.system(), url=f"{receiver.url}{path}", events=events or ALL_EVENTS, **extra
        )

    return make


def drain(limit: int = 50) -> dict[str, int]:
    """One worker pass, as the schedule runs it."""
    return deliver_due(worker="test-worker", limit=limit)
