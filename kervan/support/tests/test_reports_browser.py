"""A real browser: the support reports page draws every chart with Chart.js from Kervan's own static files, with no
script error and nothing the Content Security Policy refuses; the period picker changes the figures."""

import datetime as dt

import pytest

from kervan.accounts.models import User
from kervan.core import clock
from kervan.core.testing import page_problems
from kervan.support.models import ChatConversation, CsatSurvey, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_reports_page_draws_its_charts(page, live_server):
    problems = page_problems(page)
    agent = User.objects.create_user("destek", password="kervan-browser-pw", role="support", language="en")
    now = clock.now()
    for days, channel in ((1, "email"), (2, "chat"), (3, "email"), (20, "web_form")):
        created = now - dt.timedelta(days=days)
        ticket = Ticket.objects.create(
            subject="Kargo", channel=channel, status="solved", assignee=agent, created_at=created,
            updated_at=created, first_responded_at=created + dt.timedelta(hours=1),
            solved_at=created + dt.timedelta(hours=5), first_response_due_at=created + dt.timedelta(hours=4),
            resolution_due_at=created + dt.timedelta(hours=24),
        )  # fmt: skip
        CsatSurvey.objects.create(
            ticket=ticket, agent=agent, email="m@example.org", due_at=created, created_at=created, score=5,
            answered_at=created + dt.timedelta(hours=6),
        )  # fmt: skip
    ChatConversation.objects.create(
        visitor_key="k1", started_at=now - dt.timedelta(days=1), last_message_at=now,
        first_agent_message_at=now - dt.timedelta(days=1) + dt.timedelta(seconds=45),
    )  # fmt: skip

    page.goto("/accounts/login/")
    page.fill("input[name=username]", "destek")
    page.fill("input[name=password]", "kervan-browser-pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/**")
    page.goto("/support/tickets/")
    page.click("#support-reports-link")
    page.wait_for_url("**/support/reports/")
    page.wait_for_function(
        "() => window.Chart && [...document.querySelectorAll('canvas[data-chart]')].every(c => Chart.getChart(c))"
    )
    charts = page.evaluate(
        """() => [...document.querySelectorAll('canvas[data-chart]')].map(c => {
            const chart = Chart.getChart(c);
            return {id: c.dataset.chart, width: c.width, datasets: chart.data.datasets.length};
        })"""
    )
    assert len(charts) == 8 and all(c["width"] > 100 and c["datasets"] >= 1 for c in charts), charts
    assert page.locator('#reports-volume tr[data-channel="total"] .num').inner_text() == "4"
    page.select_option("select[name=period]", "7d")
    page.click("#reports-period button[type=submit]")
    page.wait_for_url("**/support/reports/?period=7d*")
    assert page.locator('#reports-volume tr[data-channel="total"] .num').inner_text() == "3"
    assert page.locator('#reports-chat tr[data-row="chats"] td').nth(2).inner_text() == "0.8"  # 45 s
    assert problems == []
