"""The flow engine: claim due runs, re-check each run's flow before its step, execute steps until a run waits or ends.

Runs are claimed in batches with the core claim helper (FOR UPDATE SKIP LOCKED on PostgreSQL), so any number of
workers share them. A batch's effects and the runs' new positions are written in one transaction, checked against
the lease first: a worker that lost its lease writes nothing. A step therefore runs at most once per run:

- its effects inside the database (a queued message, a tag, a field, a coupon) are committed with the run's move,
  or not at all; a message's origin names the run and the step's sequence number, so re-queueing it after a
  worker died is a no-op (messaging.Message is unique per origin and customer);
- a step with an effect outside (a webhook, a staff email) first commits its log row, marked not done; a worker
  that finds such a row for the run's current sequence number knows the call may have happened and moves on
  without repeating it.
"""

import datetime as dt
import hashlib
import hmac
import json
import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings as django_settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Q

from kervan.accounts.actors import Actor
from kervan.core import clock, http
from kervan.core.claim import claim_due
from kervan.core.signing import signed_headers
from kervan.customers.models import Customer
from kervan.events.models import Event
from kervan.flows.graph import BRANCHING, exit_events
from kervan.flows.models import Flow, FlowRun, FlowStepLog, FlowVersion
from kervan.flows.rules import event_matches, segment_condition, stable_percent
from kervan.messaging.actions import messages_queue
from kervan.messaging.models import Message, Template

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=2)
HOPS_PER_CLAIM = 25  # steps one run may take in one claim (a graph has no cycle without a wait, so this is a guard)
WEBHOOK_TIMEOUT = http.Timeout(connect=3, read=10)
OUTSIDE = ("webhook", "notify")  # steps whose effect is outside the database


@dataclass
class _Move:
    """What a step decided for a run."""

    outcome: str  # passed | yes | no | sent | skipped | exited | waiting
    next_step: str | None = None
    wait_until: dt.datetime | None = None
    waiting_for: str = ""
    detail: str = ""
    ends: str = ""  # completed | exited: the run ends here


@dataclass
class _Batch:
    now: dt.datetime
    logs: list[FlowStepLog] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    tags: list[tuple[int, list[str], list[str]]] = field(default_factory=list)
    fields: list[tuple[int, str, object]] = field(default_factory=list)
    sent_today: dict[int, int] = field(default_factory=dict)  # customer → flow messages queued today (any flow)


def run_due(*, worker: str, limit: int = 500) -> dict[str, int]:
    """Execute the steps of up to `limit` due runs; returns how many runs ended how (moved, waiting, ended, lost)."""
    work = FlowRun.objects.filter(status=FlowRun.Status.ACTIVE, flow__status=Flow.Status.LIVE)
    runs = claim_due(work, worker=worker, limit=limit, lease=LEASE)
    if not runs:
        return {}
    now = clock.now()
    batch = _Batch(now=now)
    versions = {v.pk: v for v in FlowVersion.objects.filter(pk__in={r.version_id for r in runs}).select_related("flow")}
    customers = {c.pk: c for c in Customer.objects.filter(pk__in={r.customer_id for r in runs})}
    templates = _templates(versions.values())
    batch.sent_today = _flow_messages_today({r.customer_id for r in runs}, now)
    earlier = _unfinished_logs(runs)
    outcome: dict[str, int] = defaultdict(int)
    # Higher-priority flows first: when two want to message one customer today, the first one takes the day's slot.
    active = sorted(runs, key=lambda r: (versions[r.version_id].flow.priority, r.pk))
    for _hop in range(HOPS_PER_CLAIM):
        if not active:
            break
        _recheck(active, versions, customers, batch)
        still = []
        for run in active:
            if run.status != FlowRun.Status.ACTIVE:
                continue
            version = versions[run.version_id]
            step = version.graph["steps"].get(run.step)
            if step is None:  # cannot happen for a checked graph; end the run rather than loop
                _end(run, FlowRun.Status.COMPLETED, "", batch)
                continue
            move = _execute(run, version, step, customers[run.customer_id], templates, batch, earlier)
            if _apply(run, step, move, batch):
                still.append(run)
        active = still
    with transaction.atomic():
        held = set(
            FlowRun.objects.select_for_update()
            .filter(pk__in=[r.pk for r in runs], lease_token__in={r.lease_token for r in runs})
            .values_list("pk", flat=True)
        )
        mine = [r for r in runs if r.pk in held]
        if not mine:
            return {"lost": len(runs)}
        ids = {r.pk for r in mine}
        # A step begun with an outside effect left its row not done: this batch's entry for it replaces it.
        FlowStepLog.objects.filter(run_id__in=ids, done=False).delete()
        FlowStepLog.objects.bulk_create([entry for entry in batch.logs if entry.run_id in ids], ignore_conflicts=True)
        messages_queue([m for m in batch.messages if _run_of(m) in ids])
        _write_profiles(batch, {r.customer_id for r in mine})
        for run in mine:
            run.leased_by, run.leased_until, run.lease_token = "", None, None
            outcome["ended" if run.status != FlowRun.Status.ACTIVE else "waiting"] += 1
        _write_runs(mine)
    outcome["lost"] = len(runs) - len(mine)
    return dict(outcome)


