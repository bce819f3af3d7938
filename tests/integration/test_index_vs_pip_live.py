"""The tests of test_index_vs_pip.py that start processes or read real files through aidoctor: here, not in tests/unit."""

from __future__ import annotations


import json
import os
import subprocess
import sys

import pytest

from aidoctor.doctor.check.index import Index
from ..unit.test_index_vs_pip import HERE, TARGETS, disagreements, tool_names


@pytest.mark.network
def test_every_target_and_tool_matches_pip_on_the_live_index(tmp_path):
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps(TARGETS))
    done = subprocess.run([sys.executable, str(HERE / "pip_oracle.py"), str(targets), *tool_names()],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PIP_CONFIG_FILE="/dev/null"))
    assert done.returncode == 0, done.stderr[-3000:]
    live = json.loads(done.stdout)
    projects = Index(tmp_path / "cache", timeout=30).projects(tool_names())
    wrong = disagreements(projects, live["picks"])
    pairs = len(TARGETS) * len(tool_names())
    print(f"{pairs - len(wrong)}/{pairs} pairs agree with pip {live['pip']} (live)")
    assert not wrong, "\n".join(wrong)
