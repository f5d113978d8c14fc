"""A real flow worker killed mid-batch (SIGKILL) and another taking over: every run's messages are queued exactly once,
none is lost, and an outside call (a webhook) is never made twice for one run (issue 13, "Engine").

The workers are `manage.py flows_run` processes on the test's own database; the flow's webhook goes to an HTTP
server in this process that answers slowly, so the kill lands while a worker is in the middle of a batch."""

import collections
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings

from kervan.accounts.actors import Actor
from kervan.core.testing import LoopbackSite, worker_database_url
from kervan.customers.models import Customer
from kervan.flows.actions import flow_create, flow_publish
from kervan.flows.models import FlowRun
from kervan.flows.triggers import Entry, enroll
from kervan.messaging.actions import template_save
from kervan.messaging.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = 200
KILL_AFTER = 40  # webhook calls
CONTENT = {"tr": {"subject": "Merhaba", "html": "<p>Merhaba</p>"}}


@pytest.fixture
def slow_hook():
    """A webhook receiver that answers slowly, so the kill lands in the middle of a batch."""
    with LoopbackSite(delay=0.02) as site:
        yield site


def calls(site: LoopbackSite) -> list[int]:
    return [json.loads(body)["run"] for _path, _headers, body in list(site.posted)]


def _worker(*extra: str) -> list[str]:
    manage = str(django_settings.BASE_DIR / "manage.py")
    return [sys.executable, manage, "flows_run", "--no-events", "--batch", "20", *extra]


def test_a_killed_flow_worker_sends_nothing_twice_and_loses_nothing(slow_hook):
    system = Actor.system()
    first = template_save(actor=system, name="Bir", channel="email", purpose="marketing", content=CONTENT)
    second = template_save(actor=system, name="İki", channel="email", purpose="transactional", content=CONTENT)
    flow = flow_create(
        actor=system,
        name="Akış",
        trigger={"type": "event", "event": "Started Checkout"},
        graph={
            "start": "s1",
            "steps": {
                "s1": {"type": "send", "template": first.pk, "next": "s2"},
                "s2": {"type": "webhook", "url": f"{slow_hook.url}/hook", "next": "s3"},
                "s3": {"type": "send", "template": second.pk, "next": None},
            },
        },
    )
    flow_publish(actor=system, flow=flow)
    flow.refresh_from_db()
    customers = Customer.objects.bulk_create(
        Customer(first_name=f"K{n}", email=f"k{n}@example.com") for n in range(RUNS)
    )
    enroll(flow.live_version, [Entry(c.pk, f"k:{c.pk}", {}) for c in customers])
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": worker_database_url()}

    worker = subprocess.Popen(_worker(), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(calls(slow_hook)) < KILL_AFTER:
        if worker.poll() is not None:
            pytest.fail(f"the worker ended before it was killed:\n{worker.stdout.read().decode()}")
        assert time.monotonic() < deadline, f"only {len(calls(slow_hook))} webhook calls in 60 s"
        time.sleep(0.005)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    worker.stdout.close()
    assert FlowRun.objects.filter(status="active").exists(), "the kill came too late to test anything"

    # Its runs stay leased until the lease ends (2 minutes); the test moves that end into the past instead of waiting.
    FlowRun.objects.exclude(leased_until=None).update(leased_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    for _ in range(RUNS):
        if not FlowRun.objects.filter(status="active").exists():
            break
        done = subprocess.run(_worker("--once"), env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    assert set(FlowRun.objects.values_list("status", flat=True)) == {"completed"}

    per_step = collections.Counter(
        (m.customer_id, m.origin.split(":")[2]) for m in Message.objects.filter(origin__startswith=f"flow:{flow.pk}:")
    )
    assert [key for key, n in per_step.items() if n > 1] == [], "a message was queued twice"
    assert len(per_step) == 2 * RUNS, "a message was lost"
    made = collections.Counter(calls(slow_hook))
    assert [run for run, n in made.items() if n > 1] == [], "a webhook was called twice for one run"
