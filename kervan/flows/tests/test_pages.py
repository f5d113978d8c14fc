"""The flow pages as a marketer uses them: the list with the library, one-click start, building a flow step by step
in the builder, the trigger and settings form, publishing (a problem points at its step and nothing goes live), the
report; an analyst reads every page and changes nothing."""

import datetime as dt

import pytest

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.customers.tests.factories import make_customer, make_order
from kervan.flows.actions import flow_create, flow_publish
from kervan.flows.models import Flow, FlowRun
from kervan.flows.triggers import Entry, enroll
from kervan.messaging.actions import template_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(client, make_user):
    client.force_login(make_user("marketing", "pazarlama"))
    return client


@pytest.fixture
def template():
    content = {"en": {"subject": "Your cart", "html": '<p>Hi</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>'}}
    return template_save(
        actor=Actor.system(), name="Cart reminder", channel="email", purpose="marketing", content=content
    )


def add(client, flow, *, after="", branch="next", **fields):
    response = client.post(f"/flows/{flow.pk}/steps/new/", {"after": after, "branch": branch, **fields})
    assert response.status_code == 302, response.content.decode()[:2000]
    flow.refresh_from_db()
    return response


def test_the_list_shows_flows_and_the_library(marketer):
    flow_create(
        actor=Actor.system(),
        name="Sepet",
        trigger={"type": "event", "event": "Started Checkout", "unless": {"event": "Placed Order", "hours": 1}},
    )
    page = marketer.get("/flows/").content.decode()
    assert "Sepet" in page and "When Started Checkout happens and no Placed Order within 1 hour" in page
    assert 'data-library="abandoned_cart"' in page and "Abandoned cart" in page and "Win-back" in page
    assert 'action="/flows/library/welcome/"' in page


def test_a_library_flow_starts_with_one_click(marketer):
    response = marketer.post("/flows/library/abandoned_cart/")
    flow = Flow.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/flows/{flow.pk}/"
    assert flow.status == Flow.Status.LIVE and flow.live_version.number == 1
    page = marketer.get(f"/flows/{flow.pk}/").content.decode()
    assert "Send email: Abandoned cart: cart_1" in page and "Wait 23 hours" in page and "Wait 2 days" in page
    assert "Live version 1" in page and "unpublished changes" not in page
    assert 'id="publish"' not in page  # nothing new to publish
    assert marketer.post("/flows/library/nonsense/").status_code == 302
    assert Flow.objects.count() == 1


def test_a_flow_is_built_step_by_step(marketer, template):
    response = marketer.post("/flows/new/", {"name": "Hoş geldin"})
    flow = Flow.objects.get(name="Hoş geldin")
    assert response["Location"] == f"/flows/{flow.pk}/" and flow.status == Flow.Status.DRAFT

    add(marketer, flow, type="wait", **{"wait-hours": "4"})
    wait = flow.graph["start"]
    assert flow.graph["steps"][wait] == {"type": "wait", "hours": 4, "next": None}
    add(marketer, flow, after=wait, type="send", **{"send-template": str(template.pk)})
    send = flow.graph["steps"][wait]["next"]
    assert flow.graph["steps"][send] == {"type": "send", "template": template.pk, "channel": "email", "next": None}

    # a split after the wait: what followed (the send) is its "yes" side; its "no" side gets a tag
    add(marketer, flow, after=wait, type="split", **{"split-kind": "did", "split-event": "Placed Order"})
    split = flow.graph["steps"][wait]["next"]
    assert flow.graph["steps"][split]["yes"] == send and flow.graph["steps"][split]["no"] is None
    add(marketer, flow, after=split, branch="no", type="tag", **{"tag-add": "vip, sadık"})
    tag = flow.graph["steps"][split]["no"]
    assert flow.graph["steps"][tag] == {"type": "tag", "add": ["vip", "sadık"], "remove": [], "next": None}

    marketer.post(f"/flows/{flow.pk}/steps/{wait}/", {"wait-hours": "6.5"})
    flow.refresh_from_db()
    assert flow.graph["steps"][wait] == {"type": "wait", "hours": 6.5, "next": split}

    # a coupon first, then moved below the wait
    add(marketer, flow, type="coupon", **{"coupon-prefix": "hosgeldin"})
    coupon = flow.graph["start"]
    assert flow.graph["steps"][coupon] == {"type": "coupon", "prefix": "HOSGELDIN", "next": wait}
    marketer.post(f"/flows/{flow.pk}/steps/{coupon}/move/down/")
    flow.refresh_from_db()
    assert flow.graph["start"] == wait and flow.graph["steps"][wait]["next"] == coupon
    assert flow.graph["steps"][coupon]["next"] == split
    marketer.post(f"/flows/{flow.pk}/steps/{coupon}/move/up/")
    flow.refresh_from_db()
    assert flow.graph["start"] == coupon

    marketer.post(f"/flows/{flow.pk}/steps/{coupon}/delete/")
    flow.refresh_from_db()
    assert flow.graph["start"] == wait and coupon not in flow.graph["steps"]

    page = marketer.get(f"/flows/{flow.pk}/").content.decode()
    assert "Wait 6.5 hours" in page and "Split: did Placed Order since entering?" in page
    assert "Send email: Cart reminder" in page and "Tags: add vip, sadık" in page
    assert page.index(f'id="step-{wait}"') < page.index(f'id="step-{split}"') < page.index(f'id="step-{send}"')
    assert 'data-branch="yes"' in page and 'data-branch="no"' in page


