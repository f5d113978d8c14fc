"""SLA policy pages (/support/sla/): the list and the editor (targets as hours and minutes, a segment's own targets,
business hours per weekday, the time zone). Changes apply to new tickets (kervan.support.sla_policies)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.segments.models import Segment
from kervan.support import sla_policies
from kervan.support.models import DEFAULT_BUSINESS_HOURS, SlaPolicy, TicketPriority


def _weekdays() -> list[tuple[int, str]]:
    return list(
        enumerate([_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")])
    )


def _split(minutes: int | None) -> tuple[str, str]:
    if not minutes:
        return "", ""
    return str(minutes // 60), str(minutes % 60)


@require_access("support", "read")
def sla_list(request):
    policies = SlaPolicy.objects.select_related("segment").order_by("priority", "segment_id", "name", "id")
    rows = [(policy, _split(policy.first_response_minutes), _split(policy.resolution_minutes)) for policy in policies]
    return render(request, "support/tools/sla_list.html", {"rows": rows})


def _initial(policy: SlaPolicy | None) -> dict:
    hours = policy.business_hours if policy else DEFAULT_BUSINESS_HOURS
    first, resolution = (
        _split(policy.first_response_minutes if policy else 240),
        _split(policy.resolution_minutes if policy else 1440),
    )
    values = {
        "name": policy.name if policy else "",
        "priority": policy.priority if policy else TicketPriority.NORMAL,
        "first_response_hours": first[0],
        "first_response_minutes": first[1],
        "resolution_hours": resolution[0],
        "resolution_minutes": resolution[1],
        "segment": str(policy.segment_id or "") if policy else "",
        "timezone": policy.timezone if policy else "Europe/Istanbul",
    }
    for day, _label in _weekdays():
        opens, closes = hours.get(str(day)) or ("", "")
        values[f"open_{day}"] = str(day) in hours
        values[f"opens_{day}"], values[f"closes_{day}"] = opens or "09:00", closes or "18:00"
    return values


def _from_post(post) -> dict:
    values = {key: post.get(key, "") for key in _initial(None) if not key.startswith("open_")}
    for day, _label in _weekdays():
        values[f"open_{day}"] = bool(post.get(f"open_{day}"))
    return values


def _save(request, policy: SlaPolicy | None, values: dict) -> SlaPolicy:
    days = {
        day: (values[f"opens_{day}"], values[f"closes_{day}"]) for day, _label in _weekdays() if values[f"open_{day}"]
    }
    return sla_policies.sla_policy_save(
        actor=request.actor,
        policy=policy,
        name=values["name"],
        priority=values["priority"],
        first_response_minutes=sla_policies.target_minutes(
            values["first_response_hours"], values["first_response_minutes"], "first_response"
        ),
        resolution_minutes=sla_policies.target_minutes(
            values["resolution_hours"], values["resolution_minutes"], "resolution"
        ),
        segment_id=values["segment"],
        days=days,
        timezone=values["timezone"],
    )


def _editor(request, policy: SlaPolicy | None):
    values, error = _initial(policy), None
    if request.method == "POST":
        if not request.actor.can("support", "write"):
            return render(request, "403.html", {"domain": "support", "access": "write"}, status=403)
        if request.POST.get("action") == "delete" and policy is not None:
            sla_policies.sla_policy_delete(actor=request.actor, policy=policy)
            messages.success(request, _("The SLA policy is deleted."))
            return redirect("support:sla_list")
        values = _from_post(request.POST)
        try:
            saved = _save(request, policy, values)
        except KervanError as exc:
            error = exc
        else:
            messages.success(request, _("The SLA policy is saved. It applies to new tickets."))
            return redirect("support:sla_edit", saved.pk)
    days = [
        (day, label, values[f"open_{day}"], values[f"opens_{day}"], values[f"closes_{day}"])
        for day, label in _weekdays()
    ]
    return render(
        request,
        "support/tools/sla_edit.html",
        {
            "policy": policy,
            "values": values,
            "days": days,
            "error": error,
            "priorities": TicketPriority.choices,
            "segments": Segment.objects.order_by("name"),
            "timezones": sla_policies.timezones(),
        },
        status=400 if error else 200,
    )


@require_access("support", "read")
def sla_new(request):
    return _editor(request, None)


@require_access("support", "read")
def sla_edit(request, policy_id: int):
    return _editor(request, get_object_or_404(SlaPolicy, pk=policy_id))
