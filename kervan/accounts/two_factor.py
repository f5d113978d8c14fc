"""TOTP two-factor authentication: codes, QR codes, the per-role mandatory policy and the wrong-code limit.

Enrolment keeps the new secret in the (server-side) session until the user proves it works with a code; only then
is it written to the user together with `totp_confirmed_at`, so a half-finished enrolment leaves nothing behind.
"""

import pyotp
import segno
from django.core.cache import cache

from kervan.accounts.models import RolePolicy

SESSION_VERIFIED = "two_factor_verified"
SESSION_PENDING_SECRET = "two_factor_pending_secret"
ISSUER = "Kervan"

MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 10 * 60
# A code stays valid for up to 90 s (valid_window=1); remembering it that long stops it being used twice.
USED_CODE_SECONDS = 90


# Asked on every page a logged-in user opens, so the policy is read from the cache, not the database. The action
# that changes it forgets the cached copy; a per-process memory cache can lag other processes by POLICY_SECONDS.
POLICY_CACHE_KEY = "accounts:roles-requiring-2fa"
POLICY_SECONDS = 30


def roles_requiring_two_factor() -> frozenset[str]:
    return cache.get_or_set(
        POLICY_CACHE_KEY,
        lambda: frozenset(RolePolicy.objects.filter(require_two_factor=True).values_list("role", flat=True)),
        timeout=POLICY_SECONDS,
    )


def role_requires_two_factor(role: str) -> bool:
    return role in roles_requiring_two_factor()


def user_must_use_two_factor(user) -> bool:
    """True when this user has 2FA on, or their role makes it mandatory (enrolled or not)."""
    return user.has_two_factor or role_requires_two_factor(user.role)


def session_needs_two_factor(request) -> bool:
    """True when this logged-in session must still pass (or set up) 2FA before it may do anything."""
    if request.session.get(SESSION_VERIFIED):
        return False
    return user_must_use_two_factor(request.user)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline <svg> (no image request, works offline)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#1d2330")


def verify_code(secret: str, code: str) -> bool:
    code = (code or "").replace(" ", "")
    return bool(secret) and code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


def _failures_key(user_id) -> str:
    return f"2fa-failures:{user_id}"


def is_locked(user_id) -> bool:
    return (cache.get(_failures_key(user_id)) or 0) >= MAX_FAILURES


def record_failure(user_id) -> int:
    """Count a wrong code in a fixed window; returns the count so far."""
    key = _failures_key(user_id)
    if cache.add(key, 1, timeout=FAILURE_WINDOW_SECONDS):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=FAILURE_WINDOW_SECONDS)
        return 1


def clear_failures(user_id) -> None:
    cache.delete(_failures_key(user_id))


def mark_code_used(user_id, code: str) -> bool:
    """Remember a code that just worked; False when it had already been used (a replay)."""
    return cache.add(f"2fa-used:{user_id}:{code.replace(' ', '')}", 1, timeout=USED_CODE_SECONDS)
