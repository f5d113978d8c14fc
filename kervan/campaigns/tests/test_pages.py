"""The staff pages, as a marketer uses them: a block-built template, a campaign to a list, the real audience, send,
the report; bad input refused with the reason and nothing saved; roles that may not write change nothing."""

import json

import pytest

from kervan.accounts.actors import Actor
from kervan.campaigns.actions import campaigns_advance
from kervan.campaigns.models import Campaign
from kervan.customers.consent import consent_record
from kervan.customers.tests.factories import make_customer
from kervan.messaging.models import Message, Suppression, Template
from kervan.messaging.sending import deliver_due
from kervan.segments.actions import segment_create, static_list_add

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _worker_runs_when_the_test_says(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def listed():
    customers = [make_customer(first_name=name) for name in ("Ayşe", "Mehmet", "Zeynep")]
    for c in customers[:2]:
        consent_record(actor=Actor.system(), customer=c, channel="email", status="granted")
    segment = segment_create(actor=Actor.system(), name="VIP", kind="static")
    static_list_add(actor=Actor.system(), segment=segment, customer_ids=[c.pk for c in customers])
    return segment


BLOCKS = {
    "tr": [
        {"type": "header", "text": "Dükkan"},
        {"type": "text", "text": "Merhaba {{ customer.first_name }},\n\nyeni sezon geldi."},
        {"type": "button", "label": "İncele", "href": "https://shop.example.com/yeni"},
        {"type": "coupon", "prefix": "yeni", "text": "Size özel kod"},
        {"type": "footer", "text": "Dükkan A.Ş.", "unsubscribe": "Abonelikten çık", "preferences": "Tercihler"},
    ]
}


def test_a_marketer_builds_a_template_from_blocks_sends_a_campaign_and_reads_the_report(
    client, make_user, listed, smtp
):
    client.force_login(make_user("marketing", "pazarlama"))
    response = client.post(
        "/messaging/templates/new/",
        {
            "name": "Yeni sezon",
            "channel": "email",
            "purpose": "marketing",
            "editor": "blocks",
            "tr_subject": "Merhaba {{ customer.first_name }}",
            "blocks_json": json.dumps(BLOCKS),
        },
    )
    assert response.status_code == 302
    template = Template.objects.get(name="Yeni sezon")
    assert template.blocks == BLOCKS
    assert "{{ coupon('YENI') }}" in template.content["tr"]["html"]

    response = client.post(
        "/campaigns/new/", {"name": "Sezon", "template": template.pk, "segments": [listed.pk], "attribution_days": 5}
    )
    campaign = Campaign.objects.get(name="Sezon")
    assert response["Location"] == f"/campaigns/{campaign.pk}/"
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert '<strong id="reachable">2</strong>' in page
    assert 'data-reason="no_consent"' in page

    client.post(f"/campaigns/{campaign.pk}/schedule/", {"send_at": ""})
    assert campaigns_advance() == 1  # what the scheduler does every few seconds: the campaign starts
    assert deliver_due(worker="w") == {"sent": 2, "skipped": 1}
    html = smtp.received[0].message.get_body(("html",)).get_content()
    assert "YENI-" in html and "Dükkan A.Ş." in html
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert '<td class="num" id="sent">2</td>' in page


def test_bad_input_is_refused_with_the_reason_and_nothing_is_saved(admin_client, listed):
    response = admin_client.post(
        "/messaging/templates/new/",
        {"name": "Kırık", "channel": "email", "purpose": "marketing", "editor": "html", "tr_html": "{% if %}"},
    )
    assert response.status_code == 400 and "line 1" in response.content.decode()
    assert not Template.objects.exists()
    response = admin_client.post(
        "/messaging/templates/new/",
        {
            "name": "Link",
            "channel": "email",
            "purpose": "marketing",
            "editor": "blocks",
            "blocks_json": json.dumps({"tr": [{"type": "button", "label": "x", "href": "javascript:alert(1)"}]}),
        },
    )
    assert response.status_code == 400 and not Template.objects.exists()
    response = admin_client.post("/campaigns/new/", {"name": "Boş", "template": "", "segments": [listed.pk]})
    assert response.status_code == 400 and not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("role", "templates", "campaigns", "may_write"),
    [
        ("marketing", 200, 200, True),
        ("analyst", 200, 200, False),
        ("support", 200, 403, False),
        ("sales", 403, 403, False),
        ("readonly", 403, 403, False),
    ],
)
def test_roles(client, make_user, role, templates, campaigns, may_write):
    client.force_login(make_user(role, f"user-{role}"))
    assert client.get("/messaging/templates/").status_code == templates
    assert client.get("/campaigns/").status_code == campaigns
    response = client.post(
        "/messaging/settings/", {"form": "suppress", "channel": "email", "address": "x@example.com", "reason": "manual"}
    )
    assert Suppression.objects.exists() == may_write
    if not may_write:
        assert response.status_code == 403
    assert not Message.objects.exists()


def test_the_policy_form_refuses_nonsense_and_keeps_the_old_values(admin_client):
    admin_client.post("/messaging/settings/", {"form": "policy", "email_cap": "2", "email_cap_hours": "abc"})
    from kervan.messaging.policy import current_policy

    policy = current_policy()
    assert (policy.email_cap, policy.email_cap_hours) == (1, 16)
    admin_client.post(
        "/messaging/settings/",
        {
            "form": "policy",
            "email_cap": "2",
            "email_cap_hours": "24",
            "sms_cap": "1",
            "sms_cap_hours": "24",
            "push_cap": "0",
            "push_cap_hours": "24",
            "quiet_start": "22:00",
            "quiet_end": "08:30",
        },
    )
    policy = current_policy()
    assert (policy.email_cap, policy.email_cap_hours, str(policy.quiet_end)) == (2, 24, "08:30:00")
