"""The demo shop is for trying Kervan and for the tests: installed by the local and test settings only, and no other
code imports it, so production runs without it."""

import ast
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _settings(name: str, monkeypatch) -> list[str]:
    """INSTALLED_APPS of a settings module: as imported (base, and test: the suite's own), or run apart, leaving
    sys.modules and the running settings untouched."""
    module = f"config.settings.{name}"
    if module in sys.modules:
        return list(sys.modules[module].INSTALLED_APPS)
    monkeypatch.setenv("KERVAN_SECRET_KEY", "test-only")  # production requires it
    monkeypatch.setenv("KERVAN_ENCRYPTION_KEYS", "M2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2Y=")
    return list(runpy.run_module(module)["INSTALLED_APPS"])


def test_only_local_and_test_settings_install_it(monkeypatch):
    assert "kervan.demo" in _settings("local", monkeypatch)
    assert "kervan.demo" in _settings("test", monkeypatch)
    assert "kervan.demo" not in _settings("base", monkeypatch)
    assert "kervan.demo" not in _settings("production", monkeypatch)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_other_code_imports_it():
    demo = ROOT / "kervan" / "demo"
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("kervan", "config")
        for path in (ROOT / folder).rglob("*.py")
        if demo not in path.parents
        and any(name == "kervan.demo" or name.startswith("kervan.demo.") for name in _imports(path))
    ]
    assert offenders == []
