"""What the benchmarks measured, written where ``render_readme.py`` reads it.

Each script in ``benchmarks/`` ends by calling `write` with the figures it printed: one JSON file
per script, ``benchmarks/out/<script>.json`` (gitignored), holding the date, the commit, the
machine, the sizes it ran at (and whether those are the documented sizes), and per figure the
value, its baseline from the same run and their ratio, with the cells README's table shows.
``python benchmarks/render_readme.py`` then writes README's "Measured here" table from those
files only, so the README cannot say what no run measured.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
#: the real human-preference data the benchmarks read: beside the repository, or $HL_SHARED_DATA
DEFAULT_DATA = Path(os.environ.get("HL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def need_data(data: Path, files: Sequence[str], *, script: str) -> Path:
    """``data`` when it holds every file in ``files``; otherwise exit saying where to get them."""
    missing = [name for name in files if not (Path(data) / name).is_file()]
    if missing:
        raise SystemExit(
            f"{script}: needs the project's real human-preference data, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not in {data}. Pass --data DIR (a folder holding {', '.join(files)}), or put the "
            "project's shared data folder at ../shared/data beside the repository (or set "
            "HL_SHARED_DATA). Nothing was measured."
        )
    return Path(data)


def figure(key: str, what: str, shown: str, baseline_shown: str, *, value: float | None,
           unit: str, baseline: float | None = None, baseline_name: str | None = None,
           ratio: float | None = None, readme: bool = True, **extra: Any) -> dict[str, Any]:
    """One measured figure: the numbers, and the three cells README's table shows for it.

    ``ratio`` defaults to ``value / baseline`` when both are given.
    """
    if ratio is None and value is not None and baseline:
        ratio = value / baseline
    return {"key": key, "what": what, "figure": shown, "baseline_cell": baseline_shown,
            "value": value, "unit": unit, "baseline": baseline, "baseline_name": baseline_name,
            "ratio": ratio, "readme": readme, **extra}


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10)
    except OSError:
        return None
    return out.stdout.strip() or None


def write(script: str, figures: list[dict[str, Any]], *, params: dict[str, Any],
          documented_size: bool, out: Path = OUT) -> Path:
    """Write ``out/<script>.json`` and say so; returns its path.

    ``documented_size`` is True when the run measured everything at the documented sizes (the
    only runs `render_readme.py` puts in README); a smaller run goes to
    ``out/<script>.partial.json`` instead, so it never replaces a documented run's file.
    """
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    record = {
        "script": script,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0],
                    "platform": platform.platform(), "loadavg_at_end": load},
        "params": params,
        "documented_size": documented_size,
        "figures": figures,
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{Path(script).stem}{'' if documented_size else '.partial'}.json"
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nfigures written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path