def test_a_bad_step_is_refused_with_the_reason_and_nothing_changes(marketer):
    flow = flow_create(actor=Actor.system(), name="Boş")
    response = marketer.post(f"/flows/{flow.pk}/steps/new/", {"type": "wait", "wait-hours": "-3"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "A number from 0.01 to 8760" in page and 'data-error-field="wait-hours"' in page
    response = marketer.post(f"/flows/{flow.pk}/steps/new/", {"type": "send", "send-template": ""})
    assert response.status_code == 400 and "Choose a template that exists" in response.content.decode()
    flow.refresh_from_db()
    assert flow.graph == {"start": None, "steps": {}}


def test_the_step_form_loads_under_a_plus_with_htmx(marketer):
    flow = flow_create(
        actor=Actor.system(),
        name="F",
        graph={"start": "s1", "steps": {"s1": {"type": "wait", "hours": 3, "next": None}}},
    )
    fragment = marketer.get(f"/flows/{flow.pk}/steps/new/?after=s1&branch=next", HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<html" not in html and 'name="after" value="s1"' in html and 'data-switch="step"' in html
    edit = marketer.get(f"/flows/{flow.pk}/steps/s1/", HTTP_HX_REQUEST="true").content.decode()
    assert 'name="wait-hours" value="3"' in edit and 'name="type" value="wait"' in edit
    assert marketer.get(f"/flows/{flow.pk}/steps/nope/").status_code == 404


def test_trigger_and_settings_are_saved_from_the_side_form(marketer):
    flow = flow_create(actor=Actor.system(), name="Sepet")
    form = {
        "name": "Terk edilen sepet",
        "priority": "20",
        "trigger-type": "event",
        "t-event-event": "Started Checkout",
        "t-event-where": "currency = TRY\nitems = 2",
        "t-event-unless_event": "Placed Order",
        "t-event-unless_hours": "1",
        "filters": "",
        "exit_on": "Placed Order, Unsubscribed",
        "goal": "Placed Order",
        "goal_days": "7",
        "holdout_percent": "10",
        "reentry_days": "",
    }
    response = marketer.post(f"/flows/{flow.pk}/settings/", form)
    assert response.status_code == 302
    flow.refresh_from_db()
    assert (flow.name, flow.priority) == ("Terk edilen sepet", 20)
    assert flow.trigger == {
        "type": "event",
        "event": "Started Checkout",
        "where": [{"property": "currency", "value": "TRY"}, {"property": "items", "value": 2}],
        "unless": {"event": "Placed Order", "hours": 1},
    }
    assert flow.settings == {
        "exit_on": ["Placed Order", "Unsubscribed"],
        "goal": "Placed Order",
        "goal_days": 7,
        "holdout_percent": 10,
        "reentry_days": None,
    }
    page = marketer.get(f"/flows/{flow.pk}/").content.decode()
    assert 'value="Started Checkout"' in page and "currency = &quot;TRY&quot;" in page

    before = (flow.trigger, flow.settings)
    response = marketer.post(f"/flows/{flow.pk}/settings/", {**form, "t-event-event": "", "holdout_percent": "80"})
    assert response.status_code == 400 and 'data-error-field="t-event-event"' in response.content.decode()
    response = marketer.post(f"/flows/{flow.pk}/settings/", {**form, "holdout_percent": "80"})
    assert response.status_code == 400 and 'data-error-field="holdout_percent"' in response.content.decode()
    response = marketer.post(f"/flows/{flow.pk}/settings/", {**form, "filters": "{nope"})
    assert response.status_code == 400 and "not valid JSON" in response.content.decode()
    flow.refresh_from_db()
    assert (flow.trigger, flow.settings) == before


def test_publishing_a_broken_flow_points_at_the_step_and_nothing_goes_live(marketer, template):
    flow = flow_create(
        actor=Actor.system(),
        name="Kırık",
        trigger={"type": "event", "event": "Added to Cart"},
        graph={
            "start": "s1",
            "steps": {
                "s1": {"type": "split", "kind": "did", "event": "Placed Order", "yes": "s2", "no": None},
                "s2": {"type": "send", "template": template.pk, "next": None},
            },
        },
    )
    response = marketer.post(f"/flows/{flow.pk}/publish/")
    assert response.status_code == 400
    page = response.content.decode()
    assert "Cannot publish:" in page and "a split needs both its branches" in page
    assert 'class="flow-step kind-split has-error" id="step-s1"' in page
    flow.refresh_from_db()
    assert flow.status == Flow.Status.DRAFT and flow.live_version is None and not flow.versions.exists()

    add(marketer, flow, after="s1", branch="no", type="exit")
    response = marketer.post(f"/flows/{flow.pk}/publish/")
    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.status == Flow.Status.LIVE and flow.live_version.number == 1

    add(marketer, flow, after="s2", type="wait", **{"wait-hours": "2"})
    page = marketer.get(f"/flows/{flow.pk}/").content.decode()
    assert "The draft has unpublished changes." in page and "Live version 1" in page and 'id="publish"' in page
    marketer.post(f"/flows/{flow.pk}/status/paused/")
    flow.refresh_from_db()
    assert flow.status == Flow.Status.PAUSED
    assert 'id="resume"' in marketer.get(f"/flows/{flow.pk}/").content.decode()
    marketer.post(f"/flows/{flow.pk}/status/live/")
    flow.refresh_from_db()
    assert flow.status == Flow.Status.LIVE


def test_a_trigger_problem_on_publishing_marks_the_side_form(marketer):
    flow = flow_create(
        actor=Actor.system(),
        name="Tetiksiz",
        trigger={"type": "event", "event": ""},
        graph={"start": "s1", "steps": {"s1": {"type": "wait", "hours": 3, "next": None}}},
    )
    response = marketer.post(f"/flows/{flow.pk}/publish/")
    page = response.content.decode()
    assert response.status_code == 400 and "Cannot publish:" in page
    assert 'class="flow-trigger has-error"' in page and 'data-error-field="t-event-event"' in page
    flow.refresh_from_db()
    assert flow.live_version is None


def test_the_report_says_when_the_uplift_is_not_yet_significant(marketer):
    marketer.post("/flows/library/welcome/")
    flow = Flow.objects.get()
    page = marketer.get(f"/flows/{flow.pk}/report/").content.decode()
    assert "Attributed revenue" in page and 'id="total-revenue">0.00<' in page
    assert "not yet significant" in page


def test_the_report_shows_a_significant_uplift_against_the_holdout(marketer):
    flow = flow_create(
        actor=Actor.system(),
        name="Kazan",
        trigger={"type": "signup"},
        graph={"start": "s1", "steps": {"s1": {"type": "wait", "hours": 3, "next": None}}},
        settings={"goal": "Placed Order", "goal_days": 7, "holdout_percent": 50},
    )
    flow_publish(actor=Actor.system(), flow=flow)
    entered = clock.now() - dt.timedelta(days=10)
    customers = [make_customer() for _ in range(60)]
    entries = [Entry(customer_id=c.pk, key="signup", context={}, at=entered) for c in customers]
    assert enroll(flow.live_version, entries, now=entered) == 60
    treated = list(FlowRun.objects.exclude(status=FlowRun.Status.HOLDOUT).values_list("customer_id", flat=True))
    assert 10 < len(treated) < 50
    for customer in customers:
        if customer.pk in treated[::4]:
            continue  # one in four of the treated does not order; nobody in the holdout does
        if customer.pk in treated:
            make_order(customer, placed_at=entered + dt.timedelta(days=1))
    page = marketer.get(f"/flows/{flow.pk}/report/").content.decode()
    assert 'data-group="treatment"' in page and "percentage points" in page
    assert "the difference is significant (95%)" in page and "not yet significant" not in page


def test_an_analyst_reads_every_page_and_changes_nothing(client, make_user, template):
    flow = flow_create(
        actor=Actor.system(),
        name="Okunur",
        trigger={"type": "signup"},
        graph={"start": "s1", "steps": {"s1": {"type": "wait", "hours": 3, "next": None}}},
    )
    client.force_login(make_user("analyst", "analist"))
    for url in ("/flows/", f"/flows/{flow.pk}/", f"/flows/{flow.pk}/report/"):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/flows/{flow.pk}/").content.decode()
    assert 'id="publish"' not in page and "flow-plus" not in page
    assert "Start</button>" not in client.get("/flows/").content.decode()
    before = Flow.objects.values().get(pk=flow.pk)
    refused = [
        ("/flows/new/", {"name": "Yeni"}),
        ("/flows/library/welcome/", {}),
        (f"/flows/{flow.pk}/steps/new/", {"type": "wait", "wait-hours": "1"}),
        (f"/flows/{flow.pk}/steps/s1/", {"wait-hours": "9"}),
        (f"/flows/{flow.pk}/steps/s1/delete/", {}),
        (f"/flows/{flow.pk}/steps/s1/move/down/", {}),
        (f"/flows/{flow.pk}/settings/", {"name": "X", "priority": "1"}),
        (f"/flows/{flow.pk}/publish/", {}),
        (f"/flows/{flow.pk}/status/paused/", {}),
    ]
    for url, data in refused:
        assert client.post(url, data).status_code == 403, url
    assert Flow.objects.count() == 1 and Flow.objects.values().get(pk=flow.pk) == before
    assert not flow.versions.exists()


def test_a_role_without_flows_gets_403(client, make_user):
    client.force_login(make_user("support", "destek"))
    assert client.get("/flows/").status_code == 403
