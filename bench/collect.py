"""Merge bench/results/*.json (one file per benchmark) into bench/results.json and refresh the summary table
in bench/README.md (between the SUMMARY markers).

    .venv/bin/python bench/collect.py
"""

import json
from pathlib import Path

BENCH = Path(__file__).resolve().parent
START, END = "<!-- SUMMARY:START -->", "<!-- SUMMARY:END -->"


def main():
    merged = {}
    for path in sorted((BENCH / "results").glob("*.json")):
        merged.update(json.loads(path.read_text()))
    (BENCH / "results.json").write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n")
    rows = ["| figure | value | target | db | data |", "|---|---|---|---|---|"]
    for name, r in merged.items():
        rows.append(f"| {name} | **{r['value']} {r['unit']}** | {r.get('target') or '—'} | {r['db']} | {r['data']} |")
    readme = BENCH / "README.md"
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n" + "\n".join(rows) + f"\n{END}{tail}")
    print(f"{len(merged)} figures → bench/results.json and bench/README.md")


if __name__ == "__main__":
    main()
