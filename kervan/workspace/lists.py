"""The lists a shop works from (customers, orders, products, events, later segment members), all built one way.

An app describes its list once with a `ListSpec` — its filters, sorts, columns, bulk actions, and the selector that
turns the (raw) filter values into a queryset — registers it, and serves it with `render_list(request, spec)`. The
API endpoint of the same list calls the same selector with the same parameter names, so the page and the API agree.

What every list gets from here, the same everywhere:
- a bad filter value is answered with a message next to that filter while the other filters stay applied: the
  selector raises `KervanError(field=<filter key>)`, the filter is dropped and the query tried again;
- the result count: exact when cheap, otherwise an estimate labelled as one, made exact on demand (`count_rows`);
- cursor pagination ("Show more" loads the next page into the table);
- saved views (a named query string: filters, sort and columns; private or shared) and a column chooser;
- bulk actions on the ticked rows, each with the permission it needs;
- an empty state that says what to do next.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kervan.core.errors import KervanError
from kervan.core.pagination import paginate

PAGE_SIZE = 50
# Up to this many matching rows a list's count is exact (one bounded COUNT); beyond it PostgreSQL's estimate is
# shown as "about …" and made exact on demand, so a count never makes a list slow.
EXACT_COUNT_UP_TO = 10_000
# Query parameters that are not filters: the list's own machinery.
RESERVED = ("sort", "cols", "cursor", "view", "count")


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # a lazy translation
    default: bool = True  # shown until the user chooses columns
    num: bool = False  # right-aligned figures
    sort: str = ""  # the sort key ordering by this column: its header becomes a link


@dataclass(frozen=True)
class Filter:
    """One filter input. `kind`: text, search, choice, date, amount or number. `choices()` is read at render time and
    must come from a small table or a cache, never from a scan of the list's rows."""

    key: str
    label: Any
    kind: str = "text"
    choices: Callable[[], Sequence[tuple[str, Any]]] | None = None
    placeholder: Any = ""
    wide: bool = False


@dataclass(frozen=True)
class BulkAction:
    """Something to do with the ticked rows. `run(request, actor, ids, value)` returns a message for the next page,
    or a response (a CSV download); `value` is what was typed in the action's own box (the tag to add), if it has
    one (`needs_value`)."""

    key: str
    label: Any
    area: str
    access: str
    run: Callable[[HttpRequest, Any, list[int], str], str | HttpResponseBase]
    needs_value: Any = None  # a label when the action takes a value (the tag to add)
    confirm: Any = None  # a question asked before it runs


@dataclass(frozen=True)
class ListSpec:
    key: str  # names the list's saved views and bulk actions: "customers", "orders"…
    title: Any
    area: str
    url_name: str
    # (actor, {filter key: raw value, only non-empty ones}, sort key) → (queryset, keyset order for paginate)
    query: Callable[[Any, dict[str, str], str], tuple[QuerySet[Any], str]]
    row_template: str  # renders the <tr>s of page.items; gets `cols` (visible column keys) and `bulk`
    columns: tuple[Column, ...]
    filters: tuple[Filter, ...] = ()
    sorts: tuple[tuple[str, Any], ...] = ()  # (key, label); the first is the default
    bulk: tuple[BulkAction, ...] = ()
    empty: Any = ""  # what to do when the list is empty (no filter applied)
    empty_action: tuple[Any, str] | None = None  # (label, url name) of the button the empty state offers
    multi: tuple[str, ...] = ()  # filters that take several values (?status=paid&status=placed)
    template: str = "workspace/list.html"  # a list's own page may extend it (its buttons in block list_actions)
    # (actor, {filter key: raw value}, sort) → the whole filtered list as a streamed CSV download (None: no export)
    export: Callable[[Any, dict[str, Any], str], HttpResponseBase] | None = None

    @property
    def default_sort(self) -> str:
        return self.sorts[0][0] if self.sorts else ""

    def filter_keys(self) -> list[str]:
        return [f.key for f in self.filters]


_lists: dict[str, ListSpec] = {}


