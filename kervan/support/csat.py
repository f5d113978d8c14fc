"""Customer satisfaction (CSAT): "How did we do?" after a ticket is solved.

Solving a ticket that has a requester email queues a survey (due KERVAN_CSAT_DELAY_MINUTES later, 60 by default,
so a customer who writes back at once reopens the ticket instead); a scheduled task emails due surveys in the
ticket's language with five one-click links (1 very unhappy … 5 very happy), each carrying a signed token. A click
records the score at once (kervan.support.csat_views) and offers a comment box; another click within CHANGE_WINDOW
of the first answer changes the score. The answer lands on the ticket page, the agent's report (csat_summary), the
customer's 360 timeline and as a "Rated Support" event.

A link scanner that fetches a link records that score like a click would: the customer's own click (or comment
form) afterwards replaces it within the window. Scanners that fetch all five links are rare, and a survey is
worth more answered with one click than guarded by a second confirmation step most customers would not take."""

import datetime as dt
import logging
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Avg, Count, Q
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.claim import claim_due, finish, held, release, worker_name
from kervan.core.errors import KervanError
from kervan.events.actions import event_record
from kervan.messaging.channels import transport_for
from kervan.messaging.channels.base import Outgoing, Sender, Transport, TransportError
from kervan.support.actions import _text
from kervan.support.email_out import support_address
from kervan.support.models import CsatSurvey, Ticket

log = logging.getLogger(__name__)

SALT = "kervan.support.csat"
CHANGE_WINDOW = dt.timedelta(days=7)
TOKEN_MAX_AGE = dt.timedelta(days=90)  # a survey link older than this no longer opens
COMMENT_MAX = 5_000
SATISFIED = 4  # 4 and 5 count as satisfied
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (60, 300, 1800, 7200)
LEASE = dt.timedelta(minutes=10)
RATED_SUPPORT = "Rated Support"
EVENT_PREFIX = "csat:"  # the events' dedupe keys: the timeline shows the survey rows instead
SCORES = (
    (1, gettext_lazy("Very unhappy")),
    (2, gettext_lazy("Unhappy")),
    (3, gettext_lazy("Neutral")),
    (4, gettext_lazy("Happy")),
    (5, gettext_lazy("Very happy")),
)


def delay() -> dt.timedelta:
    return dt.timedelta(minutes=int(getattr(settings, "KERVAN_CSAT_DELAY_MINUTES", 60)))


def survey_token(survey: CsatSurvey) -> str:
    return signing.dumps(survey.pk, salt=SALT, compress=False)


