"""A real browser: a marketer builds an email from blocks, previews it as a customer, counts an SMS's parts, and
sends a campaign to a list after seeing who it reaches."""

import pytest
from playwright.sync_api import expect

from kervan.accounts.actors import Actor
from kervan.accounts.models import User
from kervan.customers.consent import consent_record
from kervan.customers.tests.factories import make_customer
from kervan.messaging.models import Message, Template
from kervan.segments.actions import segment_create, static_list_add

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _worker_runs_when_the_test_says(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def test_build_an_email_from_blocks_preview_it_and_send_a_campaign(page):
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    User.objects.create_user("pazarlama", password="kervan-browser-pw", role="marketing", language="en")
    ayse = make_customer(first_name="Ayşe", email="ayse@example.com")
    consent_record(actor=Actor.system(), customer=ayse, channel="email", status="granted")
    other = make_customer(first_name="Veli", email="veli@example.com")
    vip = segment_create(actor=Actor.system(), name="VIP", kind="static")
    static_list_add(actor=Actor.system(), segment=vip, customer_ids=[ayse.pk, other.pk])

    page.goto("/messaging/templates/new/")
    page.fill("input[name=username]", "pazarlama")
    page.fill("input[name=password]", "kervan-browser-pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/messaging/templates/new/")

    page.fill("input[name=name]", "Yeni sezon")
    page.select_option("select[name=editor]", "blocks")
    turkish = page.locator("fieldset[data-language=tr]")
    turkish.locator("input[name=tr_subject]").fill("Merhaba {{ customer.first_name }}")
    expect(turkish.locator("textarea[name=tr_html]")).to_be_hidden()  # blocks, not raw HTML
    adder = turkish.locator("[data-blocks-for=tr] select")
    adder.select_option("text")
    turkish.locator("[data-add-block=tr]").click()
    turkish.locator("fieldset[data-block=text] textarea").fill("Merhaba {{ customer.first_name }}, yeni sezon geldi.")
    adder = turkish.locator("[data-blocks-for=tr] select")
    adder.select_option("button")
    turkish.locator("[data-add-block=tr]").click()
    button = turkish.locator("fieldset[data-block=button]")
    button.locator("input").nth(0).fill("İncele")
    button.locator("input").nth(1).fill("https://shop.example.com/yeni")
    page.click("#template-form button[type=submit]")
    page.wait_for_url("**/messaging/templates/*/")
    template = Template.objects.get(name="Yeni sezon")
    assert [b["type"] for b in template.blocks["tr"]] == ["text", "button"]

    page.fill("form[hx-get] input[name=customer]", str(ayse.pk))
    page.click("form[hx-get] button[type=submit]")
    expect(page.locator("#preview-subject")).to_have_text("Merhaba Ayşe")
    frame = page.frame_locator("iframe.preview-frame")
    expect(frame.locator("body")).to_contain_text("Merhaba Ayşe, yeni sezon geldi.")

    page.goto("/messaging/templates/new/")
    page.select_option("select[name=channel]", "sms")
    sms = page.locator("fieldset[data-language=tr] textarea[name=tr_text]")
    sms.fill("a" * 161)
    counter = page.locator("fieldset[data-language=tr] [data-sms-counter]")
    expect(counter).to_contain_text("2 SMS")
    sms.fill("Şık ürünler")  # a Turkish letter outside GSM-7: the whole message counts as UCS-2
    expect(counter).to_contain_text("UCS-2")

    page.goto("/campaigns/new/")
    page.fill("input[name=name]", "Sezon açılışı")
    page.select_option("select[name=template]", str(template.pk))
    page.select_option("select[name=segments]", [str(vip.pk)])
    page.click("#campaign-form button[type=submit]")
    page.wait_for_url("**/campaigns/*/")
    expect(page.locator("#reachable")).to_have_text("1")
    expect(page.locator("li[data-reason=no_consent]")).to_contain_text("1")
    page.click("#audience button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Scheduled")
    assert not Message.objects.exists()  # queued when the scheduler starts it, not by the page
    assert problems == []
