"""The shell's own pages: the global search, saving and deleting a list's views, and bulk actions on ticked rows."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kervan.accounts.actors import Actor
from kervan.accounts.api_auth import client_ip
from kervan.core.audit import audit
from kervan.core.errors import KervanError
from kervan.workspace.lists import clean_value, list_spec
from kervan.workspace.models import SavedView
from kervan.workspace.search import search_sources

SEARCH_HITS_PER_SOURCE = 8
MAX_BULK_IDS = 1000


def saved_views_for(user, list_key: str) -> list[SavedView]:
    """The user's own views of a list and those the team shares, by name."""
    return list(SavedView.objects.filter(Q(owner=user) | Q(shared=True), list_key=list_key).order_by("name", "id"))


def _actor(request) -> Actor:
    return Actor.for_user(request.user, client_ip(request))


def _back(request, fallback: str):
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


@login_required
def global_search(request):
    """One box for customers, orders (by number) and products: each registered source the role may read answers."""
    words = clean_value(request.GET.get("q", ""))[:100]
    actor = _actor(request)
    groups = []
    if words:
        for source in search_sources():
            if actor.can(source.area, "read"):
                hits = source.find(actor, words, SEARCH_HITS_PER_SOURCE)
                more = source.more_url(words) if source.more_url and len(hits) >= SEARCH_HITS_PER_SOURCE else ""
                groups.append((source, hits, more))
        if sum(len(hits) for _source, hits, _more in groups) == 1:
            only = next(hits[0] for _source, hits, _more in groups if hits)
            return redirect(only.url)  # one match: open it, as a shop owner typing an order number expects
    return render(request, "workspace/search.html", {"words": words, "groups": groups})


@require_POST
@login_required
def view_save(request, list_key: str):
    spec = list_spec(list_key)
    actor = _actor(request)
    if spec is None or not actor.can(spec.area, "read"):
        return render(request, "403.html", {"domain": list_key, "access": "read"}, status=403)
    name = request.POST.get("name", "").strip()[:80]
    if not name:
        messages.error(request, _("Give the view a name."))
        return _back(request, spec.url_name)
    query = request.POST.get("query", "")[:2000]
    view, created = SavedView.objects.update_or_create(
        owner=request.user,
        list_key=list_key,
        name=name,
        defaults={"query": query, "shared": request.POST.get("shared") == "on"},
    )
    audit(
        actor=actor,
        action="create" if created else "update",
        obj=view,
        changes={"list": list_key, "name": name, "query": query, "shared": view.shared, "created": created},
    )
    messages.success(request, _("View “%(name)s” saved.") % {"name": name})
    return redirect(f"{reverse(spec.url_name)}?{query}&view={view.pk}")


@require_POST
@login_required
def view_delete(request, view_id: int):
    view = SavedView.objects.filter(pk=view_id).first()
    actor = _actor(request)
    if view is None or (view.owner_id != request.user.pk and not actor.can("settings", "write")):
        messages.error(request, _("You can delete only your own views."))
        return _back(request, "/")
    audit(actor=actor, action="delete", obj=view, changes={"list": view.list_key, "name": view.name})
    view.delete()
    messages.success(request, _("View deleted."))
    return _back(request, "/")


@require_POST
@login_required
def bulk_action(request, list_key: str):
    """Run one of a list's bulk actions on the ticked rows (ids of the list's rows the actor may see: the action's
    own selector scopes them again)."""
    spec = list_spec(list_key)
    actor = _actor(request)
    action = next((a for a in spec.bulk if a.key == request.POST.get("action")), None) if spec else None
    if spec is None or action is None:
        messages.error(request, _("Choose an action."))
        return _back(request, "/")
    if not actor.can(action.area, action.access):
        return render(request, "403.html", {"domain": action.area, "access": action.access}, status=403)
    try:
        ids = sorted({int(i) for i in request.POST.getlist("ids")})
    except ValueError:
        ids = []
    if not ids:
        messages.error(request, _("Tick at least one row first."))
        return _back(request, spec.url_name)
    if len(ids) > MAX_BULK_IDS:
        messages.error(request, _("Choose at most %(max)s rows at once.") % {"max": MAX_BULK_IDS})
        return _back(request, spec.url_name)
    try:
        outcome = action.run(request, actor, ids, request.POST.get(f"value-{action.key}", ""))
    except KervanError as exc:
        messages.error(request, exc.detail)
        return _back(request, spec.url_name)
    if isinstance(outcome, HttpResponseBase):
        return outcome
    messages.success(request, outcome)
    return _back(request, spec.url_name)