def survey_from_token(token: str) -> CsatSurvey | None:
    try:
        pk = signing.loads(str(token or ""), salt=SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(pk, int):
        return None
    return CsatSurvey.objects.select_related("ticket").filter(pk=pk).first()


def survey_url(survey: CsatSurvey, score: int | None = None) -> str:
    base = (getattr(settings, "KERVAN_PUBLIC_URL", "") or "").rstrip("/")
    path = reverse("help:csat", args=[survey_token(survey)])
    return f"{base}{path}" + (f"?score={score}" if score else "")


# ---------------------------------------------------------------- queueing (from ticket_actions)


def csat_on_solved(ticket: Ticket) -> CsatSurvey | None:
    """Queue a survey for a ticket that has just been solved, unless it has no email or one is still to be sent.
    Runs in the status change's transaction."""
    if not ticket.requester_email or ticket.merged_into_id:
        return None
    if CsatSurvey.objects.filter(ticket=ticket, due_at__isnull=False).exists():  # one still to be emailed
        return None
    now = clock.now()
    return CsatSurvey.objects.create(
        ticket=ticket,
        agent_id=ticket.assignee_id,
        customer_id=ticket.customer_id,
        email=ticket.requester_email,
        language=ticket.language,
        due_at=now + delay(),
        created_at=now,
    )


# ---------------------------------------------------------------- sending (the scheduled task)


def csat_send_due(*, limit: int = 50, worker: str = "") -> dict[str, int]:
    """Email up to `limit` due surveys; returns how many ended how ("sent", "retry", "failed", "dropped",
    "lost"). A survey whose ticket was reopened meanwhile is dropped (solving it again queues a new one)."""
    claimed = claim_due(CsatSurvey, worker=worker or worker_name(), limit=limit, lease=LEASE)
    if not claimed:
        return {}
    outcome: dict[str, int] = defaultdict(int)
    loaded = CsatSurvey.objects.select_related("ticket", "agent").filter(pk__in=[s.pk for s in claimed])
    with transport_for("email") as transport:
        for survey in loaded.order_by("due_at", "id"):
            outcome[_send_one(survey, transport)] += 1
    return dict(outcome)


def outgoing_for(survey: CsatSurvey):
    """The survey email, in the survey's language, with one link per score."""
    ticket = survey.ticket
    with translation.override(survey.language):
        subject = _("How did we do? Your request %(number)s") % {"number": ticket.number}
        intro = _("Your request %(number)s (%(subject)s) is solved. How happy are you with our help?") % {
            "number": ticket.number,
            "subject": ticket.subject,
        }
        outro = _("One click records your answer. Thank you!")
        choices = [(score, str(label), survey_url(survey, score)) for score, label in SCORES]
    lines = [intro, ""] + [f"{score} – {label}: {url}" for score, label, url in choices] + ["", outro]
    links = "".join(f'<li><a href="{url}">{score} – {label}</a></li>' for score, label, url in choices)
    html = f"<p>{escape(intro)}</p><ul>{links}</ul><p>{escape(outro)}</p>"
    address = support_address()
    return Outgoing(
        key=f"csat-{survey.pk}",
        to=survey.email,
        sender=Sender(address=address, reply_to=address),
        subject=subject,
        text="\n".join(lines) + "\n",
        html=html,
        marketing=False,
    )


def _send_one(survey: CsatSurvey, transport: Transport) -> str:
    if survey.ticket.status not in (Ticket.Status.SOLVED, Ticket.Status.CLOSED) or not survey.email:
        return "dropped" if held(survey).delete()[0] else "lost"
    try:
        transport.send(outgoing_for(survey))
    except TransportError as error:
        if error.permanent or survey.attempts >= MAX_ATTEMPTS:
            log.warning("CSAT survey %s not sent: %s", survey.pk, error.reason)
            return "failed" if finish(survey) else "lost"  # given up: no longer due, never sent
        backoff = BACKOFF_SECONDS[min(survey.attempts, len(BACKOFF_SECONDS)) - 1]
        retry_at = error.retry_at or clock.now() + dt.timedelta(seconds=backoff)
        return "retry" if release(survey, due_at=retry_at) else "lost"
    return "sent" if finish(survey, sent_at=clock.now()) else "lost"


# ---------------------------------------------------------------- answers (the public page)


def csat_answer(*, survey: CsatSurvey, score, comment=None) -> CsatSurvey:
    """Record the customer's score (and comment when given). The first answer and changes within CHANGE_WINDOW of
    it are taken; later ones are refused. The same score again changes nothing."""
    given = str(score if score is not None else "").strip()
    if given not in {"1", "2", "3", "4", "5"}:
        raise KervanError(_("Choose a score from 1 to 5."), "invalid_score", field="score")
    new_score = int(given)
    new_comment = survey.comment if comment is None else _text(comment, "comment", COMMENT_MAX)
    now = clock.now()
    if survey.answered_at is not None and now - survey.answered_at > CHANGE_WINDOW:
        raise KervanError(_("This survey is closed: thank you for your answer."), "survey_closed", status=409)
    if (survey.score, survey.comment) == (new_score, new_comment):
        return survey
    with transaction.atomic():
        first = survey.answered_at is None
        old = {"score": survey.score, "comment": survey.comment}
        survey.score, survey.comment = new_score, new_comment
        survey.answered_at = now if first else survey.answered_at
        survey.save(update_fields=["score", "comment", "answered_at"])
        changes = {"csat_score": [old["score"], new_score]}
        if old["comment"] != new_comment:
            changes["csat_comment"] = [old["comment"], new_comment]
        audit(actor=Actor.system(), action="update", obj=survey.ticket, customer_id=survey.customer_id, changes=changes)
        if first and survey.customer_id:
            event_record(
                name=RATED_SUPPORT,
                occurred_at=now,
                dedupe_key=f"{EVENT_PREFIX}{survey.pk}",
                customer_id=survey.customer_id,
                properties={"ticket_id": survey.ticket_id, "number": survey.ticket.number, "score": new_score},
            )
    return survey


# ---------------------------------------------------------------- reports, timeline, merge


def _summary(rows: dict[str, Any]) -> dict[str, Any]:
    n = rows["answered"]
    average = None
    if n:
        average = Decimal(str(rows["average"])).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return {
        "answered": n,
        "average": average,
        "satisfied_pct": round(rows["satisfied"] * 100 / n, 1) if n else None,
    }


def csat_summary(*, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The surveys answered in [start, end): how many, the average score, the share satisfied (4–5), and the same
    per agent (the agent the ticket was assigned to when it was solved)."""
    rows = CsatSurvey.objects.filter(answered_at__gte=start, answered_at__lt=end, score__isnull=False).order_by()
    sums = {"answered": Count("id"), "average": Avg("score"), "satisfied": Count("id", filter=Q(score__gte=SATISFIED))}
    per_agent = rows.values("agent_id", "agent__username", "agent__first_name", "agent__last_name").annotate(**sums)
    by_agent = [
        {
            "agent_id": row["agent_id"],
            "agent_name": " ".join(filter(None, (row["agent__first_name"], row["agent__last_name"])))
            or row["agent__username"]
            or _("Nobody"),
            **_summary(row),
        }
        for row in per_agent
    ]
    by_agent.sort(key=lambda row: (-row["answered"], str(row["agent_name"])))
    return {**_summary(rows.aggregate(**sums)), "by_agent": by_agent}


def present_survey(survey: CsatSurvey) -> dict[str, Any]:
    label = dict(SCORES).get(survey.score, "")
    return {
        "title": _("Rated support on ticket %(number)s: %(score)s/5 (%(label)s)")
        % {"number": survey.ticket.number, "score": survey.score, "label": label},
        "data": {"ticket_id": survey.ticket_id, "score": survey.score},
        "summary": survey.comment[:200],
        "link": ("support:ticket_detail", survey.ticket_id, "support"),
    }


def csat_reassign(*, from_customer_id: int, to_customer_id: int) -> int:
    return CsatSurvey.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)


TIMELINE_POSITION = 44  # between notes (40) and tickets (45); positions must be unique across sources


def register() -> None:
    """The survey answers on the 360 timeline, their move in a customer merge, and the sending schedule."""
    from kervan.core.schedule import register_schedule
    from kervan.customers.registry import TimelineSource, register_merge, register_timeline_source
    from kervan.events.timeline import hide_emitted_events
    from kervan.support import tasks

    register_merge("support_csat", csat_reassign)
    hide_emitted_events(EVENT_PREFIX)
    register_timeline_source(
        TimelineSource(
            kind="csat",
            label=gettext_lazy("Satisfaction ratings"),
            position=TIMELINE_POSITION,
            area="support",
            rows=lambda customer_id: CsatSurvey.objects.filter(customer_id=customer_id, answered_at__isnull=False),
            time_field="answered_at",
            present=present_survey,
            select_related=("ticket",),
        )
    )
    register_schedule("csat_send", tasks.csat_send_task, every=dt.timedelta(minutes=1))
