"""The help desk's reports over a period: ticket volume per channel, first-response and resolution times, SLA
compliance, CSAT, the backlog, each agent's workload and the chat wait.

Every count is a GROUP BY in the database. Medians and 90th percentiles are the one exception: the period's
durations are fetched in one query (one column) and interpolated here the way PostgreSQL's PERCENTILE_CONT does,
so SQLite and PostgreSQL give the same answer to the microsecond. Durations are wall-clock time (not business
hours): what the customer waited."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.api import MAX_ID
from kervan.core.errors import KervanError
from kervan.reports import selectors as report_selectors
from kervan.support.models import ChatConversation, CsatSurvey, Ticket, TicketMessage

PERIODS = report_selectors.PERIODS
OPEN = (Ticket.Status.NEW, Ticket.Status.OPEN, Ticket.Status.PENDING, Ticket.Status.ON_HOLD)
# The backlog's age buckets: (key, label, lower bound of age in days).
AGE_BUCKETS = (
    ("d0", gettext_lazy("Under 1 day"), 0),
    ("d1", gettext_lazy("1–3 days"), 1),
    ("d3", gettext_lazy("3–7 days"), 3),
    ("d7", gettext_lazy("7–30 days"), 7),
    ("d30", gettext_lazy("Over 30 days"), 30),
)
SATISFIED = 4  # a CSAT score of 4 or 5 counts as satisfied


# ---------------------------------------------------------------- input


Period = report_selectors.Period
# The period a picker value names: the Analytics page's presets and limits.
period_from = report_selectors.period_from


@dataclass(frozen=True)
class Filters:
    channel: str = ""
    agent_id: int | None = None


def filters_from(channel: str = "", agent: str = "") -> Filters:
    if channel and channel not in Ticket.Channel.values:
        message = _("Unknown channel: %(channel)s.") % {"channel": channel[:20]}
        raise KervanError(message, "invalid_channel", field="channel")
    agent_id = None
    if agent:
        if not agent.isdigit() or not 0 < int(agent) <= MAX_ID:
            raise KervanError(_("Choose an agent from the list."), "invalid_agent", field="agent")
        agent_id = int(agent)
    return Filters(channel, agent_id)


# ---------------------------------------------------------------- percentiles


def percentile(ordered: list[float], fraction: float) -> float | None:
    """The `fraction` quantile of sorted values, interpolated between the two nearest ranks (PERCENTILE_CONT)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class Spread:
    """Durations in seconds: how many, their median and 90th percentile."""

    count: int = 0
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, seconds: list[float]) -> Spread:
        ordered = sorted(seconds)
        return cls(len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9))

    @property
    def median_hours(self) -> float | None:
        return None if self.median is None else round(self.median / 3600, 2)

    @property
    def p90_hours(self) -> float | None:
        return None if self.p90 is None else round(self.p90 / 3600, 2)

    @property
    def median_minutes(self) -> float | None:
        return None if self.median is None else round(self.median / 60, 1)

    @property
    def p90_minutes(self) -> float | None:
        return None if self.p90 is None else round(self.p90 / 60, 1)


