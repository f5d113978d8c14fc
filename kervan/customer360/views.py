"""The Customer 360 page: the customer core's header, the cards and the timeline other apps register; and an Admin's
export and erasure of the person's data."""

import json

from django.contrib import messages
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kervan.accounts.actors import Actor
from kervan.accounts.context_processors import who_label
from kervan.accounts.decorators import require_access
from kervan.core.audit import audit_view
from kervan.core.web import form_action
from kervan.customer360.selectors import customer_360_read
from kervan.customer360.timeline import TimelineItem, customer_timeline, timeline_present_many, visible_sources
from kervan.customers import selectors
from kervan.customers.cache import cached_360
from kervan.customers.models import ConsentRecord, Customer
from kervan.customers.privacy import customer_anonymise, customer_data_export
from kervan.customers.registry import cards

# The 360 page is rendered once per customer, language and role with these placeholders where each response
# differs (the viewer's CSRF token, name and the page's own address), then filled in per response: a cached view
# renders no template at all.
# What an Admin may type, instead of the customer's email, to confirm an erasure (a profile may have no email).
ANONYMISE_WORD = "ANONYMISE"
_HOLES = {"csrf_token": "kervan-hole-csrf-token", "who": "kervan-hole-who", "here": "kervan-hole-here"}


@require_access("customers", "read")
def customer_detail(request, customer_id: int):
    visible = [s.kind for s in visible_sources(request.actor)]
    kinds = [k for k in request.GET.getlist("kind") if k in visible]
    cursor = request.GET.get("cursor") or None
    if request.htmx and (cursor or request.htmx.target == "timeline-box"):
        # "Older" (the next page's entries) or a changed kind filter (the whole timeline box): just that part.
        customer = selectors.customer_get(actor=request.actor, customer_id=customer_id)
        template = "customer360/_timeline_items.html" if cursor else "customer360/_timeline.html"
        return render(request, template, _timeline_page(request.actor, customer, kinds, cursor))

    def build() -> dict:
        return _render_360(request, customer_id, kinds=kinds, cursor=cursor)

    if kinds or cursor or messages.get_messages(request):
        page = build()  # a filtered or later timeline page, or one-off messages to show: not cached
    else:  # the first view of a profile, by far the most frequent
        page = cached_360(customer_id, f"page:{get_language()}:{request.user.role}", build)
    if page["merged_into"]:
        messages.info(request, _("This profile was merged into another one."))
        return redirect("customer360:detail", customer_id=page["merged_into"])
    audit_view(actor=request.actor, customer_id=customer_id)
    html = page["html"]
    for name, value in (
        ("csrf_token", get_token(request)),
        ("who", escape(who_label(request.user))),
        ("here", escape(request.get_full_path())),
    ):
        html = html.replace(_HOLES[name], value)
    return HttpResponse(html)


def _render_360(request, customer_id: int, *, kinds: list[str], cursor: str | None) -> dict:
    """The 360 page as HTML with _HOLES, or where a merged profile went."""
    actor = request.actor
    customer, view = customer_360_read(actor=actor, customer_id=customer_id)
    if view is None:  # a merged-away id: the page of the survivor
        return {"merged_into": customer.pk, "html": ""}
    channels = dict(ConsentRecord.Channel.choices)
    context = {
        **_timeline_page(actor, customer, kinds, cursor),
        "view": view,
        # Each channel's marketing consent in words: "Email: granted", "SMS: unknown".
        "consent_badges": [
            (channel, channels.get(channel, channel), slots.get("marketing"))
            for channel, slots in view.consents.items()
        ],
        "cards": _cards(actor, customer),
        "all_kinds": [(s.kind, s.label) for s in visible_sources(actor)],
        "channels": ConsentRecord.Channel.choices,
        "iys_sources": ConsentRecord.IysSource.choices,
        **_HOLES,
    }
    return {"merged_into": None, "html": render_to_string("customer360/detail.html", context, request=request)}


def _cards(actor: Actor, customer: Customer) -> list[str]:
    """The registered cards the role may see and that have something to show, rendered."""
    shown = []
    for card in cards():
        if actor.can(card.area, "read"):
            context = card.context(customer)
            if context is not None:
                shown.append(render_to_string(card.template, context))
    return shown


def _timeline_page(actor: Actor, customer: Customer, kinds: list[str], cursor: str | None) -> dict:
    """What the timeline templates show: one page of entries (item, presented) and the cursor for the next."""
    items, next_cursor = customer_timeline(actor=actor, customer_id=customer.pk, kinds=kinds or None, cursor=cursor)
    presented = timeline_present_many(items)
    entries = [(item, _shown_on_page(actor, item, shown)) for item, shown in zip(items, presented, strict=True)]
    return {
        "customer": customer,
        "entries": entries,
        "next_cursor": next_cursor,
        "kinds": kinds,
        "timeline_rows": _timeline_rows(entries, kinds, next_cursor),
    }


