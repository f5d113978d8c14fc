"""Open and click tracking, and the links every marketing message carries (unsubscribe, preference centre).

Every link is a signed, expiring token (django.core.signing, salted per kind): the click token carries the URL that
was in the message, so the redirect can only go where the message pointed, and a tampered or expired token is
refused. Links get UTM tags unless they already have them, so orders from the message are attributed."""

import functools
import re
from html import escape, unescape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.urls import reverse

from kervan.messaging.models import Message

MAX_AGE_S = 365 * 24 * 3600  # a link in an old email keeps working for a year
SALT = "kervan.messaging.tracking"
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
# Fetches that are not a person reading: mail scanners, link checkers, prefetching proxies that say so.
_URL = re.compile(r"https?://[^\s<>\"']+")
MACHINE_AGENTS = re.compile(
    r"bot|crawler|spider|python|curl|wget|go-http|java/|okhttp|barracuda|mimecast|proofpoint|symantec|"
    r"messagelabs|ironport|forcepoint|trendmicro|safelinks|linkscanner|headless|preview",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=16)
def _route(name: str, base: str) -> tuple[str, str]:
    """The public URL of `name` around its token, resolved once: a campaign makes a dozen links per message, and
    Django's reverse() costs more than the rest of a link together."""
    head, tail = reverse(name, args=["TOKEN"]).split("TOKEN")
    return base.rstrip("/") + head, tail


def link(name: str, value: str) -> str:
    """The public URL of the route `name` ("messaging:click") with the token `value`."""
    head, tail = _route(name, settings.KERVAN_PUBLIC_URL)
    return head + value + tail


def token(kind: str, message_id: int, url: str = "") -> str:
    return signing.dumps([kind, message_id, url], salt=SALT)


def read_token(value: str, kind: str) -> tuple[int, str] | None:
    """(message id, url) from a token of `kind`; None when it is forged, altered, expired or of another kind."""
    try:
        found_kind, message_id, url = signing.loads(value, salt=SALT, max_age=MAX_AGE_S)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if found_kind != kind or not isinstance(message_id, int):
        return None
    return message_id, url


def links_for(message: Message) -> dict[str, str]:
    return {
        "unsubscribe_url": link("messaging:unsubscribe", token("unsubscribe", message.pk)),
        "preferences_url": link("messaging:preferences", token("preferences", message.pk)),
    }


@functools.lru_cache(maxsize=4096)
def with_utm(url: str, *, medium: str, campaign: str) -> str:
    """`url` with UTM tags (kept if it has its own). Cached: every message of a campaign has the same links."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = {name for name, _ in query}
    for name, value in (("utm_source", "kervan"), ("utm_medium", medium), ("utm_campaign", campaign)):
        if name not in names:
            query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def tracked_html(html: str, message: Message, *, own_links: set[str], clicks: dict[str, str]) -> str:
    """Links through the click redirect (with UTM tags), and the open pixel before </body>. The message's own
    unsubscribe and preference links stay as they are: following them is not a click on the content. `clicks`
    (original → tracked) is shared with the text part, so each link is signed once per message."""

    def rewrite(match: re.Match) -> str:
        href = unescape(match.group(3)).strip()
        if not href.startswith(("http://", "https://")) or href in own_links:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{escape(_click(href, message, clicks))}{match.group(2)}"

    html = _HREF.sub(rewrite, html)
    pixel_url = link("messaging:open", token("open", message.pk))
    pixel = f'<img src="{escape(pixel_url)}" width="1" height="1" alt="" style="display:none">'
    at = html.lower().rfind("</body>")
    return html[:at] + pixel + html[at:] if at >= 0 else html + pixel


def tracked_text(text: str, message: Message, *, own_links: set[str], clicks: dict[str, str]) -> str:
    """SMS and text parts: plain URLs through the click redirect."""

    def rewrite(match: re.Match) -> str:
        url = match.group(0)
        return url if url in own_links else _click(url, message, clicks)

    return _URL.sub(rewrite, text)


def _click(url: str, message: Message, clicks: dict[str, str]) -> str:
    if url not in clicks:
        target = with_utm(url, medium=message.channel, campaign=message.origin.replace(":", "-"))
        clicks[url] = link("messaging:click", token("click", message.pk, target))
    return clicks[url]


def is_machine(user_agent: str, seconds_since_sent: float | None) -> bool:
    """A fetch by a scanner or a prefetching proxy: by its agent, or too soon after sending for a person."""
    return bool(MACHINE_AGENTS.search(user_agent or "")) or (seconds_since_sent is not None and seconds_since_sent < 2)
