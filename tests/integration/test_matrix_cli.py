"""`aidoctor matrix` run as a process: a rejected file named on stderr, and the exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..unit.test_matrix import _report, _write

CLI = [sys.executable, "-m", "aidoctor.doctor"]


def test_the_cli_names_each_rejected_file_and_exits_1_or_2(tmp_path):
    _write(tmp_path, "good.json", _report())
    _write(tmp_path, "bad.json", "{\"schema\": 1}")
    result = subprocess.run([*CLI, "matrix", str(tmp_path), "--format", "json"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"aidoctor: rejected {tmp_path / 'bad.json'}: schema 1; this aidoctor "
                                          "reads aidoctor.report/1 (write one with `aidoctor report`)"]
    assert json.loads(result.stdout)["rejected"][0]["source"] == str(tmp_path / "bad.json")
    (tmp_path / "good.json").unlink()
    nothing = subprocess.run([*CLI, "matrix", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 2 and "Traceback" not in nothing.stderr
    assert nothing.stderr.splitlines()[-1] == "aidoctor: error: no report could be merged (1 rejected)"
    bad_format = subprocess.run([*CLI, "matrix", str(tmp_path), "--format", "pdf"], capture_output=True, text=True,
                                timeout=60)
    assert bad_format.returncode == 2
    assert "'pdf' is not one of 'terminal', 'markdown', 'html', 'csv', 'json'" in bad_format.stderr


REPORTS = Path(__file__).parent.parent / "fixtures" / "reports"
# Two real reports and three built-in profiles: five columns, more than fit 80 columns side by side.
MERGED = ["matrix", str(REPORTS), "--profile", "dgx-spark", "--profile", "gh200", "--profile", "graviton", "--offline"]


def _matrix_at(columns: int, tmp_path: Path) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "AIDOCTOR_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([*CLI, *MERGED], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _words(text: str) -> set[str]:
    return {word for word in text.split() if word.strip("─")}  # not the rule under the header: its length varies


@pytest.mark.parametrize("columns", [60, 80, 100])
def test_a_narrow_matrix_never_splits_a_word(columns, tmp_path):
    wide = _matrix_at(400, tmp_path)
    narrow = _matrix_at(columns, tmp_path)
    assert max(len(line) for line in narrow.splitlines()) <= columns
    # every word of the narrow table is a whole word of the unwrapped one (`unsupporte` / `d` would not be)
    assert _words(narrow) - _words(wide) == set()
    # and every cell is still there: each tool's row lists each column's status once, across the folded tables
    statuses = {"ok", "caveats", "build", "unsupported", "unknown", "absent"}
    rows: dict[str, list[str]] = {}
    for line in narrow.splitlines():
        words = line.split()
        if len(words) > 1 and all(w in statuses for w in words[1:]):
            rows.setdefault(words[0], []).extend(words[1:])
    assert len(rows) >= 20 and {len(cells) for cells in rows.values()} == {5}
    assert [line.split()[0] for line in narrow.splitlines() if line.startswith("[")] == [f"[{n}]" for n in range(1, 6)]
