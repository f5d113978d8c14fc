"""The apps import each other one way only: no cycle between apps, and the customer core imports none of the apps
built on it. Walks the import statements of every non-test module (top-level and inside functions alike)."""

import ast
from collections import defaultdict
from pathlib import Path

import kervan

ROOT = Path(kervan.__file__).parent
# The customer core and what it may import: the apps below it. Everything else extends it through its registry.
# workspace holds the registries of the shell (menu, lists, search, Today cards) that every domain plugs into.
BELOW_CUSTOMERS = {"core", "accounts", "workspace", "customers"}


def _app_imports() -> dict[str, dict[str, set[str]]]:
    """{app: {imported app: {module path that imports it}}} over kervan/<app>/**.py, tests and migrations excluded."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if len(parts) < 2 or "tests" in parts or "migrations" in parts:
            continue
        app = parts[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                pieces = name.split(".")
                if pieces[0] == "kervan" and len(pieces) > 1 and pieces[1] != app:
                    graph[app][pieces[1]].add(str(path.relative_to(ROOT)))
    return graph


def _cycle(graph: dict[str, dict[str, set[str]]]) -> list[str] | None:
    """One cycle among the apps, as [a, b, …, a], or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(app: str) -> list[str] | None:
        state[app] = "open"
        stack.append(app)
        for other in sorted(graph.get(app, {})):
            if state.get(other) == "open":
                return stack[stack.index(other) :] + [other]
            if other not in state and (found := visit(other)):
                return found
        stack.pop()
        state[app] = "done"
        return None

    for app in sorted(graph):
        if app not in state and (found := visit(app)):
            return found
    return None


def test_no_import_cycle_between_apps():
    graph = _app_imports()
    cycle = _cycle(graph)
    where = [sorted(graph[a][b]) for a, b in zip(cycle, cycle[1:], strict=False)] if cycle else []
    assert cycle is None, f"import cycle {' -> '.join(cycle)}: {where}"


def test_customer_core_imports_only_what_is_below_it():
    upward = {
        app: sorted(modules) for app, modules in _app_imports()["customers"].items() if app not in BELOW_CUSTOMERS
    }
    assert upward == {}


def test_the_walk_sees_imports():
    # The checks above would pass on an empty graph: make sure the walk finds the edges we know exist.
    graph = _app_imports()
    assert "customers" in graph["orders"] and "core" in graph["customers"]
    uses_feedback = {app for app, imported in graph.items() if "feedback" in imported}  # beside orders, below 360
    assert set(graph["feedback"]) <= {"core", "accounts", "customers", "catalog", "orders"}
    assert uses_feedback <= {"imports", "customer360"}
    assert _cycle({"a": {"b": {"x"}}, "b": {"a": {"y"}}}) == ["a", "b", "a"]


def test_api_schemas_have_distinct_names():
    """django-ninja names an OpenAPI component after its class: two apps' `SegmentOut` would share one component,
    and one of the two endpoints would be documented (and fuzzed) with the other's shape."""
    import collections
    import importlib
    import pkgutil

    from ninja import Schema

    owners = collections.defaultdict(set)
    for info in pkgutil.walk_packages(kervan.__path__, "kervan."):
        if (
            ".tests" in info.name
            or ".migrations" in info.name
            or info.name.rsplit(".", 1)[-1] not in ("api", "schemas")
        ):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, Schema) and value.__module__ == module.__name__:
                owners[name].add(module.__name__)
    assert {name: sorted(m) for name, m in owners.items() if len(m) > 1} == {}
    assert owners, "the walk found no API schemas"
