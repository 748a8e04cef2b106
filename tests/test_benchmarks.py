"""The benchmark tooling: a missing data folder is a clear message, and README's measured table is
rendered from the files the benchmarks write (never typed by hand). No timing is run here."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import figures  # noqa: E402
import render_readme  # noqa: E402


@pytest.mark.parametrize("script", ["bench_store.py", "bench_preference.py", "bench_finetune.py"])
def test_a_benchmark_without_its_data_says_where_to_get_it(script, tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--data", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert f"{script}: needs the project's real human-preference data" in out.stderr
    assert "hh_harmless_dev.jsonl" in out.stderr and str(tmp_path) in out.stderr
    assert "Pass --data DIR" in out.stderr and "../shared/data" in out.stderr
    assert not (tmp_path / "out").exists()


def _readme(text: str) -> str:
    return f"# x\n\nbefore\n\n{render_readme.BEGIN}\nold table\n{render_readme.END}\n\nafter\n{text}"


def test_readme_table_comes_from_the_documented_size_files_only(tmp_path):
    out = tmp_path / "out"
    store = [
        figures.figure("store.log_many", "`Store.log_many`, 100k real rows", "117k rows/s",
                       "0.67 × raw `sqlite3.executemany`", value=117_000, unit="rows/s",
                       baseline=175_000),
        figures.figure("store.loop", "per-row loop", "3k rows/s", "0.7 × raw", value=3000,
                       unit="rows/s", readme=False),
    ]
    figures.write("bench_store.py", store, params={"rows": 100_000}, documented_size=True, out=out)
    small = [figures.figure("finetune.x", "export + validate 10 examples", "0.1 s", "1 × tok",
                            value=0.1, unit="s")]
    figures.write("bench_finetune.py", small, params={"n": 10}, documented_size=False, out=out)
    gen = [figures.figure("generate.cpu", "`hl.generate`, CPU ceiling", "624 rows/s",
                          "0.92 × a plain thread pool", value=624, unit="rows/s", baseline=678)]
    figures.write("bench_generate.py", gen, params={}, documented_size=True, out=out)
    (out / "bench_widget_raw.json").write_text('{"bare_rtt_ms": [1.0]}')
    readme = tmp_path / "README.md"
    readme.write_text(_readme("tail | with a pipe"), encoding="utf-8")

    assert render_readme.main(["--out", str(out), "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    table = text[text.index(render_readme.BEGIN) + len(render_readme.BEGIN): text.index(render_readme.END)]
    rows = [r for r in table.strip().splitlines()[2:]]
    # table order (store before generate), README figures only, the partial run left out
    assert len(rows) == 2
    assert rows[0].startswith("| `Store.log_many`, 100k real rows | 117k rows/s | 0.67 × raw")
    assert re.search(r"\| `bench_store.py`, \d{4}-\d\d-\d\d \|$", rows[0])
    assert rows[1].startswith("| `hl.generate`, CPU ceiling | 624 rows/s | 0.92 × a plain thread pool")
    assert "per-row loop" not in table and "10 examples" not in table and "old table" not in text
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith("after\ntail | with a pipe")
    # the JSON holds the numbers behind the cells: value, baseline, ratio, date, sizes
    record = render_readme.load(out)[0]
    assert record["figures"][0]["ratio"] == pytest.approx(117_000 / 175_000)
    assert record["params"] == {"rows": 100_000} and record["date"][:4].isdigit()
    # --check: quiet when README matches, 1 when someone edits a figure by hand
    assert render_readme.main(["--check", "--out", str(out), "--readme", str(readme)]) == 0
    readme.write_text(text.replace("117k rows/s", "200k rows/s"), encoding="utf-8")
    assert render_readme.main(["--check", "--out", str(out), "--readme", str(readme)]) == 1
    assert "200k rows/s" in readme.read_text(encoding="utf-8")  # --check writes nothing


def test_no_results_leaves_the_readme_alone(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(_readme(""), encoding="utf-8")
    assert render_readme.main(["--out", str(tmp_path / "none"), "--readme", str(readme)]) == 1
    assert "run the scripts in benchmarks/ first" in capsys.readouterr().err
    assert readme.read_text(encoding="utf-8") == _readme("")


def test_readme_measured_table_names_the_script_and_date_of_every_row():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(render_readme.BEGIN) == 1 and text.count(render_readme.END) == 1
    table = text[text.index(render_readme.BEGIN) + len(render_readme.BEGIN): text.index(render_readme.END)]
    lines = table.strip().splitlines()
    assert "\n".join(lines[:2]) == render_readme.HEADER
    assert len(lines) > 2
    for row in lines[2:]:
        assert re.search(r"\| `bench_[a-z]+\.py`, \d{4}-\d\d-\d\d \|$", row), row
