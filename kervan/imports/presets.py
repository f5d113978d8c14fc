"""Presets: how common exports' columns map to Kervan's fields, as data files (kervan/imports/presets/<key>.json).

Adding a preset is adding a file:

    {
      "label": "…",                       shown on the mapping page
      "kind": "orders",                   customers | products | orders
      "detect": [["InvoiceNo", "Invoice"], ["StockCode"]],   every group needs one of its headers in the file
      "columns": {"InvoiceNo": "order_number", …},           header → field (headers compared as guess_mapping does;
                                                             "" leaves a header unmapped that would be guessed wrong)
      "settings": {"date_order": "mdy", …},                  file settings (kervan.imports.file_settings)
      "statuses": {"approved": "paid", …},                   status suggestions for this platform's words
      "note": "…"
    }

A file is recognised by the preset whose detect groups all match it (the one with the most groups when several do);
its columns are mapped first and every other column is guessed from the header as usual.

A preset of related files (kind "related", kervan.imports.related) has, instead of "detect" and "columns", a
"files" object: {role: {"detect": [...], "columns": {...}}} for the roles customers, orders, items, payments and
reviews. It recognises an upload when the file of each of its roles that is there matches that role's detect groups
(at least the orders file must be there); "settings" and "statuses" are as above.
"""

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from kervan.imports.fields import _header_key

PRESET_DIR = Path(__file__).resolve().parent / "presets"


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    kind: str
    detect: tuple[tuple[str, ...], ...]
    columns: dict[str, str]
    settings: dict = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    note: str = ""
    files: dict[str, dict] = field(default_factory=dict)  # related files: {role: {"detect": …, "columns": …}}

    def matches(self, columns: list[str]) -> bool:
        keys = {_header_key(c) for c in columns}
        return all(any(_header_key(h) in keys for h in group) for group in self.detect)


@cache
def presets() -> dict[str, Preset]:
    found = {}
    for path in sorted(PRESET_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[path.stem] = Preset(
            key=path.stem,
            label=data["label"],
            kind=data["kind"],
            detect=tuple(tuple(group) for group in data.get("detect", ())),
            columns=dict(data.get("columns", {})),
            settings=dict(data.get("settings", {})),
            statuses=dict(data.get("statuses", {})),
            note=data.get("note", ""),
            files={role: dict(spec) for role, spec in data.get("files", {}).items()},
        )
    return found


def preset_for(kind: str, columns: list[str]) -> Preset | None:
    """The preset that recognises a file of `kind` with these columns, or None."""
    candidates = [p for p in presets().values() if p.kind == kind and p.detect and p.matches(columns)]
    return max(candidates, key=lambda p: len(p.detect), default=None)


def preset_get(key: str) -> Preset | None:
    return presets().get(key)


def related_preset_for(columns_by_role: dict[str, list[str]]) -> Preset | None:
    """The related-files preset whose roles' detect groups match the files given the same roles, or None."""

    def score(preset: Preset) -> int:
        if "orders" not in columns_by_role or "orders" not in preset.files:
            return 0
        total = 0
        for role, columns in columns_by_role.items():
            groups = preset.files.get(role, {}).get("detect", ())
            keys = {_header_key(c) for c in columns}
            if not all(any(_header_key(h) in keys for h in group) for group in groups):
                return 0
            total += len(groups)
        return total

    scored = [(score(p), p.key, p) for p in presets().values() if p.kind == "related"]
    best = max(scored, default=None, key=lambda s: (s[0], s[1]))
    return best[2] if best and best[0] else None
