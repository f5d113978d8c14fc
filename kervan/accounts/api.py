"""/api/v1/accounts: staff users, API keys, the 2FA role policy, the audit log, and "me"."""

from datetime import datetime

from ninja import Router, Schema, Status

from kervan.accounts import actions, selectors
from kervan.accounts.permissions import READ, WRITE
from kervan.core.api import ERRORS, Id, InputSchema, page_out

router = Router(tags=["accounts"])


# --- schemas -------------------------------------------------------------------------------------------------


class UserOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    role: str
    language: str
    is_active: bool
    two_factor: bool
    last_login: datetime | None
    date_joined: datetime


class UserPageOut(Schema):
    items: list[UserOut]
    next_cursor: str | None


class UserIn(InputSchema):
    username: str
    password: str
    role: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    language: str = "tr"


class UserPatchIn(InputSchema):
    role: str | None = None
    is_active: bool | None = None
    language: str | None = None


class MeOut(Schema):
    user: UserOut | None
    api_key_id: int | None
    scopes: dict[str, str | None]


class MePatchIn(InputSchema):
    language: str


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str
    scopes: dict[str, str]
    created_by_id: int | None
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    is_active: bool


class ApiKeyCreatedOut(ApiKeyOut):
    key: str


class ApiKeyIn(InputSchema):
    name: str
    scopes: dict[str, str | None]


class RolePoliciesIn(InputSchema):
    require_two_factor: dict[str, bool]


class RolePoliciesOut(Schema):
    require_two_factor: dict[str, bool]


class AuditOut(Schema):
    id: int
    occurred_at: datetime
    action: str
    actor_user_id: int | None
    actor_user: str | None
    actor_api_key_id: int | None
    object_type: str
    object_id: str
    customer_id: int | None
    changes: dict | list
    ip_address: str | None


class AuditPageOut(Schema):
    items: list[AuditOut]
    next_cursor: str | None


def user_out(user) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "language": user.language,
        "is_active": user.is_active,
        "two_factor": user.has_two_factor,
        "last_login": user.last_login,
        "date_joined": user.date_joined,
    }


def api_key_out(key) -> dict:
    return {
        "id": key.pk,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "created_by_id": key.created_by_id,
        "created_by": key.created_by.username if key.created_by else None,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
        "is_active": key.is_active,
    }


def audit_out(row) -> dict:
    return {
        "id": row.pk,
        "occurred_at": row.occurred_at,
        "action": row.action,
        "actor_user_id": row.actor_user_id,
        "actor_user": row.actor_user.username if row.actor_user else None,
        "actor_api_key_id": row.actor_api_key_id,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "customer_id": row.customer_id,
        "changes": row.changes,
        "ip_address": row.ip_address,
    }


# --- me ------------------------------------------------------------------------------------------------------


@router.get("/me", response={200: MeOut, **ERRORS})
def me(request):
    actor = request.auth
    return {
        "user": user_out(actor.user) if actor.user else None,
        "api_key_id": actor.api_key_id,
        "scopes": actor.scopes,
    }


@router.patch("/me", response={200: UserOut, **ERRORS})
def me_update(request, payload: MePatchIn):
    return user_out(actions.profile_set_language(actor=request.auth, language=payload.language))


# --- staff users ---------------------------------------------------------------------------------------------


@router.get("/users", response={200: UserPageOut, **ERRORS})
def user_list(request, q: str = "", active: bool | None = None, cursor: str | None = None, limit: int = 50):
    request.auth.require("settings", WRITE)
    page = selectors.user_page(actor=request.auth, q=q, active=active, cursor=cursor, limit=limit)
    return page_out(page, user_out)


@router.post("/users", response={201: UserOut, **ERRORS})
def user_create(request, payload: UserIn):
    request.auth.require("settings", WRITE)
    return Status(201, user_out(actions.user_create(actor=request.auth, **payload.dict())))


@router.get("/users/{user_id}", response={200: UserOut, **ERRORS})
def user_detail(request, user_id: int):
    request.auth.require("settings", WRITE)
    return user_out(selectors.user_get(actor=request.auth, user_id=user_id))


@router.patch("/users/{user_id}", response={200: UserOut, **ERRORS})
def user_update(request, user_id: int, payload: UserPatchIn):
    """Change role, deactivate (`is_active: false`) or reactivate, or set the language; each change is audited."""
    request.auth.require("settings", WRITE)
    user = selectors.user_get(actor=request.auth, user_id=user_id)
    return user_out(actions.user_update(actor=request.auth, user=user, **payload.dict()))


@router.post("/users/{user_id}/reset-two-factor", response={200: UserOut, **ERRORS})
def user_reset_two_factor(request, user_id: int):
    request.auth.require("settings", WRITE)
    user = selectors.user_get(actor=request.auth, user_id=user_id)
    return user_out(actions.two_factor_reset(actor=request.auth, user=user))


# --- 2FA policy ----------------------------------------------------------------------------------------------


@router.get("/role-policies", response={200: RolePoliciesOut, **ERRORS})
def role_policies(request):
    request.auth.require("settings", WRITE)
    return {"require_two_factor": selectors.role_policies(actor=request.auth)}


@router.patch("/role-policies", response={200: RolePoliciesOut, **ERRORS})
def role_policies_update(request, payload: RolePoliciesIn):
    request.auth.require("settings", WRITE)
    policies = actions.role_policies_set(actor=request.auth, require_two_factor=payload.require_two_factor)
    return {"require_two_factor": policies}


# --- API keys ------------------------------------------------------------------------------------------------


@router.get("/api-keys", response={200: list[ApiKeyOut], **ERRORS})
def api_key_list(request, include_revoked: bool = True):
    request.auth.require("settings", WRITE)
    return [api_key_out(k) for k in selectors.api_key_list(actor=request.auth, include_revoked=include_revoked)]


@router.post("/api-keys", response={201: ApiKeyCreatedOut, **ERRORS})
def api_key_create(request, payload: ApiKeyIn):
    """The response holds the full key (`key`): it is shown this once and cannot be recovered."""
    request.auth.require("settings", WRITE)
    key, secret = actions.api_key_create(actor=request.auth, name=payload.name, scopes=payload.scopes)
    return Status(201, {**api_key_out(key), "key": secret})


@router.get("/api-keys/{key_id}", response={200: ApiKeyOut, **ERRORS})
def api_key_detail(request, key_id: int):
    request.auth.require("settings", WRITE)
    return api_key_out(selectors.api_key_get(actor=request.auth, key_id=key_id))


@router.post("/api-keys/{key_id}/revoke", response={200: ApiKeyOut, **ERRORS})
def api_key_revoke(request, key_id: int):
    request.auth.require("settings", WRITE)
    key = selectors.api_key_get(actor=request.auth, key_id=key_id)
    return api_key_out(actions.api_key_revoke(actor=request.auth, api_key=key))


# --- audit log -----------------------------------------------------------------------------------------------


@router.get("/audit-log", response={200: AuditPageOut, **ERRORS})
def audit_log(
    request,
    action: str = "",
    actor_user: Id | None = None,
    customer_id: Id | None = None,
    cursor: str | None = None,
    limit: int = 50,
):
    """Newest first. Filters: `action` (create, update, login, …), `actor_user` (user id), `customer_id`."""
    request.auth.require("audit", READ)
    page = selectors.audit_log_page(
        actor=request.auth,
        action=action,
        actor_user_id=actor_user,
        customer_id=customer_id,
        cursor=cursor,
        limit=limit,
    )
    return page_out(page, audit_out)
