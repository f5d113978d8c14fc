"""Querysets of the 360's first read, compiled to SQL once per process instead of on every request.

A first read of a profile (nothing cached) runs about a dozen small, indexed queries. PostgreSQL answers each in a
fraction of a millisecond; Django building and compiling them (the timeline's UNION of its kinds, the consent
ledger's ten sub-selects) cost several times that. Their SQL text never depends on the customer, only on the shape
of the request (which timeline kinds, how many ids): a `Statement` builds its queryset once per shape with stand-in
values, compiles it, remembers where each stand-in landed among the parameters, and from then on runs the same SQL
with the request's values, through the ORM's own row handling (model instances, select_related, converters), so
what comes back is what the queryset would give.

A value whose SQL would differ (None: `IS NULL` instead of `= %s`), a type it was not compiled for, or a queryset
whose stand-ins do not reach the parameters as they are (a value the ORM converts), is run as a plain queryset.
"""

from collections.abc import Callable, Iterable
from threading import Lock
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.sql import Query

_FIRST_INT = 2_000_000_000  # within a 32-bit integer column's range (Django treats an out-of-range value as no match)


class Statement:
    """`build(**values)` → a queryset, compiled once per database and shape of `values` (the names, their types,
    and the length of each list), then run with new values. Values are ints, strs or lists of ints."""

    def __init__(self, build: Callable[..., QuerySet]):
        self._build = build
        self._compiled: dict[tuple, tuple | None] = {}
        self._lock = Lock()

    def __call__(self, using: str = "default", **values: Any) -> QuerySet:
        shape = _shape(values)
        if shape is None:
            return self._build(**values)
        key = (using, connections[using].vendor, shape)
        compiled = self._compiled.get(key, False)
        if compiled is False:
            with self._lock:
                compiled = self._compiled[key] = self._compile(using, values)
        if compiled is None:  # a stand-in did not reach the parameters: this shape runs as a queryset
            return self._build(**values)
        template, compiler, sql, params, slots = compiled
        bound = list(params)
        for index, name, position, wrap in slots:
            value = values[name] if position is None else values[name][position]
            bound[index] = value if wrap is None else wrap(value)
        return _bound_queryset(template, compiler, sql, tuple(bound), using)

    def _compile(self, using: str, values: dict[str, Any]) -> tuple | None:
        stand_ins: dict[str, Any] = {}
        found: dict[Any, tuple[str, int | None]] = {}
        counter = _FIRST_INT
        for name, value in values.items():
            if isinstance(value, list):
                stand_ins[name] = []
                for position in range(len(value)):
                    stand_ins[name].append(counter)
                    found[counter] = (name, position)
                    counter += 1
            elif isinstance(value, str):
                stand_ins[name] = f"kervan-stand-in-{counter}-\ue000"
                found[stand_ins[name]] = (name, None)
                counter += 1
            else:
                stand_ins[name] = counter
                found[counter] = (name, None)
                counter += 1
        template = self._build(**stand_ins).using(using)
        compiler = template.query.get_compiler(using=using)
        try:
            sql, params = compiler.as_sql()
        except (EmptyResultSet, FullResultSet):  # (an empty IN list): nothing to reuse, the queryset says it all
            return None
        slots = []
        for index, param in enumerate(params):
            # (int and str subclasses too: on PostgreSQL the ORM wraps some ints as psycopg's Int4/Int8, which say
            # how to send them; a bound value is wrapped the same way)
            if isinstance(param, (int, str)) and not isinstance(param, bool) and param in found:
                wrap = None if type(param) in (int, str) else type(param)
                slots.append((index, *found[param], wrap))
        if {(name, position) for _i, name, position, _wrap in slots} != set(found.values()):
            return None
        return template, compiler, sql, tuple(params), tuple(slots)


_BIGINT = range(-(2**63), 2**63)  # beyond it the ORM answers "no match" where a bound value would overflow


def _shape(values: dict[str, Any]) -> tuple | None:
    shape = []
    for name, value in sorted(values.items()):
        if isinstance(value, bool):
            return None
        if isinstance(value, list):
            if not all(type(v) is int and v in _BIGINT for v in value):
                return None
            shape.append((name, list, len(value)))
        elif type(value) is int and value not in _BIGINT:
            return None
        elif type(value) in (int, str):
            shape.append((name, type(value)))
        else:
            return None
    return tuple(shape)


def _bound_queryset(template: QuerySet, compiler: Any, sql: str, params: tuple, using: str) -> QuerySet:
    """A fresh queryset like `template` whose query compiles to (`sql`, `params`) without compiling anything."""
    bound = compiler.__class__.__new__(compiler.__class__)
    bound.__dict__ = compiler.__dict__.copy()
    bound.connection = connections[using]  # connections are per thread: the compiled one may be another thread's
    bound.as_sql = lambda *args, **kwargs: (sql, params)

    query = Query.__new__(template.query.__class__)
    query.__dict__ = template.query.__dict__.copy()
    query.get_compiler = lambda using=None, connection=None, elide_empty=True: bound
    queryset = template.__class__.__new__(template.__class__)
    queryset.__dict__ = template.__dict__.copy()
    queryset._query = query
    queryset._result_cache = None
    queryset._prefetch_done = False
    return queryset


def by_pk(rows: Iterable[Any]) -> dict[Any, Any]:
    return {row.pk: row for row in rows}