RUN_FIELDS = ("status", "step", "seq", "step_started_at", "waiting_for", "due_at", "ended_at", "exit_reason", "context")


def _write_runs(runs: list[FlowRun]) -> None:
    """The runs' new positions, leases given back. PostgreSQL: one statement fed by one JSON document (Django's
    bulk_update writes a CASE per field with a branch per row: 9 × 500 branches to plan, the batch's main cost).
    SQLite: one prepared UPDATE per row, which is cheap there."""
    rows = [[r.pk, *(_jsonable(getattr(r, f)) for f in RUN_FIELDS)] for r in runs]
    table = FlowRun._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""UPDATE {table} AS r SET status = v.status, step = v.step, seq = v.seq,
                        step_started_at = v.step_started_at, waiting_for = v.waiting_for, due_at = v.due_at,
                        ended_at = v.ended_at, exit_reason = v.exit_reason, context = v.context,
                        leased_by = '', leased_until = NULL, lease_token = NULL
                    FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, status text, step text, seq integer,
                        step_started_at timestamptz, waiting_for text, due_at timestamptz, ended_at timestamptz,
                        exit_reason text, context jsonb)
                    WHERE r.id = v.id""",
                [json.dumps([dict(zip(("id", *RUN_FIELDS), row, strict=True)) for row in rows])],
            )
        else:
            assignments = ", ".join(f"{f} = %s" for f in RUN_FIELDS)
            cursor.executemany(
                f"UPDATE {table} SET {assignments}, leased_by = '', leased_until = NULL, lease_token = NULL "
                "WHERE id = %s",
                [[*row[1:], row[0]] for row in rows],
            )


def _jsonable(value):  # noqa: ANN001, ANN202 - a field's value as its column takes it
    if isinstance(value, dt.datetime):
        if connection.vendor == "postgresql":
            return value.isoformat()
        return connection.ops.adapt_datetimefield_value(value)  # the ORM's own text form (naive UTC)
    if isinstance(value, dict):
        return value if connection.vendor == "postgresql" else json.dumps(value)
    return value


def _run_of(message: Message) -> int:
    return int(message.origin.rsplit(":", 1)[1].split(".")[0])


def _templates(versions) -> dict[int, Template]:
    ids = {
        s["template"]
        for v in versions
        for s in v.graph["steps"].values()
        if s.get("type") == "send" and s.get("template")
    }
    return {t.pk: t for t in Template.objects.filter(pk__in=ids)}


def _flow_messages_today(customer_ids: set[int], now: dt.datetime) -> dict[int, int]:
    since = now - dt.timedelta(hours=24)
    counts: dict[int, int] = defaultdict(int)
    rows = Message.objects.filter(
        customer_id__in=customer_ids, origin__startswith="flow:", created_at__gte=since, purpose="marketing"
    ).exclude(status=Message.Status.SKIPPED)
    for customer_id in rows.values_list("customer_id", flat=True):
        counts[customer_id] += 1
    return counts


def _unfinished_logs(runs: list[FlowRun]) -> set[tuple[int, int]]:
    """(run, seq) of steps a worker began and may have done: their outside effect is not repeated."""
    return set(FlowStepLog.objects.filter(run_id__in=[r.pk for r in runs], done=False).values_list("run_id", "seq"))


def _recheck(runs: list[FlowRun], versions: dict[int, FlowVersion], customers: dict[int, Customer], batch: _Batch):
    """Before every step: a merged-away or deleted customer, a failed flow filter or an exit event ends the run."""
    by_version: dict[int, list[FlowRun]] = defaultdict(list)
    for run in runs:
        customer = customers.get(run.customer_id)
        if customer is None or customer.merged_into_id:
            _end(run, FlowRun.Status.EXITED, "merged", batch)
        else:
            by_version[run.version_id].append(run)
    for version_id, group in by_version.items():
        version = versions[version_id]
        condition = segment_condition(version.settings.get("filters"), now=batch.now)
        ids = [r.customer_id for r in group]
        if condition is not None:
            passing = set(Customer.objects.filter(pk__in=ids).filter(condition).values_list("pk", flat=True))
            for run in group:
                if run.customer_id not in passing:
                    _end(run, FlowRun.Status.EXITED, "filters", batch)
        names = exit_events(version.trigger, version.settings)
        if names:
            earliest = min(r.entered_at for r in group)
            seen: dict[int, list[tuple[str, dt.datetime]]] = defaultdict(list)
            for customer_id, name, at in Event.objects.filter(
                customer_id__in=ids, name__in=names, occurred_at__gte=earliest
            ).values_list("customer_id", "name", "occurred_at"):
                seen[customer_id].append((name, at))
            for run in group:
                if run.status != FlowRun.Status.ACTIVE:
                    continue
                hit = next((name for name, at in seen.get(run.customer_id, ()) if at >= run.entered_at), None)
                if hit:
                    _end(run, FlowRun.Status.EXITED, f"event:{hit}"[:40], batch)


def _end(run: FlowRun, status: str, reason: str, batch: _Batch) -> None:
    if status == FlowRun.Status.EXITED:
        batch.logs.append(_log(run, run.step, "-", "exited", batch.now, detail=reason))
        run.seq += 1
    run.status, run.exit_reason, run.ended_at, run.due_at, run.waiting_for = status, reason, batch.now, None, ""


def _log(run: FlowRun, step: str, kind: str, outcome: str, at: dt.datetime, *, detail: str = "") -> FlowStepLog:
    return FlowStepLog(
        run_id=run.pk,
        flow_id=run.flow_id,
        seq=run.seq,
        step=step,
        kind=kind,
        outcome=outcome,
        detail=detail[:200],
        at=at,
    )


def _apply(run: FlowRun, step: dict, move: _Move, batch: _Batch) -> bool:
    """Move the run as the step decided; True if it has another step to take now."""
    if move.outcome == "waiting":
        run.due_at, run.waiting_for = move.wait_until, move.waiting_for
        return False
    batch.logs.append(_log(run, run.step, step["type"], move.outcome, batch.now, detail=move.detail))
    run.seq += 1
    run.waiting_for = ""
    if move.ends:
        run.status, run.ended_at, run.due_at = move.ends, batch.now, None
        run.exit_reason = "exit_step" if move.ends == FlowRun.Status.EXITED else ""
        return False
    if move.next_step is None:
        run.status, run.ended_at, run.due_at = FlowRun.Status.COMPLETED, batch.now, None
        return False
    run.step, run.step_started_at, run.due_at = move.next_step, batch.now, batch.now
    return True


def _execute(run, version, step, customer, templates, batch: _Batch, earlier) -> _Move:
    kind = step["type"]
    now = batch.now
    started = run.step_started_at or run.entered_at
    nxt = step.get("next")
    if kind == "wait":
        until = started + dt.timedelta(hours=float(step["hours"]))
        return _Move("passed", nxt) if now >= until else _Move("waiting", wait_until=until)
    if kind == "wait_until":
        until = next_local_time(started, step["time"], step.get("weekdays") or [], customer.time_zone)
        return _Move("passed", nxt) if now >= until else _Move("waiting", wait_until=until)
    if kind == "wait_event":
        where = [(w["property"], w["value"]) for w in step.get("where", [])]
        if _did(run.customer_id, step["event"], where, started):
            return _Move("yes", step["yes"])
        timeout = started + dt.timedelta(hours=float(step["hours"]))
        if now >= timeout:
            return _Move("no", step["no"])
        return _Move("waiting", wait_until=timeout, waiting_for=step["event"])
    if kind == "split":
        yes = _split(run, step, now)
        return _Move("yes" if yes else "no", step["yes"] if yes else step["no"])
    if kind == "exit":
        return _Move("exited", ends=FlowRun.Status.EXITED)
    if kind == "send":
        template = templates.get(step["template"])
        if template is None:  # deleted since the version was published: the run goes on without it
            return _Move("failed", nxt, detail="template deleted")
        return _send(run, version, step, template, batch)
    if kind == "tag":
        batch.tags.append((run.customer_id, list(step.get("add", [])), list(step.get("remove", []))))
        return _Move("passed", nxt)
    if kind == "field":
        batch.fields.append((run.customer_id, step["field"], step.get("value")))
        return _Move("passed", nxt)
    if kind == "coupon":
        code = coupon_code(run.pk, run.step, step.get("prefix", ""))
        run.context = {**run.context, "coupon": code}
        return _Move("passed", nxt, detail=code)
    if kind in OUTSIDE:
        if (run.pk, run.seq) in earlier:  # begun by a worker that died: it may have happened, never twice
            return _Move("skipped", nxt, detail="interrupted")
        return _outside(run, version, step, customer, batch)
    raise ValueError(f"unknown step type {kind}")


def _did(customer_id: int, name: str, where, since: dt.datetime) -> bool:
    events = Event.objects.filter(customer_id=customer_id, name=name, occurred_at__gte=since)
    if not where:
        return events.exists()
    return any(event_matches(props, where) for props in events.values_list("properties", flat=True)[:500])


def _split(run: FlowRun, step: dict, now: dt.datetime) -> bool:
    kind = step["kind"]
    if kind == "random":
        return stable_percent(f"{run.pk}:{run.step}") < float(step["percent"])
    if kind == "did":
        where = [(w["property"], w["value"]) for w in step.get("where", [])]
        return _did(run.customer_id, step["event"], where, run.entered_at)
    if kind == "segment":
        condition = segment_condition({"conditions": [{"field": "segment", "op": "in", "value": step["segment"]}]})
    else:
        condition = segment_condition(step.get("condition"), now=now)
    return condition is None or Customer.objects.filter(pk=run.customer_id).filter(condition).exists()


def _send(run: FlowRun, version: FlowVersion, step: dict, template: Template, batch: _Batch) -> _Move:
    nxt = step.get("next")
    marketing = template.purpose == "marketing"
    limit = int(version.settings.get("daily_flow_messages", DAILY_FLOW_MESSAGES))
    if marketing and batch.sent_today.get(run.customer_id, 0) >= limit:
        # Another flow (earlier in priority, or earlier today) has already written to them: this one stays quiet.
        return _Move("skipped", nxt, detail="priority")
    if marketing:
        batch.sent_today[run.customer_id] = batch.sent_today.get(run.customer_id, 0) + 1
    batch.messages.append(
        Message(
            origin=flow_origin(run, run.step),
            customer_id=run.customer_id,
            channel=template.channel,
            purpose=template.purpose,
            template=template,
            due_at=batch.now,
            data=run.context,
        )
    )
    return _Move("sent", nxt)


DAILY_FLOW_MESSAGES = 1  # marketing messages from all flows together, per customer per 24 hours


def flow_origin(run: FlowRun, step_id: str) -> str:
    """The outbox's name for a step's message: flow, step, run and the run's step number (unique per visit)."""
    return f"flow:{run.flow_id}:{step_id}:{run.pk}.{run.seq}"


