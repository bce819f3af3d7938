"""The tests of test_report_schema.py that start processes or read real files through aidoctor: here, not in tests/unit."""

from __future__ import annotations


import json
import os
import subprocess



from ..unit.test_report_schema import AIDOCTOR, errors, index_cache  # noqa: F401  (a fixture)


def test_a_fresh_aidoctor_report_follows_the_schema(index_cache, tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AIDOCTOR_CACHE_DIR": str(index_cache)}
    result = subprocess.run([str(AIDOCTOR), "report", "-o", "-", "--offline", "--label", "schema test"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"label", "machine_id", "created_at"} <= report.keys()
    assert errors(report) == []
