"""Reads in accounts: staff users, API keys, role policies and the audit log, each scoped to what the actor may see."""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.accounts.models import ApiKey, RolePolicy, User
from kervan.accounts.permissions import READ, WRITE, Role
from kervan.core.errors import KervanError, NotFound
from kervan.core.models import AuditLog
from kervan.core.pagination import Page, paginate


def user_list(*, actor: Actor, q: str = "", active: bool | None = None) -> QuerySet[User]:
    """Staff users, by username. Managing staff is an Admin's job (settings write)."""
    actor.require("settings", WRITE)
    qs = User.objects.all()
    if q:
        qs = qs.filter(
            Q(username__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q) | Q(email__icontains=q)
        )
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs.order_by("username")


def user_page(*, actor: Actor, q: str = "", active: bool | None = None, cursor: str | None = None, limit: int = 50):
    return paginate(user_list(actor=actor, q=q, active=active), order="username", cursor=cursor, limit=limit)


def user_get(*, actor: Actor, user_id: int) -> User:
    actor.require("settings", WRITE)
    try:
        return User.objects.get(pk=user_id)
    except User.DoesNotExist:
        raise NotFound(_("No such user."))


def user_choices() -> list[tuple[int, str]]:
    """(id, label) of every staff user, for the audit-log filter."""
    return [
        (u.pk, u.get_full_name() or u.username)
        for u in User.objects.only("pk", "username", "first_name", "last_name").order_by("username")
    ]


def role_policies(*, actor: Actor) -> dict[str, bool]:
    """{role: 2FA mandatory} for every role."""
    actor.require("settings", WRITE)
    required = set(RolePolicy.objects.filter(require_two_factor=True).values_list("role", flat=True))
    return {role: role in required for role in Role.values}


def api_key_list(*, actor: Actor, include_revoked: bool = True) -> QuerySet[ApiKey]:
    """Keys newest first (never their secrets: only the prefix is known)."""
    actor.require("settings", WRITE)
    qs = ApiKey.objects.select_related("created_by").order_by("-created_at", "-id")
    if not include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return qs


def api_key_get(*, actor: Actor, key_id: int) -> ApiKey:
    actor.require("settings", WRITE)
    try:
        return ApiKey.objects.select_related("created_by").get(pk=key_id)
    except ApiKey.DoesNotExist:
        raise NotFound(_("No such API key."))


def audit_log_page(
    *,
    actor: Actor,
    action: str = "",
    actor_user_id: int | None = None,
    customer_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """The audit log, newest first, optionally filtered by action, acting user and customer."""
    actor.require("audit", READ)
    qs = AuditLog.objects.select_related("actor_user", "actor_api_key")
    if action:
        if action not in AuditLog.Action.values:
            raise KervanError(
                _("Unknown action '%(action)s'. Use one of: %(choices)s.")
                % {"action": action, "choices": ", ".join(AuditLog.Action.values)},
                "invalid_action",
                field="action",
            )
        qs = qs.filter(action=action)
    if actor_user_id is not None:
        qs = qs.filter(actor_user_id=actor_user_id)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return paginate(qs, order="-occurred_at", cursor=cursor, limit=limit)
