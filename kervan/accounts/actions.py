"""Every write in accounts: staff users, two-factor authentication, role policies, API keys, login records.

Each action takes the acting `Actor` first, checks what the actor may do, validates, writes and audits in one
transaction. Secrets (passwords, TOTP secrets, API keys) never reach the audit log.
"""

from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kervan.accounts import two_factor
from kervan.accounts.actors import Actor
from kervan.accounts.models import ApiKey, RolePolicy, User
from kervan.accounts.permissions import READ, WRITE, Role, area_keys, area_label
from kervan.accounts.selectors import role_policies
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.emails import normalize_email
from kervan.core.errors import Conflict, KervanError, PermissionDenied

LANGUAGES = ("tr", "en")
SCOPE_NONE = "none"
SCOPE_LEVELS = (SCOPE_NONE, READ, WRITE)


# --- login and two-factor authentication -------------------------------------------------------------------


def login_record(*, actor: Actor) -> None:
    """Write the "login" audit row for a password login."""
    audit(actor=actor, action="login", obj=actor.user, changes={"method": "password"})


def _check_code(*, user: User, secret: str, code: str) -> None:
    """Refuse a wrong, reused or rate-limited code; counts wrong codes per user (MAX_FAILURES per window)."""
    if two_factor.is_locked(user.pk):
        raise KervanError(
            _("Too many wrong codes. Wait 10 minutes, then try again."), "two_factor_locked", status=429, field="code"
        )
    if not two_factor.verify_code(secret, code):
        failures = two_factor.record_failure(user.pk)
        left = two_factor.MAX_FAILURES - failures
        if left <= 0:
            raise KervanError(
                _("Too many wrong codes. Wait 10 minutes, then try again."),
                "two_factor_locked",
                status=429,
                field="code",
            )
        raise KervanError(
            _("That code is not right. Check the time on your phone; %(left)s attempts left.") % {"left": left},
            "invalid_code",
            field="code",
        )
    if not two_factor.mark_code_used(user.pk, code):
        raise KervanError(_("That code was already used. Wait for the next one."), "code_reused", field="code")
    two_factor.clear_failures(user.pk)


def _acting_user(actor: Actor) -> User:
    if actor.user is None:
        raise PermissionDenied(_("Only a signed-in staff user can do this."))
    return actor.user


def two_factor_login_verify(*, actor: Actor, code: str) -> None:
    """The second login step for a user with 2FA on. The caller marks the session verified on success."""
    user = _acting_user(actor)
    if not user.has_two_factor:
        raise KervanError(_("Two-factor authentication is not set up for this account."), "two_factor_not_enrolled")
    _check_code(user=user, secret=user.totp_secret, code=code)
    audit(actor=actor, action="login", obj=user, changes={"method": "two_factor"})


def two_factor_enable(*, actor: Actor, secret: str, code: str) -> User:
    """Turn 2FA on for the acting user once `code` proves their app holds `secret`."""
    user = _acting_user(actor)
    if user.has_two_factor:
        raise Conflict(_("Two-factor authentication is already on."), "two_factor_enrolled")
    if not secret:
        raise KervanError(_("Start the set-up again: the secret has expired."), "two_factor_no_secret")
    _check_code(user=user, secret=secret, code=code)
    with transaction.atomic():
        user.totp_secret = secret
        user.totp_confirmed_at = clock.now()
        user.save(update_fields=["totp_secret", "totp_confirmed_at"])
        audit(actor=actor, action="update", obj=user, changes={"two_factor": [False, True]})
    return user


def two_factor_disable(*, actor: Actor, code: str) -> User:
    """Turn 2FA off for the acting user; needs a current code, and is refused when their role requires 2FA."""
    user = _acting_user(actor)
    if not user.has_two_factor:
        raise Conflict(_("Two-factor authentication is not on."), "two_factor_not_enrolled")
    if two_factor.role_requires_two_factor(user.role):
        raise Conflict(
            _("Your role requires two-factor authentication; it cannot be turned off."), "two_factor_required"
        )
    _check_code(user=user, secret=user.totp_secret, code=code)
    with transaction.atomic():
        _clear_two_factor(user)
        audit(actor=actor, action="update", obj=user, changes={"two_factor": [True, False]})
    return user


def two_factor_reset(*, actor: Actor, user: User) -> User:
    """An Admin turns off another user's 2FA (a lost phone); the user sets it up again if their role requires it."""
    actor.require("settings", WRITE)
    if not user.has_two_factor:
        raise Conflict(_("Two-factor authentication is not on for this user."), "two_factor_not_enrolled")
    with transaction.atomic():
        _clear_two_factor(user)
        audit(actor=actor, action="update", obj=user, changes={"two_factor": [True, False], "reset_by_admin": True})
    return user


