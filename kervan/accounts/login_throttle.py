"""Sign-in throttling: wrong passwords are counted per account and per address, and past a limit sign-in waits a few
minutes (settings.KERVAN_LOGIN_THROTTLE).

- Every attempt is counted *before* the password is checked, with one atomic increment, so a burst of parallel
  guesses cannot all slip in before the first failure is recorded. A correct password clears the account's count
  and gives its address back the attempt (an attacker cannot clear an address by signing in to their own account
  between guesses: only their own attempt is given back).
- Past `account_failures` for one username, or `address_failures` from one address, within `window` seconds, that
  username or address is locked for `lock` seconds (minutes, not hours); then a fresh count starts. While locked,
  even the right password is refused, without being checked.
- Usernames that do not exist are counted and locked exactly like real ones, with the same message: the answers do
  not tell whether an account exists.
- A stranger who keeps guessing could keep a real user's account locked. The browser a user has signed in with
  before carries a signed cookie naming that account (OWASP's "device cookie"); its attempts are counted on their
  own, not with the stranger's, so its owner still signs in while the account is under attack.
"""

import math
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import ngettext

from kervan.accounts import throttle
from kervan.accounts.api_auth import client_ip
from kervan.accounts.throttle import Limit, RateLimited
from kervan.core import clock

DEVICE_COOKIE = "kervan_device"
DEVICE_MAX_AGE = 180 * 24 * 3600
_DEVICE_SALT = "kervan.accounts.login_throttle.device"
DEFAULTS = {"account_failures": 5, "address_failures": 20, "window": 900, "lock": 300}


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt, already counted: the keys it was counted under."""

    account_key: str
    address_key: str
    account_limit: Limit
    address_limit: Limit
    username_key: str


def _config() -> dict[str, int]:
    return {**DEFAULTS, **getattr(settings, "KERVAN_LOGIN_THROTTLE", {})}


def _username_key(username: str) -> str:
    return throttle.hashed((username or "").strip().casefold())


def locked_message(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed sign-in attempts. Wait %(minutes)s minute, then try again.",
        "Too many failed sign-in attempts. Wait %(minutes)s minutes, then try again.",
        minutes,
    ) % {"minutes": minutes}


def _locked(seconds: float) -> RateLimited:
    return RateLimited(locked_message(seconds), "login_locked", retry_after=math.ceil(seconds))


def attempt_begin(request: HttpRequest, username: str) -> Attempt:
    """Count a sign-in attempt for `username` from this request's address before its password is checked.
    RateLimited("login_locked") when the account or the address is locked, or this attempt passes a limit."""
    config = _config()
    username_key = _username_key(username)
    device = _trusted_device(request, username_key)
    account_key = f"login:device:{username_key}:{device}" if device else f"login:account:{username_key}"
    attempt = Attempt(
        account_key=account_key,
        address_key=f"login:address:{throttle.hashed(client_ip(request))}",
        account_limit=Limit(config["account_failures"], config["window"]),
        address_limit=Limit(config["address_failures"], config["window"]),
        username_key=username_key,
    )
    now = clock.now().timestamp()
    for key in (attempt.account_key, attempt.address_key):
        until = cache.get(f"{key}:locked-until")
        if until and until > now:
            raise _locked(until - now)
    for key, limit in ((attempt.account_key, attempt.account_limit), (attempt.address_key, attempt.address_limit)):
        count, _left = throttle.hit(key, limit)
        if count > limit.count:
            cache.set(f"{key}:locked-until", now + config["lock"], timeout=config["lock"] + 60)
            throttle.forget(key, limit)  # after the lock, a fresh allowance
            raise _locked(config["lock"])
    return attempt


def attempt_succeeded(attempt: Attempt, response: HttpResponseBase) -> None:
    """The password was right: clear the account's count, give the address its attempt back, and remember this
    browser as one that signs in to this account (the device cookie)."""
    throttle.forget(attempt.account_key, attempt.account_limit)
    throttle.give_back(attempt.address_key, attempt.address_limit)
    token = signing.dumps({"u": attempt.username_key, "n": secrets.token_hex(8)}, salt=_DEVICE_SALT)
    response.set_cookie(
        DEVICE_COOKIE,
        token,
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def _trusted_device(request: HttpRequest, username_key: str) -> str:
    """The device cookie's own id when this browser has signed in to this account before; "" otherwise."""
    token = request.COOKIES.get(DEVICE_COOKIE)
    if not token:
        return ""
    try:
        value = signing.loads(token, salt=_DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:
        return ""
    if not isinstance(value, dict) or value.get("u") != username_key:
        return ""
    return str(value.get("n") or "")[:32]
