"""Flow pages: the list with the ready-made library, the builder (the draft graph as cards, its trigger and settings,
publish / pause / resume) and the report (per-step counts, attributed revenue, the holdout uplift)."""

import json

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.customers.models import CustomFieldDefinition
from kervan.events.models import CanonicalEvent
from kervan.flows import actions, builder, forms, selectors
from kervan.flows.library import LIBRARY, library_start
from kervan.flows.models import Flow
from kervan.messaging.models import Template
from kervan.segments.models import Segment


def _names() -> builder.Names:
    return builder.Names(
        templates=dict(Template.objects.values_list("pk", "name")),
        segments=dict(Segment.objects.values_list("pk", "name")),
    )


def _flow(request, flow_id: int) -> Flow:
    return selectors.flow_get(actor=request.actor, flow_id=flow_id)


def _to_builder(flow: Flow, anchor: str = ""):
    return redirect(reverse("flows:detail", args=[flow.pk]) + (f"#{anchor}" if anchor else ""))


@require_access("flows", "read")
def flow_list(request):
    flows = selectors.flow_list(actor=request.actor).annotate(
        entered=Count("runs"), converted=Count("runs__converted_at")
    )[:500]
    names = _names()
    rows = [(flow, builder.trigger_words(flow.trigger, names)) for flow in flows]
    return render(request, "flows/list.html", {"rows": rows, "library": LIBRARY})


@require_POST
@require_access("flows", "write")
def flow_new(request):
    try:
        flow = actions.flow_create(actor=request.actor, name=request.POST.get("name", ""))
    except KervanError as error:
        messages.error(request, error.detail)
        return redirect("flows:list")
    return _to_builder(flow)


@require_POST
@require_access("flows", "write")
def flow_from_library(request, key: str):
    try:
        flow = library_start(actor=request.actor, key=key)
    except KervanError as error:
        messages.error(request, error.detail)
        return redirect("flows:list")
    messages.success(request, _("The flow is live. Change anything you like and publish again."))
    return _to_builder(flow)


def _unpublished(flow: Flow) -> bool:
    live = flow.live_version
    return live is not None and (live.graph, live.trigger, live.settings) != (flow.graph, flow.trigger, flow.settings)


def _builder_context(flow: Flow, *, error: KervanError | None = None, form_post=None) -> dict:
    names = _names()
    error_step = forms.error_step_id(error) if error else ""
    path, apart = builder.layout(
        flow.graph,
        selectors.step_counts(flow),
        names,
        error_step=error_step,
        error=forms.short_message(error) if error_step else "",
    )
    return {
        "flow": flow,
        "path": path,
        "apart": apart,
        "trigger_words": builder.trigger_words(flow.trigger, names),
        "unpublished": _unpublished(flow),
        "error": error,
        "error_area": (error.field or "").split(".")[0] if error else "",
        "summary": selectors.flow_summary(flow),
        **_form_choices(),
        **_settings_form(flow, form_post),
    }


def _form_choices() -> dict:
    return {
        "step_kinds": builder.STEP_KINDS,
        "split_kinds": builder.SPLIT_KINDS,
        "trigger_types": builder.TRIGGER_TYPES,
        "order_statuses": builder.ORDER_STATUSES,
        "weekdays": list(enumerate(builder.WEEKDAYS)),
        "event_names": CanonicalEvent.values,
        "templates": Template.objects.all(),
        "segments": Segment.objects.all(),
        "date_fields": [("birthday", _("Birthday")), ("first_order", _("First order"))]
        + [
            (f"custom:{key}", label)
            for key, label in CustomFieldDefinition.objects.filter(field_type="date").values_list("key", "label")
        ],
    }


def _template_values(values) -> dict:
    """Form values keyed so a template can read them ("wait-hours" → "wait_hours"); weekdays as numbers."""
    getlist = getattr(values, "getlist", None)
    out = {}
    for key in values:
        value = values.get(key)
        if key.endswith("weekdays"):
            value = [int(d) for d in (getlist(key) if getlist else values[key] or []) if str(d).isdigit()]
        out[key.replace("-", "_")] = value
    return out