def coupon_code(run_id: int, step_id: str, prefix: str) -> str:
    """A code unique to the run and step, the same on a retry, not guessable from the ids."""
    digest = hmac.new(django_settings.SECRET_KEY.encode(), f"flow-coupon:{run_id}:{step_id}".encode(), hashlib.sha256)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    number = int.from_bytes(digest.digest()[:8], "big")
    code = ""
    for _ in range(8):
        number, index = divmod(number, len(alphabet))
        code += alphabet[index]
    return f"{prefix}-{code}" if prefix else code


def _outside(run: FlowRun, version: FlowVersion, step: dict, customer: Customer, batch: _Batch) -> _Move:
    """A webhook or a staff email: the log row is committed first (not done), then the call is made."""
    started = _log(run, run.step, step["type"], "started", batch.now)
    started.done = False
    FlowStepLog.objects.bulk_create([started], ignore_conflicts=True)
    nxt = step.get("next")
    payload = {
        "flow": {"id": run.flow_id, "name": version.flow.name, "version": version.number},
        "step": run.step,
        "run": run.pk,
        "customer": {"id": customer.pk, "email": customer.email, "phone": customer.phone},
        "context": run.context,
        "at": batch.now.isoformat(),
    }
    if step["type"] == "webhook":
        body = json.dumps(payload, sort_keys=True, default=str).encode()
        secret = step.get("secret") or django_settings.SECRET_KEY
        try:
            http.request(
                "POST",
                step["url"],
                body=body,
                timeout=WEBHOOK_TIMEOUT,
                headers={
                    "Content-Type": "application/json",
                    **signed_headers(secret, body),  # the outgoing webhooks' signature (kervan.core.signing)
                    "Idempotency-Key": f"flow-run-{run.pk}-{run.seq}",
                },
                retry=http.Retry(attempts=2),
            )
        except http.HttpError as error:
            return _Move("failed", nxt, detail=str(error))
        return _Move("passed", nxt)
    subject = f"[Kervan] {version.flow.name}: {customer.full_name or customer.email or customer.pk}"
    text = (step.get("message") or "") + f"\n\n{payload['customer']}\n{run.context}"
    try:
        send_mail(subject, text, None, step["emails"])
    except OSError as error:
        return _Move("failed", nxt, detail=str(error))
    return _Move("passed", nxt)


