"""What the public tracker (/events/collect) may do beyond what every ingest checks: who a visitor may say they are,
and how much one visitor, one address and one site may send.

A browser holds only the site's publishable key, so whatever it says about who the visitor is could have been typed
by anyone. Identity rules (kervan.events.ingest.run_storefront_identify applies them):

- A *signed* identify is the shop's word: its server computed `signature` = hex HMAC-SHA256(site.identity_secret,
  the identifier) for the customer logged in to the shop — the customer id (`user_id`) when one is sent, otherwise
  the email, otherwise the phone, exactly as sent — as Intercom's and Chatwoot's identity verification do. It
  joins the visitor to the customer who holds that identifier (or to the visitor's own profile, or a new one).
- An *unsigned* identify never changes a customer that already exists: when the visitor already has a profile it
  stays with it (identifiers that profile already holds simply name it again); otherwise the identifiers nobody
  holds yet make a new profile for the visitor, and those that belong to someone else are ignored. The answer is the
  same whichever happened, so the endpoint does not tell who is a customer.

Volume: a request speaks for at most `visitors_per_request` visitors (a browser has one), and items are counted per
visitor, per address and per site, and new profiles per visitor, per address and per site, in fixed windows in the
shared cache (settings.KERVAN_TRACKER_LIMITS; kervan.accounts.throttle). Over a limit: 429 with Retry-After.
"""

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from kervan.accounts import throttle
from kervan.core.errors import KervanError
from kervan.events.models import TrackerSite

DEFAULT_LIMITS: dict[str, object] = {
    "visitors_per_request": 2,  # a browser has one visitor id; two covers an id reset while a batch was queued
    "visitor_items": (200, 600),  # (items, seconds)
    "address_items": (1000, 600),
    "site_items": (100_000, 600),
    "visitor_new_profiles": (3, 86_400),
    "address_new_profiles": (20, 3_600),
    "site_new_profiles": (1_000, 3_600),
}


@dataclass(frozen=True)
class Storefront:
    """Who is calling the collect endpoint: the site whose key it used, from which address (None if unknown)."""

    site: TrackerSite
    address: str | None = None


def identity_signature(secret: str, value: str) -> str:
    """What the shop's server computes: hex HMAC-SHA256 of the identifier, keyed with the site's identity secret."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def signature_matches(secret: str, signature: str, *values: str) -> bool:
    """Whether `signature` signs one of `values` (an identifier as sent, or its normalised form)."""
    if not (secret and signature):
        return False
    given = signature.strip().lower()
    return any(value and hmac.compare_digest(identity_signature(secret, value), given) for value in values)


def limit(name: str) -> throttle.Limit:
    configured = {**DEFAULT_LIMITS, **getattr(settings, "KERVAN_TRACKER_LIMITS", {})}
    return throttle.Limit.of(configured[name])


def visitors_per_request() -> int:
    return int({**DEFAULT_LIMITS, **getattr(settings, "KERVAN_TRACKER_LIMITS", {})}["visitors_per_request"])


def check_request(storefront: Storefront, visitor_ids: Iterable[str]) -> None:
    """Count a request's items (one visitor id per item) against the visitor, address and site limits."""
    per_visitor = Counter(visitor_ids)
    if len(per_visitor) > visitors_per_request():
        raise KervanError(
            _("One request may speak for at most %(count)s visitors; a browser sends its own events only.")
            % {"count": visitors_per_request()},
            "too_many_visitors",
            status=422,
            field="batch",
        )
    site = storefront.site.pk
    for visitor, count in per_visitor.items():
        throttle.check(
            f"tracker:visitor:{site}:{throttle.hashed(visitor)}",
            limit("visitor_items"),
            cost=count,
            detail=_("Too many events from this visitor; the tracker will send them again later."),
            code="visitor_rate_limited",
        )
    total = sum(per_visitor.values())
    if storefront.address:
        throttle.check(
            f"tracker:address:{site}:{throttle.hashed(storefront.address)}",
            limit("address_items"),
            cost=total,
            detail=_("Too many events from this address; the tracker will send them again later."),
            code="address_rate_limited",
        )
    throttle.check(
        f"tracker:site:{site}",
        limit("site_items"),
        cost=total,
        detail=_("This site is sending more events than its limit; the tracker will send them again later."),
        code="site_rate_limited",
    )


def claim_new_profile(storefront: Storefront, visitor: str) -> None:
    """Count one new customer profile made by the tracker; RateLimited once a visitor, address or site has made
    its window's allowance (the batch is then refused whole, and nothing is written)."""
    site = storefront.site.pk
    detail = _("Too many new customer profiles from this browser; try again later.")
    throttle.check(
        f"tracker:profiles:visitor:{site}:{throttle.hashed(visitor)}",
        limit("visitor_new_profiles"),
        detail=detail,
        code="profile_limit",
    )
    if storefront.address:
        throttle.check(
            f"tracker:profiles:address:{site}:{throttle.hashed(storefront.address)}",
            limit("address_new_profiles"),
            detail=detail,
            code="profile_limit",
        )
    throttle.check(
        f"tracker:profiles:site:{site}",
        limit("site_new_profiles"),
        detail=_("This site has made more new customer profiles than its limit; try again later."),
        code="profile_limit",
    )