def _settings_form(flow: Flow, post) -> dict:
    """The trigger/settings form's values: what was just posted (shown back with its error), else the draft's."""
    trigger, settings = flow.trigger or {}, flow.settings or {}
    if post is not None:
        return {"form": _template_values(post)}
    values = {
        "name": flow.name,
        "priority": flow.priority,
        "trigger-type": trigger.get("type", ""),
        "filters": json.dumps(settings["filters"], ensure_ascii=False, indent=2) if settings.get("filters") else "",
        "exit_on": ", ".join(settings.get("exit_on") or []),
        "goal": settings.get("goal") or "",
        "goal_days": settings.get("goal_days", ""),
        "holdout_percent": settings.get("holdout_percent", ""),
        "reentry_days": "" if settings.get("reentry_days") is None else settings["reentry_days"],
    }
    kind = trigger.get("type")
    for key, value in trigger.items():
        if key == "where":
            value = forms.where_text(value)
        elif key == "unless":
            values[f"t-{kind}-unless_event"] = value.get("event", "")
            values[f"t-{kind}-unless_hours"] = value.get("hours", "")
            continue
        values[f"t-{kind}-{key}"] = "" if value is None else value
    return {"form": _template_values(values)}


@require_access("flows", "read")
def flow_detail(request, flow_id: int):
    flow = _flow(request, flow_id)
    return render(request, "flows/builder.html", _builder_context(flow))


@require_POST
@require_access("flows", "write")
def flow_save(request, flow_id: int):
    """The side form: name, priority, trigger and settings of the draft."""
    flow = _flow(request, flow_id)
    try:
        trigger = forms.parse_trigger(request.POST)
        settings = forms.parse_settings(request.POST, flow.settings)
        forms.check_trigger_and_settings(trigger, settings, actions.lookups())
        actions.flow_update(
            actor=request.actor,
            flow=flow,
            name=request.POST.get("name", ""),
            trigger=trigger,
            settings=settings,
            priority=request.POST.get("priority", ""),
        )
    except KervanError as error:
        flow.refresh_from_db()
        context = _builder_context(flow, form_post=request.POST)
        context["settings_error"] = error
        return render(request, "flows/builder.html", context, status=400)
    messages.success(request, _("Saved in the draft."))
    return _to_builder(flow, "settings")


def _step_form(
    request, flow: Flow, *, step_id: str = "", after: str = "", branch: str = "next", values=None, error=None
):
    step = (flow.graph.get("steps") or {}).get(step_id, {}) if step_id else {}
    if values is None:
        values = _step_values(step)
    context = {
        "flow": flow,
        "step_id": step_id,
        "step_kind": step.get("type", ""),
        "after": after,
        "branch": branch,
        "values": _template_values(values),
        "error": error,
        **_form_choices(),
    }
    template = "flows/_step_form.html" if request.htmx else "flows/step_form.html"
    return render(request, template, context, status=400 if error else 200)


def _step_values(step: dict) -> dict:
    """A step's settings as the form's input values ("wait-hours": 23)."""
    kind = step.get("type", "")
    values = {"type": kind}
    for key, value in step.items():
        if key in ("type", "next", "yes", "no"):
            continue
        if key == "where":
            value = forms.where_text(value)
        elif key in ("add", "remove", "emails"):
            value = ", ".join(value or [])
        elif key == "condition":
            value = json.dumps(value, ensure_ascii=False, indent=2) if value else ""
        values[f"{kind}-{key}"] = "" if value is None else value
    return values


def _posted_step(post) -> dict:
    step = forms.parse_step(post, dict(Template.objects.values_list("pk", "channel")))
    forms.check_step(step, actions.lookups())
    return step


@require_access("flows", "write")
def step_new(request, flow_id: int):
    """The form to add a step (GET: inline under a + with htmx, or a page of its own), and adding it (POST)."""
    flow = _flow(request, flow_id)
    source = request.POST if request.method == "POST" else request.GET
    after, branch = source.get("after", ""), source.get("branch", "next") or "next"
    if request.method != "POST":
        return _step_form(request, flow, after=after, branch=branch)
    try:
        step = _posted_step(request.POST)
        new_id = actions.step_add(actor=request.actor, flow=flow, after=after or None, branch=branch, step=step)
    except KervanError as error:
        flow.refresh_from_db()
        return _step_form(request, flow, after=after, branch=branch, values=request.POST, error=error)
    messages.success(request, _("Step added."))
    return _to_builder(flow, f"step-{new_id}")