def _write_profiles(batch: _Batch, customer_ids: set[int]) -> None:
    from kervan.customers.actions import customer_tags_change, customer_update

    actor = Actor.system()
    for customer_id, add, remove in batch.tags:
        if customer_id in customer_ids:
            customer_tags_change(actor=actor, customer_id=customer_id, add=add, remove=remove)
    for customer_id, key, value in batch.fields:
        if customer_id in customer_ids:
            customer = Customer.objects.get(pk=customer_id)
            customer_update(actor=actor, customer=customer, custom_fields={key: value})


def next_local_time(after: dt.datetime, at: str, weekdays: list[int], time_zone: str) -> dt.datetime:
    """The first `at` (HH:MM, the customer's wall clock) at or after `after`, on one of `weekdays` (any if empty)."""
    try:
        zone = zoneinfo.ZoneInfo(time_zone or django_settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(django_settings.TIME_ZONE)
    hour, minute = (int(x) for x in at.split(":"))
    local = after.astimezone(zone)
    for days in range(8):
        day = local.date() + dt.timedelta(days=days)
        candidate = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)
        if candidate >= local and (not weekdays or candidate.weekday() in weekdays):
            return candidate.astimezone(dt.UTC)
    raise ValueError("no such time in a week")  # unreachable: weekdays are checked to be 0–6


__all__ = ["run_due", "flow_origin", "coupon_code", "next_local_time", "BRANCHING", "Q"]
