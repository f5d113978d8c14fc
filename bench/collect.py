"""Merge bench/results/*.json (one file per benchmark) into bench/results.json and refresh the summary table
in bench/README.md (between the SUMMARY markers), then list the benchmark scripts.

    make bench          # or: .venv/bin/python bench/collect.py
"""

import ast
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
    print("\nBenchmarks, each run by hand (its command and the database it needs: bench/README.md):")
    for script in sorted(BENCH.glob("*.py")):
        doc = ast.get_docstring(ast.parse(script.read_text()))
        if script.name not in ("collect.py", "serving.py") and doc:
            print(f"  .venv/bin/python bench/{script.name:<20} {doc.splitlines()[0]}")


if __name__ == "__main__":
    main()