def register_list(spec: ListSpec) -> None:
    if _lists.get(spec.key, spec) != spec:
        raise ValueError(f"list '{spec.key}' is already registered")
    _lists[spec.key] = spec


def register_bulk_action(list_key: str, action: BulkAction) -> None:
    """Add a bulk action to a list another app registered ("Add to a list" on the customers, from the segments app),
    from the adding app's AppConfig.ready(). The registered spec's tuple is extended in place (the same object the
    owning app renders), once per action key."""
    spec = _lists.get(list_key)
    if spec is None:
        raise ValueError(f"list '{list_key}' is not registered")
    if any(a.key == action.key for a in spec.bulk):
        return
    object.__setattr__(spec, "bulk", (*spec.bulk, action))


def list_spec(key: str) -> ListSpec | None:
    return _lists.get(key)


def list_specs() -> list[ListSpec]:
    return list(_lists.values())


@dataclass
class Count:
    value: int
    exact: bool

    def __str__(self) -> str:
        return str(self.value)


def count_rows(qs: QuerySet[Any], *, exact: bool = False) -> Count:
    """How many rows `qs` holds: exact up to EXACT_COUNT_UP_TO (a COUNT over at most that many rows), beyond it an
    estimate (labelled, `exact=False`) unless `exact` is asked for: PostgreSQL's planner estimate (one above twice
    the exact range is not checked by counting), on SQLite a sample (`_sampled_estimate`).

    A selector that knows the exact number already (it read the rows' ids), or a cheaper way to count them, sets
    `qs.known_count` to it or to a function that counts; one whose query is planned for walking a sort order sets
    `qs.count_from` to the same rows planned for counting."""
    known = getattr(qs, "known_count", None)
    if known is not None:
        return Count(int(known() if callable(known) else known), True)
    count_from = getattr(qs, "count_from", None)
    if count_from is not None:
        qs = count_from
    qs = qs.order_by()
    if exact:
        return Count(qs.count(), True)
    if connection.vendor == "postgresql":
        # The estimate first (planning only, no row read): far beyond the exact range, counting even 10,001 rows
        # is work for nothing — 10 to 40 ms at 1M customers for a filter on a quarter of them ("vip", a big city, a
        # common word) — so the estimate is the answer. Near or below it, the bounded count decides, unless the
        # plan says it would read far more rows than it counts (a filter no index serves: an event property).
        try:
            estimate, cost = _planner_estimate(qs)
        except EmptyResultSet:  # a filter no row can match (an empty id list, qs.none())
            return Count(0, True)
        if cost > COUNT_COST_LIMIT:
            return Count(estimate, False)
    else:  # the same order of work, the estimate from a sample
        sampled = _sampled_estimate(qs)
        if sampled is None:  # a small table: counted
            return Count(qs.count(), True)
        estimate = sampled
    if estimate > 2 * EXACT_COUNT_UP_TO:
        return Count(estimate, False)
    bounded = _within_budget(lambda: qs[: EXACT_COUNT_UP_TO + 1].count())
    if bounded is None:  # it took longer than a list may wait: the estimate stands in
        return Count(estimate, False)
    if bounded <= EXACT_COUNT_UP_TO:
        return Count(bounded, True)
    return Count(max(estimate, bounded), False)


# A count never makes the list slow (the lists' target: 50 ms on PostgreSQL at 1M customers, 100 ms on SQLite at
# 100k). PostgreSQL: a bounded count whose plan costs more than COUNT_COST_LIMIT (planner units) is not run — at 1M
# customers / 10M orders / 5M events the lists' counts cost 260-15,000 (1-45 ms), an event property filter's 204,000
# (1.2 s). SQLite, with no planner costs to read: a bounded count running longer than COUNT_BUDGET_MS is stopped by
# a progress handler (no extra query either way).
COUNT_COST_LIMIT = 50_000.0
COUNT_BUDGET_MS = 40


def _within_budget(count: Callable[[], int]) -> int | None:
    """`count()`, or None when SQLite has run it for COUNT_BUDGET_MS (other databases: always counted)."""
    if connection.vendor != "sqlite":
        return count()
    connection.ensure_connection()
    raw = connection.connection
    deadline = time.monotonic() + COUNT_BUDGET_MS / 1000
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
    try:
        return count()
    except OperationalError:  # "interrupted"
        return None
    finally:
        raw.set_progress_handler(None, 0)


