"""`aidoctor matrix` run as a process: a rejected file named on stderr, and the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

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
