"""TOTP two-factor authentication: enrolment, verification, and the per-role mandatory policy."""

import pyotp

from kervan.accounts.models import RolePolicy

SESSION_VERIFIED = "two_factor_verified"


def role_requires_two_factor(role: str) -> bool:
    return RolePolicy.objects.filter(role=role, require_two_factor=True).exists()


def session_needs_two_factor(request) -> bool:
    """True when this logged-in session must still pass (or set up) 2FA before it may do anything."""
    user = request.user
    if request.session.get(SESSION_VERIFIED):
        return False
    return user.has_two_factor or role_requires_two_factor(user.role)


def verify_code(secret: str, code: str) -> bool:
    code = (code or "").replace(" ", "")
    return bool(secret) and code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1)
