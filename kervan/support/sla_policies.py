"""Writes of SLA policies (the targets per priority, a segment's own targets, business hours and time zone).

A change applies to tickets created (or given a new priority) from then on: a ticket keeps the due times it was
promised, so an open ticket's timer, "at risk" warning and breach stay consistent with what agents saw."""

import datetime as dt
import functools
import re
import zoneinfo

from django.db import transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.audit import audit, diff
from kervan.core.errors import KervanError
from kervan.segments.models import Segment
from kervan.support.actions import _text
from kervan.support.models import SlaPolicy, TicketPriority

NAME_MAX = 120
TARGET_MAX_MINUTES = 365 * 24 * 60
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = range(7)


# The zones a shop picks from: the canonical "Region/City" names (and UTC), not the legacy aliases (US/Eastern,
# MET, NZ-CHAT…) the tz database keeps for old systems.
REGIONS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@functools.cache
def timezones() -> list[str]:
    return ["UTC", *sorted(name for name in zoneinfo.available_timezones() if name.split("/")[0] in REGIONS)]


def target_minutes(hours, minutes, field: str) -> int:
    """A target entered as hours and minutes (either may be empty; minutes may pass 59)."""
    total = 0
    for value, factor in ((hours, 60), (minutes, 1)):
        given = str(value if value is not None else "").strip()
        if not given:
            continue
        if not given.isdigit() or len(given) > 7:
            raise KervanError(_("Enter whole hours and minutes."), "invalid_target", field=field)
        total += int(given) * factor
    if not 0 < total <= TARGET_MAX_MINUTES:
        raise KervanError(_("A target is more than 0 minutes and at most a year."), "invalid_target", field=field)
    return total


def _time(value, field: str) -> dt.time:
    match = _HHMM.match(str(value or "").strip())
    if match is None:
        raise KervanError(_("Enter a time as HH:MM, for example 09:00."), "invalid_time", field=field)
    return dt.time(int(match[1]), int(match[2]))


def business_hours(days: dict) -> dict[str, list[str]]:
    """{weekday: (opens, closes)} for the open days, checked: each closes after it opens, one day at least."""
    hours: dict[str, list[str]] = {}
    for day in WEEKDAYS:
        if day not in days:
            continue
        opens_at, closes_at = days[day]
        opens, closes = _time(opens_at, f"opens_{day}"), _time(closes_at, f"closes_{day}")
        if closes <= opens:
            raise KervanError(_("A day must close after it opens."), "closes_before_opens", field=f"closes_{day}")
        hours[str(day)] = [opens.strftime("%H:%M"), closes.strftime("%H:%M")]
    if not hours:
        raise KervanError(_("Open at least one day of the week."), "no_business_hours", field="opens_0")
    return hours


def _values(*, name, priority, first_response_minutes, resolution_minutes, segment_id, days, timezone) -> dict:
    if priority not in TicketPriority.values:
        raise KervanError(
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(TicketPriority.values)},
            "invalid_choice",
            field="priority",
        )
    segment = None
    given = str(segment_id or "").strip()
    if given:
        segment = Segment.objects.filter(pk=int(given)).first() if given.isdigit() and len(given) < 19 else None
        if segment is None:
            raise KervanError(_("There is no such segment."), "invalid_segment", field="segment")
    if timezone not in timezones():
        raise KervanError(_("Choose a time zone from the list."), "invalid_timezone", field="timezone")
    for value, field in ((first_response_minutes, "first_response"), (resolution_minutes, "resolution")):
        if not isinstance(value, int) or not 0 < value <= TARGET_MAX_MINUTES:
            raise KervanError(_("A target is more than 0 minutes and at most a year."), "invalid_target", field=field)
    if resolution_minutes < first_response_minutes:
        raise KervanError(
            _("The resolution target cannot be shorter than the first response target."),
            "resolution_before_response",
            field="resolution",
        )
    return {
        "name": _text(name, "name", NAME_MAX),
        "priority": priority,
        "first_response_minutes": first_response_minutes,
        "resolution_minutes": resolution_minutes,
        "segment": segment,
        "business_hours": business_hours(days),
        "timezone": timezone,
    }


def _jsonable(changes: dict) -> dict:
    return {k: [str(v) if k == "segment" and v else v for v in pair] for k, pair in changes.items()}


def sla_policy_save(
    *,
    actor: Actor,
    policy: SlaPolicy | None = None,
    name,
    priority,
    first_response_minutes: int,
    resolution_minutes: int,
    segment_id=None,
    days: dict,
    timezone="Europe/Istanbul",
) -> SlaPolicy:
    """Create or change a policy. One policy per priority in general, and one per priority for a segment."""
    actor.require("support", "write")
    values = _values(
        name=name,
        priority=priority,
        first_response_minutes=first_response_minutes,
        resolution_minutes=resolution_minutes,
        segment_id=segment_id,
        days=days,
        timezone=timezone,
    )
    twins = SlaPolicy.objects.filter(priority=values["priority"], segment=values["segment"])
    if twins.exclude(pk=getattr(policy, "pk", None)).exists():
        raise KervanError(
            _("Another policy already covers this priority (for this segment)."), "policy_exists", field="priority"
        )
    with transaction.atomic():
        if policy is None:
            policy = SlaPolicy.objects.create(**values)
            audit(
                actor=actor, action="create", obj=policy, changes=_jsonable({k: [None, v] for k, v in values.items()})
            )
            return policy
        changes = diff(policy, values)
        if changes:
            for field, value in values.items():
                setattr(policy, field, value)
            policy.save(update_fields=list(values))
            audit(actor=actor, action="update", obj=policy, changes=_jsonable(changes))
    return policy


def sla_policy_delete(*, actor: Actor, policy: SlaPolicy) -> None:
    """Tickets under the policy keep the due times they were given."""
    actor.require("support", "write")
    with transaction.atomic():
        audit(actor=actor, action="delete", obj=policy, changes={"name": [policy.name, None]})
        policy.delete()
