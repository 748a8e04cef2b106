"""Write README's "Measured here" table from what the benchmarks wrote to ``benchmarks/out``.

Each benchmark script ends by writing ``benchmarks/out/<script>.json`` (see ``figures.py``);
this script turns the README figures in those files into the table between the two
``measured`` markers in README.md, one row per figure, with the script and date that measured
it. Only runs at the documented sizes count (a smaller run writes ``<script>.partial.json``,
which is ignored), and a row appears only when a file holds it: nothing in the table is typed by
hand.

Run: ``.venv/bin/python benchmarks/render_readme.py`` after the benchmarks; ``--check`` exits 1,
changing nothing, when README's table differs from what the files say.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BEGIN = ("<!-- measured:begin (written by benchmarks/render_readme.py from benchmarks/out/*.json; "
         "do not edit by hand) -->")
END = "<!-- measured:end -->"
#: the order of the table: storage, the widget, generation, fine-tuning data, the model
ORDER = ["bench_store.py", "bench_widget.py", "bench_generate.py", "bench_finetune.py",
         "bench_preference.py"]
HEADER = ("| what | figure | baseline, same run | measured by |\n"
          "| --- | --- | --- | --- |")


def load(out: Path) -> list[dict[str, Any]]:
    """The documented-size runs in ``out`` (one record per script), in table order."""
    records = []
    for path in sorted(out.glob("*.json")):
        if path.name.endswith(".partial.json"):
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or "figures" not in record or "script" not in record:
            continue  # e.g. bench_widget_raw.json, the raw timings
        if record.get("documented_size") is not True:
            continue
        records.append(record)
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(records, key=lambda r: (rank.get(r["script"], len(ORDER)), r["script"]))


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(records: list[dict[str, Any]]) -> str:
    """The Markdown table of every README figure in ``records``."""
    lines = [HEADER]
    for record in records:
        source = f"`{record['script']}`, {record['date'][:10]}"
        for fig in record["figures"]:
            if fig.get("readme"):
                cells = (fig["what"], fig["figure"], fig["baseline_cell"], source)
                lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def render(readme: str, records: list[dict[str, Any]]) -> str:
    """``readme`` with the text between the markers replaced by `table` of ``records``."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"README has no measured table: put {BEGIN!r} and {END!r} around it.")
    return readme[: start + len(BEGIN)] + "\n" + table(records) + "\n" + readme[end:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when README's table differs from the files; write nothing")
    ap.add_argument("--out", type=Path, default=BENCH / "out", help="where the benchmarks wrote")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = ap.parse_args(argv)
    records = load(args.out)
    if not records:
        print(f"no benchmark results in {args.out}: run the scripts in benchmarks/ first "
              "(each writes its figures there); README left as it is.", file=sys.stderr)
        return 1
    before = args.readme.read_text(encoding="utf-8")
    after = render(before, records)
    names = ", ".join(f"{r['script']} ({r['date'][:10]})" for r in records)
    if args.check:
        if after != before:
            print(f"README's measured table differs from {args.out} ({names}); run "
                  "python benchmarks/render_readme.py", file=sys.stderr)
            return 1
        print(f"README's measured table matches {names}")
        return 0
    args.readme.write_text(after, encoding="utf-8")
    print(f"README's measured table written from {names}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