SAMPLE_SLICES = 20
KEY_SPAN_SECONDS = 60


def _sampled_estimate(qs: QuerySet[Any]) -> int | None:
    """SQLite keeps no statistics to estimate from, and counting a big list exactly reads all of it (30-150 ms for
    the orders or customers of a 100k-customer shop): count the matching rows in SAMPLE_SLICES slices of the
    primary keys spread evenly over the table (EXACT_COUNT_UP_TO keys in all, read by key range) and scale up.
    Spread over the whole table, the slices see old and new rows alike (a filter on "has ordered" matches old
    customers more often than new ones). None for a table that is no bigger than the sample (or has no integer
    key): count it."""
    pk = qs.model._meta.pk
    if pk.get_internal_type() not in ("AutoField", "BigAutoField", "IntegerField", "BigIntegerField"):
        return None
    # The ends of the key, remembered for a minute (a table's span hardly moves in that time, and a small list's
    # page then costs its one COUNT, as before sampling): two look-ups, since one MIN and MAX is a scan on SQLite.
    span_key = f"lists:key-span:{qs.model._meta.db_table}"
    ends = cache.get(span_key)
    if ends is None:
        keys = qs.model._base_manager.order_by("pk").values_list("pk", flat=True)
        ends = (keys.first(), keys.last())
        cache.set(span_key, ends, KEY_SPAN_SECONDS)
    low, high = ends
    if low is None:
        return None  # empty a minute ago: counted
    span = high - low + 1
    width = max(1, EXACT_COUNT_UP_TO // SAMPLE_SLICES)
    if width * SAMPLE_SLICES >= span:
        return None
    step = span // SAMPLE_SLICES
    # One SELECT per slice (UNION ALL): each is planned on its own key range; ORed together, the planner may read a
    # filter's index instead.
    rows = qs.order_by().values("pk")
    slices = [rows.filter(pk__gte=low + i * step, pk__lt=low + i * step + width) for i in range(SAMPLE_SLICES)]
    found = slices[0].union(*slices[1:], all=True).count()
    return int(round(found * span / (width * SAMPLE_SLICES)))


def _planner_estimate(qs: QuerySet[Any]) -> tuple[int, float]:
    """(rows `qs` is estimated to hold, the planner's cost of reading the first EXACT_COUNT_UP_TO + 1 of them)."""
    sql, params = qs.values("pk")[: EXACT_COUNT_UP_TO + 1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    limit = plan[0]["Plan"]
    rows = limit["Plans"][0]["Plan Rows"] if limit["Node Type"] == "Limit" else limit["Plan Rows"]
    return int(rows), float(limit["Total Cost"])


@dataclass
class ListState:
    """One request's reading of a list: the filters that applied, the ones refused (with why), sort and columns."""

    spec: ListSpec
    values: dict[str, Any]  # every filter's raw value as typed (a list for multi filters), refused ones included
    applied: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    sort: str = ""
    cols: list[str] = field(default_factory=list)

    def query_string(self, **overrides: Any) -> str:
        """The list's query string without cursor/view: what a saved view stores and a link keeps."""
        params: list[tuple[str, str]] = []
        for key, value in self.values.items():
            for v in value if isinstance(value, list) else [value]:
                if v:
                    params.append((key, v))
        if self.sort and self.sort != self.spec.default_sort:
            params.append(("sort", self.sort))
        if self.cols != default_columns(self.spec):
            params.extend(("cols", c) for c in self.cols)
        for key, value in overrides.items():
            params = [p for p in params if p[0] != key]
            if value:
                params.append((key, value))
        return urlencode(params)


def default_columns(spec: ListSpec) -> list[str]:
    return [c.key for c in spec.columns if c.default]


def clean_value(raw: str) -> str:
    """A filter value as typed, without surrounding spaces or NUL characters (which no database column holds and
    PostgreSQL refuses outright)."""
    return raw.replace("\x00", "").strip()[:200]


def read_state(spec: ListSpec, query: QueryDict) -> ListState:
    values: dict[str, Any] = {}
    for key in spec.filter_keys():
        if key in spec.multi:
            values[key] = [clean_value(v) for v in query.getlist(key) if clean_value(v)]
        else:
            values[key] = clean_value(query.get(key, ""))
    sort = query.get("sort", "").strip() or spec.default_sort
    known = {c.key for c in spec.columns}
    cols = [c for c in query.getlist("cols") if c in known] or default_columns(spec)
    return ListState(spec=spec, values=values, applied={k: v for k, v in values.items() if v}, sort=sort, cols=cols)


def run_query(actor: Any, state: ListState) -> tuple[QuerySet[Any], str]:
    """The spec's selector over the state's filters; a refused filter (or sort) is dropped, noted next to its input,
    and the query runs again with the rest — never more times than there are filters."""
    spec = state.spec
    for _attempt in range(len(spec.filters) + 2):
        try:
            return spec.query(actor, dict(state.applied), state.sort)
        except KervanError as exc:
            culprit = exc.field
            if culprit == "sort" and state.sort != spec.default_sort:
                state.errors["sort"] = exc.detail
                state.sort = spec.default_sort
            elif culprit in state.applied:
                state.errors[culprit] = exc.detail
                del state.applied[culprit]
            else:
                raise
    raise KervanError(_("These filters cannot be applied together."), "invalid_filters")


def render_list(request: Any, spec: ListSpec, *, context: dict[str, Any] | None = None) -> HttpResponse:
    """The list page for `spec`: filters (bad ones flagged, the rest applied), count, saved views, column chooser,
    bulk actions, the first page of rows — or, for htmx "Show more" and "count exactly" requests, just that part."""
    from kervan.workspace.views import saved_views_for  # the model lives with the views; lists stay import-light

    state = read_state(spec, request.GET)
    qs, order = run_query(request.actor, state)
    if request.GET.get("count") == "exact":
        return HttpResponse(_count_text(count_rows(qs, exact=True)))
    try:
        page = paginate(qs, order=order, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
    except KervanError as exc:  # a stale or altered "Show more" link: say so and start from the first page
        state.errors["cursor"] = exc.detail
        page = paginate(qs, order=order, limit=PAGE_SIZE)
    bulk = [a for a in spec.bulk if request.actor.can(a.area, a.access)]
    base = {
        "spec": spec,
        "state": state,
        "page": page,
        "cols": state.cols,
        "bulk": bulk,
        "query": state.query_string(),
        **(context or {}),
    }
    if request.htmx and request.GET.get("cursor"):
        return render(request, "workspace/_list_rows.html", base)
    count = count_rows(qs)
    return render(
        request,
        spec.template,
        {
            **base,
            "count": count,
            "count_text": _count_text(count),
            "filtered": bool(state.applied),
            "saved_views": saved_views_for(request.user, spec.key),
            "current_view": request.GET.get("view", ""),
            "columns": [(c, c.key in state.cols) for c in spec.columns],
            "visible_columns": [c for c in spec.columns if c.key in state.cols],
            "filters": [
                (f, state.values.get(f.key, ""), state.errors.get(f.key, ""), f.choices() if f.choices else ())
                for f in spec.filters
            ],
        },
    )


def export_list(request: Any, spec: ListSpec) -> HttpResponseBase:
    """The list as filtered on its page (the same query string), streamed by the spec's export: a filter the page
    refused is left out here too, so the file holds what the page showed."""
    assert spec.export is not None, f"list '{spec.key}' has no export"
    state = read_state(spec, request.GET)
    run_query(request.actor, state)
    return spec.export(request.actor, state.applied, state.sort)


def _count_text(count: Count) -> str:
    from django.contrib.humanize.templatetags.humanize import intcomma, intword

    if count.exact:
        return ngettext("%(count)s result", "%(count)s results", count.value) % {"count": intcomma(count.value)}
    return _("about %(count)s results") % {"count": intword(count.value)}
