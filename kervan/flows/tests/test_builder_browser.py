"""A real browser: a marketer builds a flow in the builder (an event trigger, a wait, a send), publishes it and sees it
live; a customer who enters shows in the step's counts; the pages fit a phone."""

import pytest
from playwright.sync_api import expect

from kervan.accounts.actors import Actor
from kervan.accounts.models import User
from kervan.customers.tests.factories import make_customer
from kervan.flows.models import Flow, FlowRun
from kervan.flows.triggers import Entry, enroll
from kervan.messaging.actions import template_save

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _worker_runs_when_the_test_says(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def fits_the_screen(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width}px wide"


def test_build_a_flow_publish_it_and_see_a_customer_in_it(page):
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    User.objects.create_user("pazarlama", password="kervan-browser-pw", role="marketing", language="en")
    content = {"en": {"subject": "Your cart", "html": '<p>Hi</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>'}}
    template = template_save(
        actor=Actor.system(), name="Cart reminder", channel="email", purpose="marketing", content=content
    )

    page.goto("/flows/")
    page.fill("input[name=username]", "pazarlama")
    page.fill("input[name=password]", "kervan-browser-pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/flows/")
    expect(page.locator("[data-library=abandoned_cart]")).to_contain_text("Abandoned cart")

    page.fill("#new-flow input[name=name]", "Sepet hatırlatma")
    page.click("#new-flow button[type=submit]")
    page.wait_for_url("**/flows/*/")
    flow = Flow.objects.get(name="Sepet hatırlatma")

    # the trigger: only the chosen kind's fields show
    settings = page.locator("#settings")
    expect(settings.locator("input[name=t-event-event]")).to_be_hidden()
    settings.locator("select[name=trigger-type]").select_option("event")
    settings.locator("input[name=t-event-event]").fill("Added to Cart")
    expect(settings.locator("select[name=t-order-status]")).to_be_hidden()
    settings.locator("button[type=submit]").click()
    expect(page.locator("#trigger-words")).to_contain_text("When Added to Cart happens")

    # a wait, added under the first +
    page.click("a.flow-plus[data-add-after='']")
    form = page.locator("#slot-start-next form")
    form.locator("select[name=type]").select_option("wait")
    expect(form.locator("input[name=send-template]")).to_have_count(0)
    expect(form.locator("select[name=send-template]")).to_be_hidden()
    form.locator("input[name=wait-hours]").fill("2")
    form.locator("button[type=submit]").click()
    wait_card = page.locator(".flow-step.kind-wait")
    expect(wait_card).to_contain_text("Wait 2 hours")
    wait_id = wait_card.get_attribute("data-step")

    # a send, under the + after the wait
    page.click(f"a.flow-plus[data-add-after='{wait_id}']")
    form = page.locator(f"#slot-{wait_id}-next form")
    form.locator("select[name=type]").select_option("send")
    form.locator("select[name=send-template]").select_option(str(template.pk))
    form.locator("button[type=submit]").click()
    expect(page.locator(".flow-step.kind-send")).to_contain_text("Send email: Cart reminder")

    page.click("#publish button")
    expect(page.locator("#flow-status")).to_have_text("Live")
    expect(page.locator("#version")).to_contain_text("Live version 1")
    flow.refresh_from_db()
    assert flow.status == Flow.Status.LIVE
    assert flow.live_version.graph["steps"][wait_id] == {
        "type": "wait",
        "hours": 2,
        "next": flow.graph["steps"][wait_id]["next"],
    }

    customer = make_customer(first_name="Ayşe", email="ayse@example.com")
    assert enroll(flow.live_version, [Entry(customer_id=customer.pk, key="browser", context={})]) == 1
    assert FlowRun.objects.get().step == wait_id
    page.reload()
    expect(wait_card.locator("[data-count=waiting]")).to_have_text("1")
    page.goto("/flows/")
    expect(page.locator(f"tr[data-flow='{flow.pk}']")).to_contain_text("Live")

    page.set_viewport_size({"width": 390, "height": 844})
    for url in ("/flows/", f"/flows/{flow.pk}/", f"/flows/{flow.pk}/report/", f"/flows/{flow.pk}/steps/new/"):
        page.goto(url)
        fits_the_screen(page)
    assert problems == []


def test_a_library_flow_with_branches_fits_a_phone(page):
    User.objects.create_user("pazarlama", password="kervan-browser-pw", role="marketing", language="en")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/flows/")
    page.fill("input[name=username]", "pazarlama")
    page.fill("input[name=password]", "kervan-browser-pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/flows/")
    fits_the_screen(page)
    page.click("[data-library=post_purchase] button")
    page.wait_for_url("**/flows/*/")
    expect(page.locator("#flow-status")).to_have_text("Live")
    expect(page.locator("[data-branch=no] .flow-goto")).to_contain_text("goes to step")
    fits_the_screen(page)
