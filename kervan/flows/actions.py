"""Every write of flows: create and edit a draft (whole, or step by step from the builder), publish it as a new
version (checked first: nothing starts from a flow that cannot run), pause and resume, start one from the library,
and a customer's product subscriptions (back in stock, new products)."""

import copy
import uuid

from django.db import transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.api import nul_path
from kervan.core.audit import audit
from kervan.core.errors import KervanError
from kervan.customers.models import Customer, CustomFieldDefinition
from kervan.flows.graph import BRANCHING, STEP_TYPES, Lookups, check_flow, problem, successors
from kervan.flows.models import Flow, FlowRun, FlowVersion, ProductSubscription
from kervan.messaging.models import Template
from kervan.segments.models import Segment
from kervan.segments.selectors import definition_tree

NAME_MAX = 150


def lookups() -> Lookups:
    return Lookups(
        templates=dict(Template.objects.values_list("pk", "channel")),
        segments=set(Segment.objects.values_list("pk", flat=True)),
        custom_dates=set(CustomFieldDefinition.objects.filter(field_type="date").values_list("key", flat=True)),
        filters=definition_tree,
    )


def _name(name) -> str:
    name = str(name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise KervanError(_("A flow needs a name of 1–150 characters."), "invalid_name", field="name")
    return name


def flow_create(
    *, actor: Actor, name: str, trigger=None, graph=None, settings=None, priority: int = 100, library_key: str = ""
) -> Flow:
    actor.require("flows", "write")
    for key, value in (("name", name), ("trigger", trigger), ("graph", graph), ("settings", settings)):
        _storable(key, value)
    flow = Flow.objects.create(
        name=_name(name),
        trigger=trigger or {},
        graph=graph or {"start": None, "steps": {}},
        settings=settings or {},
        priority=_priority(priority),
        library_key=library_key,
        created_by=actor.user,
    )
    audit(actor=actor, action="create", obj=flow, changes={"name": [None, flow.name]})
    return flow


def _storable(key: str, value) -> None:
    """No database stores a NUL character in text or JSON: refused here, whatever the caller (a form, the API)."""
    where = nul_path(value)
    if where is not None:
        raise KervanError(_("%(key)s contains a NUL character.") % {"key": key}, "invalid_value", field=key)


def _priority(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= 1000:
        raise KervanError(_("Priority is a number from 0 to 1000."), "invalid_priority", field="priority")
    return number


@transaction.atomic
def flow_update(*, actor: Actor, flow: Flow, name=None, trigger=None, graph=None, settings=None, priority=None) -> Flow:
    """Change the draft. A live flow keeps running its published version until the draft is published."""
    actor.require("flows", "write")
    changes = {}
    for key, value in (("name", name), ("trigger", trigger), ("graph", graph), ("settings", settings)):
        if value is None:
            continue
        _storable(key, value)
        if key == "name":
            value = _name(value)
        elif not isinstance(value, dict):
            raise KervanError(_("%(key)s must be an object.") % {"key": key}, "invalid_flow", field=key)
        if getattr(flow, key) != value:
            changes[key] = [getattr(flow, key), value] if key == "name" else "changed"
            setattr(flow, key, value)
    if priority is not None and _priority(priority) != flow.priority:
        changes["priority"] = [flow.priority, _priority(priority)]
        flow.priority = _priority(priority)
    if changes:
        flow.save()
        audit(actor=actor, action="update", obj=flow, changes=changes)
    return flow


@transaction.atomic
def flow_publish(*, actor: Actor, flow: Flow) -> FlowVersion:
    """Check the draft and freeze it as the next version, which new entrants follow; the flow goes live. Runs
    already in an older version finish it. A problem is refused with the part it is in, and nothing starts."""
    actor.require("flows", "write")
    caller, flow = flow, Flow.objects.select_for_update().get(pk=flow.pk)
    check_flow(flow.trigger, flow.graph, flow.settings, lookups=lookups())
    number = (flow.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = FlowVersion.objects.create(
        flow=flow,
        number=number,
        trigger=copy.deepcopy(flow.trigger),
        graph=copy.deepcopy(flow.graph),
        settings=copy.deepcopy(flow.settings),
        published_at=clock.now(),
        published_by=actor.user,
    )
    old = flow.status
    flow.live_version, flow.status = version, Flow.Status.LIVE
    caller.live_version, caller.status = version, Flow.Status.LIVE
    flow.save(update_fields=["live_version", "status", "updated_at"])
    audit(actor=actor, action="update", obj=flow, changes={"status": [old, flow.status], "version": [None, number]})
    return version


def flow_set_status(*, actor: Actor, flow: Flow, status: str) -> Flow:
    """Pause (runs stay where they are, nobody enters, nothing is sent) or resume a published flow."""
    actor.require("flows", "write")
    if status not in (Flow.Status.LIVE, Flow.Status.PAUSED):
        raise KervanError(_("A flow is paused or resumed."), "invalid_status", field="status")
    if flow.live_version_id is None:
        raise KervanError(_("Publish the flow first."), "not_published", field="status")
    if flow.status != status:
        old, flow.status = flow.status, status
        flow.save(update_fields=["status", "updated_at"])
        audit(actor=actor, action="update", obj=flow, changes={"status": [old, status]})
    return flow


# --- the builder's edits of the draft graph ------------------------------------------------------------------------


def _new_id(steps: dict) -> str:
    while True:
        step_id = f"s{uuid.uuid4().hex[:6]}"
        if step_id not in steps:
            return step_id


def _links_to(steps: dict, target: str) -> list[tuple[str, str]]:
    """(step id, key) of every link that leads to `target`."""
    return [(sid, key) for sid, step in steps.items() for key in ("next", "yes", "no") if step.get(key) == target]


def step_add(*, actor: Actor, flow: Flow, after: str | None, branch: str = "next", step: dict) -> str:
    """Insert a step after `after` (on its `branch`: next, yes or no), or first when `after` is None; what followed
    there follows the new step (on its "yes" side if it branches). Returns the new step's id."""
    if not isinstance(step, dict) or step.get("type") not in STEP_TYPES:
        raise KervanError(_("Choose a kind of step."), "invalid_step", field="type")
    graph = copy.deepcopy(flow.graph) or {}
    steps = graph.setdefault("steps", {})
    new_id = _new_id(steps)
    if after is None:
        following = graph.get("start")
        graph["start"] = new_id
    else:
        if after not in steps:
            raise problem(_("there is no such step."), f"steps.{after}")
        if branch not in ("next", "yes", "no") or (branch == "next") == (steps[after]["type"] in BRANCHING):
            raise problem(_("this step has no such branch."), f"steps.{after}.{branch}")
        following = steps[after].get(branch)
        steps[after][branch] = new_id
    new = dict(step)
    if new["type"] in BRANCHING:
        new.setdefault("yes", following)
        new.setdefault("no", None)
    elif new["type"] != "exit":
        new["next"] = following
    steps[new_id] = new
    flow_update(actor=actor, flow=flow, graph=graph)
    return new_id


def step_delete(*, actor: Actor, flow: Flow, step_id: str) -> None:
    """Remove a step; what led to it leads to what followed it (a branching step's "yes" side; its "no" side
    is removed with it when nothing else reaches it)."""
    graph = copy.deepcopy(flow.graph)
    steps = graph.get("steps", {})
    if step_id not in steps:
        raise problem(_("there is no such step."), f"steps.{step_id}")
    removed = steps.pop(step_id)
    following = removed.get("yes") if removed["type"] in BRANCHING else removed.get("next")
    for sid, key in _links_to(steps, step_id):
        steps[sid][key] = following
    if graph.get("start") == step_id:
        graph["start"] = following
    _drop_unreachable(graph)
    flow_update(actor=actor, flow=flow, graph=graph)


def _drop_unreachable(graph: dict) -> None:
    steps = graph.get("steps", {})
    seen, todo = set(), [graph.get("start")] if graph.get("start") else []
    while todo:
        sid = todo.pop()
        if sid in seen or sid not in steps:
            continue
        seen.add(sid)
        todo.extend(successors(steps[sid]))
    for sid in list(steps):
        if sid not in seen:
            del steps[sid]


def step_move(*, actor: Actor, flow: Flow, step_id: str, direction: str) -> None:
    """Swap a plain (non-branching) step with the plain step before ("up") or after ("down") it on its path."""
    graph = copy.deepcopy(flow.graph)
    steps = graph.get("steps", {})
    if step_id not in steps:
        raise problem(_("there is no such step."), f"steps.{step_id}")
    if direction == "down":
        nxt = steps[step_id].get("next")
        if not nxt or steps[step_id]["type"] in BRANCHING:
            raise problem(_("this step cannot move down."), f"steps.{step_id}")
        first, second = step_id, nxt
    elif direction == "up":
        before = _links_to(steps, step_id)
        if len(before) != 1 or before[0][1] != "next":
            raise problem(_("this step cannot move up."), f"steps.{step_id}")
        first, second = before[0][0], step_id
    else:
        raise KervanError(_("Move up or down."), "invalid_direction", field="direction")
    if steps[second]["type"] in BRANCHING or steps[second]["type"] == "exit":
        raise problem(_("a branching step or an exit cannot be swapped."), f"steps.{second}")
    if len(_links_to(steps, second)) > 1:  # another branch leads there too: swapping would change that branch
        raise problem(_("another path leads to the next step: it cannot be swapped."), f"steps.{step_id}")
    # first → second → after  becomes  second → first → after
    after = steps[second].get("next")
    for sid, key in _links_to(steps, first):
        steps[sid][key] = second
    if graph.get("start") == first:
        graph["start"] = second
    steps[second]["next"] = first
    steps[first]["next"] = after
    flow_update(actor=actor, flow=flow, graph=graph)


def step_configure(*, actor: Actor, flow: Flow, step_id: str, values: dict) -> None:
    """Change a step's settings (its links stay)."""
    graph = copy.deepcopy(flow.graph)
    steps = graph.get("steps", {})
    if step_id not in steps:
        raise problem(_("there is no such step."), f"steps.{step_id}")
    links = {k: steps[step_id].get(k) for k in ("next", "yes", "no") if k in steps[step_id]}
    steps[step_id] = {**{k: v for k, v in values.items() if k not in ("next", "yes", "no")}, **links}
    steps[step_id]["type"] = values.get("type", steps[step_id].get("type"))
    flow_update(actor=actor, flow=flow, graph=graph)


# --- subscriptions ---------------------------------------------------------------------------------------------


def product_subscribe(
    *, customer: Customer, kind: str, product=None, variant=None, category=None
) -> ProductSubscription:
    """A customer asks to hear when a product (or variant) is back in stock, or of new products in a category."""
    if kind == ProductSubscription.Kind.BACK_IN_STOCK and product is None and variant is None:
        raise KervanError(_("Name the product to hear about."), "missing_product", field="product")
    if kind == ProductSubscription.Kind.NEW_PRODUCT and category is None:
        raise KervanError(_("Name the category to hear about."), "missing_category", field="category")
    if kind not in ProductSubscription.Kind.values:
        raise KervanError(_("Unknown kind of subscription."), "invalid_kind", field="kind")
    sub, _created = ProductSubscription.objects.get_or_create(
        customer=customer,
        kind=kind,
        product=product,
        variant=variant,
        category=category,
        notified_at=None,
        defaults={"created_at": clock.now()},
    )
    return sub


def runs_reassign(*, from_customer_id: int, to_customer_id: int) -> None:
    """A merge: the merged profile's runs and subscriptions move to the survivor (an active run of a flow the
    survivor is already in ends instead, so nobody gets one flow twice)."""
    busy = set(
        FlowRun.objects.filter(customer_id=to_customer_id, status=FlowRun.Status.ACTIVE).values_list(
            "flow_id", flat=True
        )
    )
    FlowRun.objects.filter(customer_id=from_customer_id, status=FlowRun.Status.ACTIVE, flow_id__in=busy).update(
        status=FlowRun.Status.EXITED, exit_reason="merged", ended_at=clock.now(), due_at=None, waiting_for=""
    )
    for run in FlowRun.objects.filter(customer_id=from_customer_id):
        # entry keys are unique per (flow, key, customer): a clash means the survivor entered on the same trigger
        if FlowRun.objects.filter(flow_id=run.flow_id, entry_key=run.entry_key, customer_id=to_customer_id).exists():
            run.entry_key = f"{run.entry_key}:merged:{run.pk}"[:120]
        run.customer_id = to_customer_id
        run.save(update_fields=["customer", "entry_key"])
    ProductSubscription.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)
