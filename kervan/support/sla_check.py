"""The scheduled SLA check (every five minutes, kervan.support.tasks): tickets long pending the customer closed,
SLA breaches and tickets at risk recorded, each once."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.support.models import Ticket
from kervan.support.ticket_actions import OPEN_STATUSES, Status, ticket_set_status

PENDING_CLOSE_DAYS = 7


def pending_close_days() -> int:
    return int(getattr(settings, "KERVAN_TICKET_PENDING_CLOSE_DAYS", PENDING_CLOSE_DAYS))


def tickets_sla_check() -> dict[str, int]:
    """(a) close tickets pending the customer for KERVAN_TICKET_PENDING_CLOSE_DAYS days; (b) record SLA breaches
    (flag and audit, once each); (c) record the tickets that became at risk. Idempotent: run it any time."""
    actor, now = Actor.system(), clock.now()
    done = {"closed": 0, "breached_first_response": 0, "breached_resolution": 0, "at_risk": 0}
    stale = Ticket.objects.filter(
        status=Status.PENDING, pending_since__lte=now - dt.timedelta(days=pending_close_days())
    )
    for ticket in stale.select_related("sla_policy")[:1000]:
        ticket_set_status(actor=actor, ticket=ticket, status=Status.CLOSED)
        done["closed"] += 1
    active = Ticket.objects.filter(status__in=OPEN_STATUSES)
    first_late = active.filter(
        first_responded_at__isnull=True, breached_first_response=False, first_response_due_at__lt=now
    )
    late = active.exclude(status=Status.PENDING).filter(breached_resolution=False, resolution_due_at__lt=now)
    for rows, field in ((first_late, "breached_first_response"), (late, "breached_resolution")):
        for ticket in rows[:1000]:
            with transaction.atomic():
                if Ticket.objects.filter(pk=ticket.pk, **{field: False}).update(**{field: True}):
                    audit(
                        actor=actor,
                        action="update",
                        obj=ticket,
                        customer_id=ticket.customer_id,
                        changes={field: [False, True]},
                    )
                    done[field] += 1
    risky = active.filter(at_risk_recorded=False).filter(
        Q(first_responded_at__isnull=True, first_response_warn_at__lte=now)
        | (~Q(status=Status.PENDING) & Q(resolution_warn_at__lte=now))
    )
    for ticket in risky[:1000]:
        with transaction.atomic():
            if Ticket.objects.filter(pk=ticket.pk, at_risk_recorded=False).update(at_risk_recorded=True):
                audit(
                    actor=actor,
                    action="update",
                    obj=ticket,
                    customer_id=ticket.customer_id,
                    changes={"sla_at_risk": [False, True]},
                )
                done["at_risk"] += 1
    return done
