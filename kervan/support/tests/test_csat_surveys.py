"""CSAT: a survey queued when a ticket is solved (one at a time, only with an email), emailed when due through a
real SMTP server with five signed one-click links, answered on the public page (one click, idempotent, changed
within 7 days, closed after), a comment form guarded by the signed address and the Origin, rate-limited; the answer
on the ticket page, the Customer 360 timeline, as an event, in csat_summary and through a customer merge."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.accounts.testing import login_client
from kervan.customer360.timeline import customer_timeline, timeline_present_many
from kervan.customers.tests.factories import make_customer
from kervan.events.models import Event
from kervan.support import csat, ticket_actions
from kervan.support.models import CsatSurvey, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def solved(monday, make_agent):
    """A ticket of Zeynep's, assigned to Mehmet, solved now."""
    agent = make_agent("mehmet", "online")
    customer = make_customer(email="zeynep@example.com", first_name="Zeynep")
    ticket = ticket_actions.ticket_create(actor=Actor.system(), subject="Kargo", body="Nerede?", customer=customer)
    ticket_actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="solved")
    return ticket, agent, customer


def answer_url(survey, score=None):
    return csat.survey_url(survey, score).removeprefix("https://crm.example.com")


def test_solving_queues_one_survey_with_the_delay(solved, settings):
    ticket, agent, customer = solved
    survey = CsatSurvey.objects.get()
    assert (survey.ticket, survey.agent, survey.customer, survey.email) == (ticket, agent, customer, customer.email)
    assert survey.due_at == ticket.solved_at + dt.timedelta(minutes=60)
    ticket_actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="open")
    ticket_actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="solved")
    assert CsatSurvey.objects.count() == 1  # one still waiting to be sent: not a second


def test_bulk_solve_queues_surveys_and_no_email_means_no_survey(monday, settings):
    settings.KERVAN_CSAT_DELAY_MINUTES = 5
    first = ticket_actions.ticket_create(actor=Actor.system(), subject="a", body="b", requester_email="a@example.org")
    second = ticket_actions.ticket_create(actor=Actor.system(), subject="a", body="b", requester_email="b@example.org")
    Ticket.objects.filter(pk=second.pk).update(requester_email="")  # erased by a privacy request
    assert ticket_actions.tickets_bulk(actor=Actor.system(), ticket_ids=[first.pk, second.pk], status="solved") == 2
    survey = CsatSurvey.objects.get()
    assert survey.ticket == first and survey.due_at - monday.now() == dt.timedelta(minutes=5)


def test_due_surveys_are_emailed_once_with_five_links(solved, smtp):
    ticket, _agent, _customer = solved
    assert csat.csat_send_due() == {}  # not due yet
    solved_clock = ticket.solved_at
    from kervan.core import clock

    clock.advance(dt.timedelta(minutes=61))
    assert csat.csat_send_due() == {"sent": 1}
    assert csat.csat_send_due() == {}
    (mail,) = smtp.to("zeynep@example.com")
    text = mail.message.get_body(preferencelist=("plain",)).get_content()
    links = re.findall(r"https://crm\.example\.com/help/csat/[^/\s]+/\?score=(\d)", text)
    assert links == ["1", "2", "3", "4", "5"]
    assert ticket.number in mail.message["Subject"]
    survey = CsatSurvey.objects.get()
    assert survey.sent_at is not None and survey.sent_at > solved_clock


def test_english_survey_and_a_reopened_ticket_is_not_surveyed(solved, smtp):
    ticket, _agent, _customer = solved
    CsatSurvey.objects.update(language="en")
    from kervan.core import clock

    clock.advance(dt.timedelta(minutes=61))
    assert csat.csat_send_due() == {"sent": 1}
    (mail,) = smtp.to("zeynep@example.com")
    assert mail.message["Subject"].startswith("How did we do?")
    assert "Very happy" in mail.message.get_body(preferencelist=("plain",)).get_content()
    ticket_actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="open")
    ticket_actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="solved")  # a new survey
    ticket_actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="open")
    clock.advance(dt.timedelta(minutes=61))
    assert csat.csat_send_due() == {"dropped": 1}
    assert CsatSurvey.objects.count() == 1


def test_an_smtp_refusal_gives_up_and_a_down_server_retries(solved, smtp, settings):
    from kervan.core import clock

    smtp.refuse["zeynep@example.com"] = "550 No such user"
    clock.advance(dt.timedelta(minutes=61))
    assert csat.csat_send_due() == {"failed": 1}
    clock.advance(dt.timedelta(days=1))
    assert csat.csat_send_due() == {}
    survey = CsatSurvey.objects.get()
    assert (survey.sent_at, survey.due_at, survey.attempts) == (None, None, 1)  # given up at once, never due again
    ticket, _agent, _customer = solved
    ticket_actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="open")
    ticket_actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="solved")
    settings.EMAIL_PORT = 1  # nothing listens: retryable
    clock.advance(dt.timedelta(minutes=61))
    assert csat.csat_send_due() == {"retry": 1}
    retry = CsatSurvey.objects.filter(sent_at__isnull=True).exclude(pk=survey.pk).get()
    assert retry.due_at > clock.now()