def _clear_two_factor(user: User) -> None:
    user.totp_secret = ""
    user.totp_confirmed_at = None
    user.save(update_fields=["totp_secret", "totp_confirmed_at"])


def role_policies_set(*, actor: Actor, require_two_factor: dict[str, bool]) -> dict[str, bool]:
    """Set "2FA mandatory" per role ({role: bool}); roles left out keep their policy. Returns every role's policy."""
    actor.require("settings", WRITE)
    unknown = sorted(set(require_two_factor) - set(Role.values))
    if unknown:
        raise KervanError(_("Unknown role: %(roles)s.") % {"roles": ", ".join(unknown)}, "invalid_role", field="role")
    with transaction.atomic():
        current = {p.role: p for p in RolePolicy.objects.select_for_update().filter(role__in=require_two_factor)}
        for role, required in require_two_factor.items():
            policy = current.get(role) or RolePolicy(role=role)
            old = policy.require_two_factor
            if old == bool(required):
                continue
            created = policy.pk is None
            policy.require_two_factor = bool(required)
            policy.save()
            audit(
                actor=actor,
                action="create" if created else "update",
                object_type="accounts.rolepolicy",
                object_id=role,
                changes={"require_two_factor": [old, policy.require_two_factor]},
            )
    cache.delete(two_factor.POLICY_CACHE_KEY)  # after the commit: the next request reads the new policy
    return role_policies(actor=actor)


# --- staff users ---------------------------------------------------------------------------------------------


def _validate_role(role: str) -> str:
    if role not in Role.values:
        raise KervanError(
            _("'%(role)s' is not a role. Use one of: %(roles)s.") % {"role": role, "roles": ", ".join(Role.values)},
            "invalid_role",
            field="role",
        )
    return role


def _validate_language(language: str) -> str:
    if language not in LANGUAGES:
        raise KervanError(_("Language must be 'tr' or 'en'."), "invalid_language", field="language")
    return language


def user_create(
    *,
    actor: Actor,
    username: str,
    password: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    language: str = "tr",
) -> User:
    """Create a staff user with an initial password (checked against the password rules)."""
    actor.require("settings", WRITE)
    username = (username or "").strip()
    if not username:
        raise KervanError(_("Username is required."), "required", field="username")
    try:
        User.username_validator(username)
    except ValidationError:
        raise KervanError(
            _("Username may contain only letters, digits and @ . + - _"), "invalid_username", field="username"
        )
    if len(username) > 150:
        raise KervanError(_("Username is too long (150 characters at most)."), "invalid_username", field="username")
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    if len(first_name) > 150 or len(last_name) > 150:
        raise KervanError(_("Names are limited to 150 characters."), "invalid_name", field="first_name")
    email = normalize_email(email) if (email or "").strip() else ""
    user = User(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        role=_validate_role(role),
        language=_validate_language(language),
    )
    try:
        validate_password(password or "", user)
    except ValidationError as exc:
        raise KervanError(" ".join(exc.messages), "invalid_password", field="password")
    user.set_password(password)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(_("The username '%(username)s' is taken.") % {"username": username}, "username_taken")
    try:
        with transaction.atomic():
            user.save()
            audit(
                actor=actor,
                action="create",
                obj=user,
                changes={"username": username, "role": user.role, "email": email, "language": user.language},
            )
    except IntegrityError:
        raise Conflict(_("The username '%(username)s' is taken.") % {"username": username}, "username_taken")
    return user


def _ensure_another_admin(user: User) -> None:
    others = User.objects.select_for_update().filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk)
    if not list(others.values_list("pk", flat=True)[:1]):
        raise Conflict(_("Kervan needs at least one active Admin; make someone else Admin first."), "last_admin")


def user_change_role(*, actor: Actor, user: User, role: str) -> User:
    actor.require("settings", WRITE)
    _validate_role(role)
    if role == user.role:
        return user
    with transaction.atomic():
        if user.role == Role.ADMIN and user.is_active:
            _ensure_another_admin(user)
        old = user.role
        user.role = role
        user.save(update_fields=["role"])
        audit(actor=actor, action="update", obj=user, changes={"role": [old, role]})
    return user