def _seconds(value: dt.timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _since(later: str, earlier: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(later) - F(earlier), output_field=DurationField())


# ---------------------------------------------------------------- the reads


def _tickets(actor: Actor, filters: Filters) -> QuerySet[Ticket]:
    rows = actor.scope("support", Ticket.objects.all())
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.agent_id:
        rows = rows.filter(assignee_id=filters.agent_id)
    return rows.order_by()


def _day(column: Any) -> TruncDate:
    return TruncDate(column, tzinfo=timezone.get_default_timezone())


@dataclass
class Volume:
    """Tickets created per day and channel (days in the shop's time zone)."""

    days: list[dt.date]
    channels: list[tuple[str, str]]  # (code, label) of the channels with tickets, in Ticket.Channel order
    counts: dict[tuple[dt.date, str], int]
    totals: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    def per_day(self, day: dt.date) -> int:
        return sum(self.counts.get((day, code), 0) for code, _label in self.channels)

    @property
    def channel_totals(self) -> list[tuple[str, str, int]]:
        return [(code, label, self.totals[code]) for code, label in self.channels]

    def row(self, day: dt.date) -> list[int]:
        return [self.counts.get((day, code), 0) for code, _label in self.channels]

    def series(self, code: str) -> list[int]:
        return [self.counts.get((day, code), 0) for day in self.days]


def volume(actor: Actor, period: Period, filters: Filters) -> Volume:
    rows = (
        _tickets(actor, filters)
        .filter(created_at__gte=period.low, created_at__lt=period.high)
        .values_list(_day("created_at"), "channel")
        .annotate(n=Count("id"))
    )
    counts: dict[tuple[dt.date, str], int] = {}
    totals: dict[str, int] = defaultdict(int)
    for day, channel, n in rows:
        counts[(day, channel)] = n
        totals[channel] += n
    channels = [(code, str(label)) for code, label in Ticket.Channel.choices if code in totals]
    return Volume(period.dates, channels, counts, dict(totals))


@dataclass
class Times:
    """First response over the tickets first answered in the period; resolution over those solved in it. Each
    from the ticket's creation, in wall-clock time. `by_agent`: first-response seconds per assignee id."""

    first_response: Spread
    resolution: Spread
    by_agent: dict[int | None, list[float]]


def response_times(actor: Actor, period: Period, filters: Filters) -> Times:
    rows = _tickets(actor, filters)
    answered = list(
        rows.filter(first_responded_at__gte=period.low, first_responded_at__lt=period.high).values_list(
            "assignee_id", _since("first_responded_at", "created_at")
        )
    )
    solved = rows.filter(solved_at__gte=period.low, solved_at__lt=period.high).values_list(
        _since("solved_at", "created_at"), flat=True
    )
    by_agent: dict[int | None, list[float]] = defaultdict(list)
    for agent_id, took in answered:
        by_agent[agent_id].append(took.total_seconds())
    first = [took.total_seconds() for _agent, took in answered]
    return Times(Spread.of(first), Spread.of([took.total_seconds() for took in solved]), dict(by_agent))


@dataclass(frozen=True)
class Compliance:
    """Targets met and missed, of the tickets created in the period that had one; `running`: not decided yet."""

    met: int
    breached: int
    running: int

    @property
    def decided(self) -> int:
        return self.met + self.breached

    @property
    def pct(self) -> float | None:
        return round(self.met * 100 / self.decided, 1) if self.decided else None


def sla_compliance(actor: Actor, period: Period, filters: Filters) -> dict[str, Compliance]:
    """A target is missed when its flag says so, when it was done after its due time, or when it is not done and
    its due time has passed; met when it was done in time."""
    now = clock.now()
    counts: dict[str, Any] = {}
    for key, done, due, flag in (
        ("first_response", "first_responded_at", "first_response_due_at", "breached_first_response"),
        ("resolution", "solved_at", "resolution_due_at", "breached_resolution"),
    ):
        missed = Q(**{flag: True}) | Q(**{f"{done}__gt": F(due)}) | Q(**{f"{done}__isnull": True, f"{due}__lt": now})
        counts[f"{key}_breached"] = Count("id", filter=missed)
        counts[f"{key}_met"] = Count("id", filter=Q(**{f"{done}__isnull": False}) & ~missed)
        counts[f"{key}_all"] = Count("id")
    found = (
        _tickets(actor, filters)
        .filter(created_at__gte=period.low, created_at__lt=period.high)
        .filter(first_response_due_at__isnull=False, resolution_due_at__isnull=False)
        .aggregate(**counts)
    )
    return {
        key: Compliance(
            found[f"{key}_met"], found[f"{key}_breached"], found[f"{key}_all"] - found[f"{key}_met"]
            - found[f"{key}_breached"]
        )
        for key in ("first_response", "resolution")
    }  # fmt: skip


def csat(actor: Actor, period: Period, filters: Filters) -> dict[str, Any]:
    """The CSAT surveys answered in the period: {"answered", "average", "satisfied_pct", "by_agent": [...]}, from
    kervan.support.csat; with a channel filter (which csat_summary does not take) counted here the same way."""
    actor.require("support", "read")
    if filters.channel:
        found = _csat_of_channel(period, filters.channel)
    else:
        from kervan.support.csat import csat_summary

        found = csat_summary(start=period.low, end=period.high)
    rows = [_plain(row) for row in found["by_agent"]]
    if filters.agent_id:
        rows = [row for row in rows if row["agent_id"] == filters.agent_id]
        mine = rows[0] if rows else {"answered": 0, "average": None, "satisfied_pct": None}
        return {key: mine[key] for key in ("answered", "average", "satisfied_pct")} | {"by_agent": rows}
    return {**_plain(found), "by_agent": rows}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    average = row["average"]
    return {**row, "average": None if average is None else round(float(average), 2)}


def _csat_of_channel(period: Period, channel: str) -> dict[str, Any]:
    rows = CsatSurvey.objects.filter(
        answered_at__gte=period.low, answered_at__lt=period.high, score__isnull=False, ticket__channel=channel
    ).order_by()
    sums = {"answered": Count("id"), "total": Sum("score"), "satisfied": Count("id", filter=Q(score__gte=SATISFIED))}

    def summary(row: dict[str, Any]) -> dict[str, Any]:
        n = row["answered"]
        return {
            "answered": n,
            "average": round(row["total"] / n, 2) if n else None,
            "satisfied_pct": round(row["satisfied"] * 100 / n, 1) if n else None,
        }

    by_agent = [
        {
            "agent_id": row["agent_id"],
            "agent_name": " ".join(filter(None, (row["agent__first_name"], row["agent__last_name"])))
            or row["agent__username"]
            or _("Nobody"),
            **summary(row),
        }
        for row in rows.values("agent_id", "agent__username", "agent__first_name", "agent__last_name").annotate(**sums)
    ]
    by_agent.sort(key=lambda row: (-row["answered"], str(row["agent_name"])))
    return {**summary(rows.aggregate(**sums)), "by_agent": by_agent}


@dataclass
class Backlog:
    """Open tickets now by status and age, and open tickets at the end of each day of the period."""

    by_status: list[tuple[str, str, list[int]]]  # (status, label, counts per AGE_BUCKETS)
    days: list[tuple[dt.date, int]]

    @property
    def total(self) -> int:
        return sum(sum(counts) for _s, _l, counts in self.by_status)

    def bucket_totals(self) -> list[int]:
        return [sum(counts[i] for _s, _l, counts in self.by_status) for i in range(len(AGE_BUCKETS))]


def backlog(actor: Actor, period: Period, filters: Filters, volume_: Volume) -> Backlog:
    now = clock.now()
    rows = _tickets(actor, filters)
    edges = [now - dt.timedelta(days=days) for _key, _label, days in AGE_BUCKETS]
    buckets = {}
    for i, (key, _label, _days) in enumerate(AGE_BUCKETS):
        age = Q(created_at__lte=edges[i])
        if i + 1 < len(edges):
            age &= Q(created_at__gt=edges[i + 1])
        buckets[key] = Count("id", filter=age)
    found = {row["status"]: row for row in rows.filter(status__in=OPEN).values("status").annotate(**buckets)}
    labels = dict(Ticket.Status.choices)
    by_status = [
        (status, str(labels[status]), [found.get(status, {}).get(key, 0) for key, _l, _d in AGE_BUCKETS])
        for status in OPEN
    ]
    # Open at the end of a day: opened before it ends and not solved by then (solved_at is set when a ticket is
    # solved or closed, merged ones included, and cleared when it reopens). Counted as the tickets open when the
    # period starts, plus those opened, minus those solved, day by day.
    open_before = rows.filter(created_at__lt=period.low).filter(
        Q(solved_at__isnull=True) | Q(solved_at__gte=period.low)
    )
    solved = dict(
        rows.filter(solved_at__gte=period.low, solved_at__lt=period.high)
        .values_list(_day("solved_at"))
        .annotate(n=Count("id"))
    )
    running = open_before.count()
    days = []
    for day in period.dates:
        running += volume_.per_day(day) - solved.get(day, 0)
        days.append((day, running))
    return Backlog(by_status, days)


@dataclass
class AgentRow:
    agent_id: int
    name: str
    open_assigned: int = 0
    replies: int = 0
    solved: int = 0
    first_response: Spread = field(default_factory=Spread)
    csat_average: float | None = None
    csat_answered: int = 0


def workload(actor: Actor, period: Period, filters: Filters, times: Times, csat_: dict[str, Any]) -> list[AgentRow]:
    """Per agent (the staff who may write in support, and anyone assigned a ticket of the period): open tickets
    assigned now, replies sent and tickets solved in the period, median first response, CSAT average."""
    from kervan.support.ticket_actions import agents

    rows = _tickets(actor, filters)
    open_now = dict(
        rows.filter(status__in=OPEN, assignee__isnull=False).values_list("assignee_id").annotate(n=Count("id"))
    )
    solved = dict(
        rows.filter(solved_at__gte=period.low, solved_at__lt=period.high, assignee__isnull=False)
        .values_list("assignee_id")
        .annotate(n=Count("id"))
    )
    messages = TicketMessage.objects.filter(
        direction=TicketMessage.Direction.OUTBOUND,
        created_at__gte=period.low,
        created_at__lt=period.high,
        author_user__isnull=False,
    )
    if filters.channel:
        messages = messages.filter(ticket__channel=filters.channel)
    if filters.agent_id:
        messages = messages.filter(author_user_id=filters.agent_id)
    replies = dict(messages.order_by().values_list("author_user_id").annotate(n=Count("id")))
    scores = {row["agent_id"]: row for row in csat_["by_agent"] if row["agent_id"]}
    ids = set(open_now) | set(solved) | set(replies) | {a for a in times.by_agent if a} | set(scores)
    staff = agents()
    if filters.agent_id:
        staff = staff.filter(pk=filters.agent_id)
    people = {user.pk: user for user in staff}
    missing = ids - set(people)
    if missing:
        from django.contrib.auth import get_user_model

        people.update({user.pk: user for user in get_user_model().objects.filter(pk__in=missing)})
    out = []
    for pk, user in people.items():
        score = scores.get(pk, {})
        out.append(
            AgentRow(
                pk,
                user.get_full_name() or user.username,
                open_now.get(pk, 0),
                replies.get(pk, 0),
                solved.get(pk, 0),
                Spread.of(times.by_agent.get(pk, [])),
                score.get("average"),
                score.get("answered", 0),
            )
        )
    out.sort(key=lambda row: (-row.open_assigned, -row.solved, row.name.casefold()))
    return out


@dataclass
class ChatWait:
    """Chats started in the period: the wait from start to the first agent message (answered ones), and the chats
    that became a ticket without any agent message (unanswered)."""

    started: int
    wait: Spread
    unanswered: int
    waiting_now: int
    histogram: list[tuple[str, int]]


WAIT_BUCKETS = (
    (60, gettext_lazy("Under 1 min")),
    (120, gettext_lazy("1–2 min")),
    (300, gettext_lazy("2–5 min")),
    (900, gettext_lazy("5–15 min")),
    (None, gettext_lazy("Over 15 min")),
)


def chat_wait(actor: Actor, period: Period, filters: Filters) -> ChatWait:
    rows = actor.scope("support", ChatConversation.objects.all()).order_by()
    rows = rows.filter(started_at__gte=period.low, started_at__lt=period.high)
    if filters.agent_id:
        rows = rows.filter(assignee_id=filters.agent_id)
    found = rows.aggregate(
        started=Count("id"),
        unanswered=Count("id", filter=Q(first_agent_message_at__isnull=True, ticket__isnull=False)),
        waiting=Count("id", filter=Q(first_agent_message_at__isnull=True, ticket__isnull=True)),
    )
    waits = sorted(
        took.total_seconds()
        for took in rows.filter(first_agent_message_at__isnull=False).values_list(
            _since("first_agent_message_at", "started_at"), flat=True
        )
    )
    histogram, lower = [], 0.0
    for upper, label in WAIT_BUCKETS:
        histogram.append((str(label), sum(1 for w in waits if w >= lower and (upper is None or w < upper))))
        lower = upper or 0.0
    return ChatWait(found["started"], Spread.of(waits), found["unanswered"], found["waiting"], histogram)


@dataclass
class SupportReport:
    period: Period
    filters: Filters
    volume: Volume
    times: Times
    compliance: dict[str, Compliance]
    csat: dict[str, Any]
    backlog: Backlog
    workload: list[AgentRow]
    chats: ChatWait


def support_report(*, actor: Actor, period: Period, filters: Filters) -> SupportReport:
    actor.require("support", "read")
    counted = volume(actor, period, filters)
    times = response_times(actor, period, filters)
    scores = csat(actor, period, filters)
    return SupportReport(
        period,
        filters,
        counted,
        times,
        sla_compliance(actor, period, filters),
        scores,
        backlog(actor, period, filters, counted),
        workload(actor, period, filters, times, scores),
        chat_wait(actor, period, filters),
    )