def test_one_click_records_changes_within_a_week_then_closes(solved, client, smtp):
    ticket, agent, customer = solved
    survey = CsatSurvey.objects.get()
    with translation.override("en"):
        page = client.get(answer_url(survey, 5))
    assert page.status_code == 200 and "csat-comment" in page.content.decode()
    assert "Set-Cookie" not in page.headers and "no-store" in page.headers["Cache-Control"]
    survey.refresh_from_db()
    assert (survey.score, survey.answered_at) == (5, survey.answered_at) and survey.answered_at
    first_at = survey.answered_at
    assert client.get(answer_url(survey, 5)).status_code == 200  # the same click again: nothing changes
    from kervan.core import clock

    clock.advance(dt.timedelta(days=6))
    client.get(answer_url(survey, 2))
    survey.refresh_from_db()
    assert (survey.score, survey.answered_at) == (2, first_at)
    clock.advance(dt.timedelta(days=2))
    closed = client.get(answer_url(survey, 4))
    assert closed.status_code == 409
    survey.refresh_from_db()
    assert survey.score == 2
    assert Event.objects.filter(customer=customer, name="Rated Support").count() == 1


def test_a_bad_token_or_score_changes_nothing(solved, client):
    survey = CsatSurvey.objects.get()
    token = csat.survey_token(survey)
    assert client.get(f"/help/csat/{token}x/?score=5").status_code == 404
    assert client.get("/help/csat/1/?score=5").status_code == 404
    assert client.get(answer_url(survey, 9)).status_code == 400
    assert client.get(answer_url(survey) + "?score=abc").status_code == 400
    survey.refresh_from_db()
    assert survey.score is None and survey.answered_at is None


def test_the_comment_form_posts_with_the_token_and_checks_the_origin(solved, client):
    survey = CsatSurvey.objects.get()
    client.get(answer_url(survey, 4))
    foreign = client.post(answer_url(survey), {"comment": "spam"}, HTTP_ORIGIN="https://evil.example")
    assert foreign.status_code == 403
    sent = client.post(answer_url(survey), {"comment": "Hızlı ve nazik."}, HTTP_ORIGIN="http://testserver")
    assert sent.status_code == 302 and sent["Location"].endswith("?saved=1")
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (4, "Hızlı ve nazik.")
    with translation.override("en"):
        assert "csat-saved" in client.get(sent["Location"]).content.decode()


def test_answers_are_rate_limited_per_address(solved, client, settings):
    settings.KERVAN_HELP_LIMITS = {"csat": (2, 3600)}
    survey = CsatSurvey.objects.get()
    assert client.get(answer_url(survey, 3)).status_code == 200
    assert client.get(answer_url(survey, 4)).status_code == 200
    limited = client.get(answer_url(survey, 5))
    assert limited.status_code == 429 and limited["Retry-After"]
    survey.refresh_from_db()
    assert survey.score == 4


def test_the_answer_shows_on_the_ticket_the_timeline_and_the_summary(solved, client, admin_user):
    ticket, agent, customer = solved
    survey = CsatSurvey.objects.get()
    client.get(answer_url(survey, 4))
    csat.csat_answer(survey=CsatSurvey.objects.get(), score=4, comment="Teşekkürler")
    with translation.override("en"):
        page = login_client(admin_user).get(f"/support/tickets/{ticket.pk}/").content.decode()
    assert 'id="csat-answers"' in page and "4/5" in page and "Teşekkürler" in page
    items, _cursor = customer_timeline(actor=Actor.for_user(admin_user), customer_id=customer.pk)
    with translation.override("en"):
        shown = [(item.kind, entry["title"]) for item, entry in zip(items, timeline_present_many(items), strict=True)]
    assert ("csat", f"Rated support on ticket {ticket.number}: 4/5 (Happy)") in shown
    assert not any(kind == "event" and "Rated Support" in title for kind, title in shown)  # shown once
    from kervan.core import clock

    now = clock.now()
    summary = csat.csat_summary(start=now - dt.timedelta(days=1), end=now + dt.timedelta(days=1))
    assert summary["answered"] == 1 and summary["average"] == Decimal("4.00") and summary["satisfied_pct"] == 100.0
    assert summary["by_agent"] == [
        {
            "agent_id": agent.pk,
            "agent_name": "mehmet",
            "answered": 1,
            "average": Decimal("4.00"),
            "satisfied_pct": 100.0,
        }
    ]
    empty = csat.csat_summary(start=now - dt.timedelta(days=9), end=now - dt.timedelta(days=8))
    assert empty == {"answered": 0, "average": None, "satisfied_pct": None, "by_agent": []}


def test_a_customer_merge_moves_the_surveys(solved):
    from kervan.customers.actions import customer_merge

    _ticket, _agent, customer = solved
    other = make_customer(email="zeynep.k@example.com")
    customer_merge(actor=Actor.system(), survivor=other, merged=customer)
    assert CsatSurvey.objects.get().customer == other


def test_the_customer_360_page_shows_a_new_rating_at_once(solved, admin_user):
    _ticket, _agent, customer = solved
    page = lambda: login_client(admin_user).get(f"/customers/{customer.pk}/").content.decode()  # noqa: E731
    with translation.override("en"):
        assert "Rated support" not in page()  # and the page is cached now
        csat.csat_answer(survey=CsatSurvey.objects.get(), score=5, comment="Çok hızlı")
        assert "Rated support" in page() and "Çok hızlı" in page()