@require_access("flows", "write")
def step_edit(request, flow_id: int, step_id: str):
    flow = _flow(request, flow_id)
    if step_id not in (flow.graph.get("steps") or {}):
        raise KervanError(_("There is no such step."), "not_found", status=404)
    if request.method != "POST":
        return _step_form(request, flow, step_id=step_id)
    kind = flow.graph["steps"][step_id]["type"]
    post = request.POST.copy()
    post["type"] = kind  # a step keeps its kind: its links are made for it
    try:
        step = _posted_step(post)
        actions.step_configure(actor=request.actor, flow=flow, step_id=step_id, values=step)
    except KervanError as error:
        flow.refresh_from_db()
        return _step_form(request, flow, step_id=step_id, values=post, error=error)
    messages.success(request, _("Step saved."))
    return _to_builder(flow, f"step-{step_id}")


@require_POST
@require_access("flows", "write")
def step_delete(request, flow_id: int, step_id: str):
    flow = _flow(request, flow_id)
    try:
        actions.step_delete(actor=request.actor, flow=flow, step_id=step_id)
    except KervanError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("Step deleted."))
    return _to_builder(flow)


@require_POST
@require_access("flows", "write")
def step_move(request, flow_id: int, step_id: str, direction: str):
    flow = _flow(request, flow_id)
    try:
        actions.step_move(actor=request.actor, flow=flow, step_id=step_id, direction=direction)
    except KervanError as error:
        messages.error(request, forms.short_message(error))
        return _to_builder(flow)
    return _to_builder(flow, f"step-{step_id}")


@require_POST
@require_access("flows", "write")
def flow_publish(request, flow_id: int):
    flow = _flow(request, flow_id)
    try:
        version = actions.flow_publish(actor=request.actor, flow=flow)
    except KervanError as error:
        flow.refresh_from_db()
        context = _builder_context(flow, error=error)
        if context["error_area"] in ("trigger", "settings"):
            field = forms.settings_input(error.field or "", flow.trigger or {})
            context["settings_error"] = KervanError(forms.short_message(error), error.code, field=field)
        return render(request, "flows/builder.html", context, status=400)
    messages.success(request, _("Published: version %(number)s is live.") % {"number": version.number})
    return _to_builder(flow)


@require_POST
@require_access("flows", "write")
def flow_status(request, flow_id: int, status: str):
    flow = _flow(request, flow_id)
    try:
        actions.flow_set_status(actor=request.actor, flow=flow, status=status)
    except KervanError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("Paused.") if status == Flow.Status.PAUSED else _("Resumed."))
    return _to_builder(flow)


def _percent(row: dict) -> str:
    """A conversion rate (0.123) as the page's language writes it: "12.3%", "%12,3"."""
    return _("%(n)s%%") % {"n": number_format(row["conversion_rate"] * 100, 1)}


def _points(difference: float) -> str:
    """A difference of two rates in percentage points, signed: "+3.5", "−1.2"."""
    return ("+" if difference >= 0 else "−") + number_format(abs(difference) * 100, 1)


@require_access("flows", "read")
def flow_report(request, flow_id: int):
    flow = _flow(request, flow_id)
    names = _names()
    steps = (flow.live_version.graph if flow.live_version else flow.graph).get("steps") or {}
    revenue = selectors.attributed_revenue(flow)
    uplift = selectors.uplift(flow)
    conversion = uplift["conversion"]
    per_step = [
        (step_id, builder.step_words(steps[step_id], names) if step_id in steps else step_id, row, _percent(row))
        for step_id, row in sorted(revenue["steps"].items(), key=lambda item: -item[1]["revenue"])
    ]
    return render(
        request,
        "flows/report.html",
        {
            "flow": flow,
            "summary": selectors.flow_summary(flow),
            "revenue": revenue,
            "revenue_rate": _percent(revenue),
            "per_step": per_step,
            "uplift": uplift,
            "rates": {group: _percent(uplift[group]) for group in ("treatment", "holdout")},
            "conversion": conversion and {key: _points(conversion[key]) for key in ("difference", "low", "high")},
        },
    )