def _timeline_rows(entries: list[tuple[TimelineItem, dict]], kinds: list[str], next_cursor: str | None) -> str:
    """The timeline's <li> rows (and the "Older" link), as customer360/_timeline_items.html prints them: made here in
    plain Python, because a template loop with its variable lookups and filters over 30 entries cost more than the
    rest of the page's HTML."""
    esc = conditional_escape
    out = []
    for item, shown in entries:
        kind = esc(item.kind)
        title = esc(shown["title"])
        if shown.get("url"):
            title = f'<a href="{esc(shown["url"])}">{title}</a>'
        out.append(
            f'\n<li class="tl-{kind}">\n  <span class="when" title="{esc(shown["when_iso"])}">'
            f"{esc(shown['when'])}</span>"
            f'\n  <span class="icon kind-{kind}" aria-hidden="true"></span>\n  <div>\n    <strong>{title}</strong>\n'
        )
        summary, byline = shown.get("summary"), shown.get("byline")
        if summary:
            muted = "" if byline else ' class="muted"'
            out.append(f"    <div{muted}>{linebreaksbr(summary, autoescape=True)}</div>\n")
        if byline:
            out.append(f'    <div class="muted">{esc(byline)}</div>\n')
        if shown.get("steps"):
            out.append(
                '<div class="tl-steps" style="margin-top:4px;padding-left:10px;border-left:2px solid var(--line);'
                'font-size:13px">'
            )
            for step in shown["steps"]:
                detail = f' <span class="muted">· {esc(step["detail"])}</span>' if step.get("detail") else ""
                out.append(
                    f'<div class="tl-step"><span class="step-title">{esc(step["title"])}</span> <time class="muted"'
                    f' datetime="{esc(step["when_iso"])}">{esc(step["when"])}</time>{detail}</div>'
                )
            out.append("</div>\n")
        out.append("  </div>\n</li>\n")
    if next_cursor:
        query = f"?cursor={esc(next_cursor)}" + "".join(f"&kind={esc(k)}" for k in kinds)
        out.append(
            f'\n<li id="timeline-more" style="display:block">\n  <a class="button" href="{query}" hx-get="{query}"'
            f' hx-target="#timeline-more" hx-swap="outerHTML">{esc(_("Older"))}</a>\n</li>\n'
        )
    return mark_safe("".join(out))  # noqa: S308 (every value above is escaped)


def _shown_on_page(actor: Actor, item: TimelineItem, shown: dict) -> dict:
    """What the source presents plus the text the page prints for it, made here: for 30 entries, template filters
    and loops cost more than the rest of building an uncached 360 page (dates, the title's link)."""
    when = timezone.localtime(item.occurred_at)
    shown["when"], shown["when_iso"] = when.strftime("%d.%m.%Y %H:%M"), when.isoformat()
    link = shown.pop("link", None)
    if link is not None:
        url_name, object_id, area = link
        if actor.can(area, "read"):
            shown["url"] = reverse(url_name, args=[object_id])
    return shown


@require_POST  # it is audited: never a link a crawler or a prefetch could follow
@require_access("privacy", "read")
def personal_data_export(request, customer_id: int):
    """Everything Kervan holds about the person as a JSON download (KVKK/GDPR subject access): Admins only."""
    customer = selectors.customer_get(actor=request.actor, customer_id=customer_id)
    data = customer_data_export(actor=request.actor, customer=customer)
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}-personal-data.json"'
    return response


@require_access("privacy", "write")
def personal_data_anonymise(request, customer_id: int):
    """Erase what identifies the person (customers.privacy), after the Admin types the customer's email (or
    ANONYMISE when there is none) and a reason."""
    customer = selectors.customer_get(actor=request.actor, customer_id=customer_id)
    error = ""
    if request.method == "POST":
        typed = request.POST.get("confirm", "").strip()
        expected = {ANONYMISE_WORD}
        if customer.email:
            expected.add(customer.email.casefold())
        if typed.casefold() not in {e.casefold() for e in expected}:
            error = _("Type the customer's email address or ANONYMISE to confirm.")
        elif form_action(
            request,
            customer_anonymise,
            customer=customer,
            reason=request.POST.get("reason", ""),
            success=_("The customer's personal data was erased; their orders are kept."),
        ):
            return redirect("customer360:detail", customer_id=customer.pk)
    return render(
        request,
        "customer360/anonymise.html",
        {"customer": customer, "error": error, "reason": request.POST.get("reason", "")},
    )