def user_set_active(*, actor: Actor, user: User, is_active: bool) -> User:
    """Deactivate (the user can no longer log in; open sessions stop working) or reactivate a staff user."""
    actor.require("settings", WRITE)
    if user.is_active == is_active:
        return user
    if not is_active and user.pk == actor.user_id:
        raise Conflict(_("You cannot deactivate your own account."), "cannot_deactivate_self")
    with transaction.atomic():
        if not is_active and user.role == Role.ADMIN:
            _ensure_another_admin(user)
        user.is_active = is_active
        user.save(update_fields=["is_active"])
        audit(actor=actor, action="update", obj=user, changes={"is_active": [not is_active, is_active]})
    return user


def user_set_language(*, actor: Actor, user: User, language: str) -> User:
    """A user's own interface language (an Admin may set anyone's)."""
    if user.pk != actor.user_id:
        actor.require("settings", WRITE)
    _validate_language(language)
    if user.language == language:
        return user
    with transaction.atomic():
        old = user.language
        user.language = language
        user.save(update_fields=["language"])
        audit(actor=actor, action="update", obj=user, changes={"language": [old, language]})
    return user


def user_update(
    *, actor: Actor, user: User, role: str | None = None, is_active: bool | None = None, language: str | None = None
) -> User:
    """Apply several of the changes above at once: all of them or none."""
    actor.require("settings", WRITE)
    with transaction.atomic():
        if role is not None:
            user_change_role(actor=actor, user=user, role=role)
        if is_active is not None:
            user_set_active(actor=actor, user=user, is_active=is_active)
        if language is not None:
            user_set_language(actor=actor, user=user, language=language)
    return user


def profile_set_language(*, actor: Actor, language: str) -> User:
    """The acting user's own interface language."""
    return user_set_language(actor=actor, user=_acting_user(actor), language=language)


# --- API keys ------------------------------------------------------------------------------------------------


def _clean_scopes(actor: Actor, scopes: dict) -> dict[str, str]:
    if not isinstance(scopes, dict):
        raise KervanError(_("scopes must be an object of domain → none/read/write."), "invalid_scope", field="scopes")
    unknown = sorted(str(d) for d in scopes if d not in area_keys())
    if unknown:
        raise KervanError(
            _("Unknown domain: %(unknown)s. Use: %(domains)s.")
            % {"unknown": ", ".join(unknown), "domains": ", ".join(area_keys())},
            "invalid_scope",
            field="scopes",
        )
    cleaned = {}
    for domain, level in scopes.items():
        level = SCOPE_NONE if level in (None, "") else level
        if level not in SCOPE_LEVELS:
            raise KervanError(
                _("Access to %(domain)s must be none, read or write, not '%(level)s'.")
                % {"domain": domain, "level": level},
                "invalid_scope",
                field="scopes",
            )
        if level == SCOPE_NONE:
            continue
        if not actor.can(domain, level):
            message = (
                _("You cannot give a key permission to change %(area)s: you do not have it yourself.")
                if level == WRITE
                else _("You cannot give a key permission to view %(area)s: you do not have it yourself.")
            )
            raise PermissionDenied(message % {"area": area_label(domain)})
        cleaned[domain] = level
    if not cleaned:
        raise KervanError(_("Give the key access to at least one domain."), "empty_scopes", field="scopes")
    return dict(sorted(cleaned.items()))


def api_key_create(*, actor: Actor, name: str, scopes: dict) -> tuple[ApiKey, str]:
    """Create a key; returns (key, full secret). Only the hash is stored: show the secret once, now."""
    actor.require("settings", WRITE)
    name = (name or "").strip()
    if not name:
        raise KervanError(_("Give the key a name, e.g. where it is used."), "required", field="name")
    if len(name) > 100:
        raise KervanError(_("The name is too long (100 characters at most)."), "invalid_name", field="name")
    cleaned = _clean_scopes(actor, scopes)
    prefix, secret = ApiKey.generate_secret()
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name, prefix=prefix, key_hash=ApiKey.hash_secret(secret), scopes=cleaned, created_by=actor.user
        )
        audit(actor=actor, action="create", obj=key, changes={"name": name, "prefix": prefix, "scopes": cleaned})
    return key, secret


def api_key_revoke(*, actor: Actor, api_key: ApiKey) -> ApiKey:
    """Revoke a key for good: requests with it get 401 from now on. Revoking twice changes nothing."""
    actor.require("settings", WRITE)
    if api_key.revoked_at is not None:
        return api_key
    with transaction.atomic():
        api_key.revoked_at = clock.now()
        api_key.save(update_fields=["revoked_at"])
        ApiKey.cached.changed([api_key.prefix])
        audit(actor=actor, action="update", obj=api_key, changes={"revoked": [False, True]})
    return api_key
