"""The Settings area: index, staff users, 2FA policy, API keys and the audit log. Views parse and call actions."""

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kervan.accounts import actions, audit_labels, selectors
from kervan.accounts.decorators import require_access
from kervan.accounts.permissions import READ, WRITE, Role, area_keys, areas
from kervan.core.errors import KervanError
from kervan.core.models import AuditLog

SCOPE_LEVELS = [("none", gettext_lazy("None")), ("read", gettext_lazy("Read")), ("write", gettext_lazy("Write"))]


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        raise KervanError(_("'%(value)s' is not a number.") % {"value": value}, "invalid_number") from None


@require_access("settings", READ)
def settings_index(request):
    return render(request, "accounts/settings.html", {})


# --- staff users ---------------------------------------------------------------------------------------------


@require_access("settings", WRITE)
def user_list(request):
    q = request.GET.get("q", "").strip()
    try:
        page = selectors.user_page(actor=request.actor, q=q, cursor=request.GET.get("cursor"))
    except KervanError as exc:
        messages.error(request, exc.detail)
        return redirect("accounts:users")
    return render(request, "accounts/users.html", {"page": page, "q": q})


@require_access("settings", WRITE)
def user_create(request):
    values = {"role": Role.READ_ONLY, "language": "tr"}
    status = 200
    if request.method == "POST":
        fields = ("username", "password", "role", "first_name", "last_name", "email", "language")
        values = {name: request.POST.get(name, "") for name in fields}
        try:
            user = actions.user_create(actor=request.actor, **values)
        except KervanError as exc:
            messages.error(request, exc.detail)
            status = exc.status
        else:
            messages.success(request, _("%(username)s can now log in.") % {"username": user.username})
            return redirect("accounts:user", user_id=user.pk)
        values.pop("password")
    context = {"values": values, "roles": Role.choices, "languages": actions.LANGUAGES}
    return render(request, "accounts/user_form.html", context, status=status)


@require_access("settings", WRITE)
def user_detail(request, user_id: int):
    """One user; POST `op` = role | deactivate | reactivate | reset_two_factor."""
    try:
        user = selectors.user_get(actor=request.actor, user_id=user_id)
    except KervanError as exc:
        raise Http404(exc.detail) from None
    if request.method == "POST":
        op = request.POST.get("op")
        try:
            if op == "role":
                actions.user_change_role(actor=request.actor, user=user, role=request.POST.get("role", ""))
                messages.success(request, _("Role changed."))
            elif op in ("deactivate", "reactivate"):
                actions.user_set_active(actor=request.actor, user=user, is_active=op == "reactivate")
                messages.success(request, _("Saved."))
            elif op == "reset_two_factor":
                actions.two_factor_reset(actor=request.actor, user=user)
                messages.success(request, _("Two-factor authentication was turned off for this user."))
            else:
                raise KervanError(_("Unknown operation."), "invalid_operation")
        except KervanError as exc:
            messages.error(request, exc.detail)
        return redirect("accounts:user", user_id=user.pk)
    return render(request, "accounts/user_detail.html", {"staff": user, "roles": Role.choices})


# --- 2FA policy ----------------------------------------------------------------------------------------------


@require_access("settings", WRITE)
def security(request):
    if request.method == "POST":
        wanted = {role: request.POST.get(f"require_{role}") == "on" for role in Role.values}
        try:
            actions.role_policies_set(actor=request.actor, require_two_factor=wanted)
        except KervanError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("Security policy saved."))
        return redirect("accounts:security")
    policies = selectors.role_policies(actor=request.actor)
    rows = [(value, label, policies[value]) for value, label in Role.choices]
    return render(request, "accounts/security.html", {"rows": rows})


# --- API keys ------------------------------------------------------------------------------------------------


@require_access("settings", WRITE)
def api_keys(request):
    """List and create keys. A new key is rendered in this response only: it is never stored or shown again."""
    created_key = None
    status = 200
    values = {"name": "", "scopes": {}}
    if request.method == "POST":
        scopes = {domain: request.POST.get(f"scope_{domain}", "none") for domain in area_keys()}
        values = {"name": request.POST.get("name", ""), "scopes": scopes}
        try:
            key, created_key = actions.api_key_create(actor=request.actor, name=values["name"], scopes=scopes)
        except KervanError as exc:
            messages.error(request, exc.detail)
            status = exc.status
        else:
            values = {"name": "", "scopes": {}}
            status = 201
    domains = [(area.key, area.label, values["scopes"].get(area.key, "none")) for area in areas()]
    context = {
        "keys": selectors.api_key_list(actor=request.actor),
        "created_key": created_key,
        "values": values,
        "domains": domains,
        "levels": SCOPE_LEVELS,
    }
    response = render(request, "accounts/api_keys.html", context, status=200 if status == 201 else status)
    if created_key:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@require_access("settings", WRITE)
def api_key_revoke(request, key_id: int):
    try:
        key = selectors.api_key_get(actor=request.actor, key_id=key_id)
        actions.api_key_revoke(actor=request.actor, api_key=key)
    except KervanError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("The key %(name)s is revoked.") % {"name": key.name})
    return redirect("accounts:api_keys")


# --- audit log -----------------------------------------------------------------------------------------------


@require_access("audit", READ)
def audit_log(request):
    filters = {
        "action": request.GET.get("action", ""),
        "actor_user": request.GET.get("actor_user", ""),
        "customer_id": request.GET.get("customer_id", "").strip(),
    }
    try:
        page = selectors.audit_log_page(
            actor=request.actor,
            action=filters["action"],
            actor_user_id=_int_or_none(filters["actor_user"]),
            customer_id=_int_or_none(filters["customer_id"]),
            cursor=request.GET.get("cursor") or None,
        )
    except KervanError as exc:
        messages.error(request, exc.detail)
        page = None
    query = urlencode({k: v for k, v in filters.items() if v})
    context = {
        "page": page,
        "rows": audit_labels.describe(page.items) if page else [],
        "filters": filters,
        "query": query,
        "actions": AuditLog.Action.choices,
        "users": selectors.user_choices(),
    }
    return render(request, "accounts/audit_log.html", context, status=200 if page else 400)
