"""docs/report.schema.json: the machine-readable schema of aidoctor.report/1, checked against real reports.

jsonschema is a test-only dependency: aidoctor's own readers (core/facts.py, fleet/reportfile.py) stay
hand-written, since jsonschema would make a 10,000-report merge many times slower.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import jsonschema
import pytest

from aidoctor.doctor.check import REPORT_SCHEMA
from aidoctor.doctor.check.engine import CheckRequest, run_check
from aidoctor.doctor.check.profiles import all_profiles
from aidoctor.doctor.core.facts import Machine
from aidoctor.doctor.install.smoke import parse_smoke_output

from .test_smoke import PEFT_PASS

ROOT = Path(__file__).parents[2]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
FIXTURES = Path(__file__).parents[1] / "fixtures"
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
AIDOCTOR = Path(sys.executable).parent / "aidoctor"


def errors(report: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(report)]


@pytest.fixture(scope="module")
def index_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("schema") / "cache"
    shutil.copytree(FIXTURES / "index" / "cache", cache)
    return cache


def test_the_schema_is_valid_json_schema_for_this_report_id():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["properties"]["schema"] == {"const": REPORT_SCHEMA}


@pytest.mark.parametrize("path", sorted((FIXTURES / "reports").glob("*.json")), ids=lambda p: p.name)
def test_recorded_reports_follow_the_schema(path):
    assert errors(json.loads(path.read_text())) == []


@pytest.mark.parametrize("profile", sorted(all_profiles()))
def test_every_profiles_check_json_follows_the_schema(profile, index_cache, monkeypatch):
    monkeypatch.setenv("AIDOCTOR_CACHE_DIR", str(index_cache))
    report = run_check(CheckRequest(profile=profile, offline=True)).to_json()
    assert errors(report) == []


def test_a_smoke_result_in_the_report_follows_the_schema():
    report = json.loads((FIXTURES / "reports" / "report-x86.json").read_text())
    result = parse_smoke_output(PEFT_PASS, tool="peft", returncode=0)  # a real run's output
    report["smoke"] = {"peft": {**result.to_json(), "saved_at": 1764000000.0}}
    assert errors(report) == []


def test_the_schema_names_every_fact_and_every_key_a_verdict_and_a_smoke_result_write(index_cache, monkeypatch):
    monkeypatch.setenv("AIDOCTOR_CACHE_DIR", str(index_cache))
    facts = SCHEMA["$defs"]["facts"]["properties"]
    assert set(facts) == {f.name for f in dataclasses.fields(Machine)}
    verdict = run_check(CheckRequest(profile="dgx-spark", offline=True)).verdicts[0].to_json()
    assert set(verdict) <= set(SCHEMA["$defs"]["verdict"]["properties"])
    smoke = parse_smoke_output(PEFT_PASS, tool="peft", returncode=0).to_json()
    assert set(smoke) - {"tail"} <= set(SCHEMA["$defs"]["smoke"]["properties"])  # check drops the tail


@pytest.mark.parametrize("spoil, where", [
    (lambda r: r["verdicts"][0].update(status="fine"), "verdicts/0/status"),
    (lambda r: r.pop("verdicts"), ""),
    (lambda r: r.update(created_at="2026-11-22T10:00:00+00:00"), "created_at"),
    (lambda r: r["facts"].update(gpus=[{"compute_capability": "sm_121"}]), "facts/gpus/0/compute_capability"),
    (lambda r: r["verdicts"][0].update(sources=["see the docs"]), "verdicts/0/sources/0"),
    (lambda r: r.update(schema="aidoctor.report/2"), "schema"),
])
def test_the_schema_rejects_what_a_reader_must_not_take(spoil, where):
    report = copy.deepcopy(json.loads((FIXTURES / "reports" / "report-x86.json").read_text()))
    report["created_at"] = "2026-11-22T10:00:00Z"
    spoil(report)
    found = errors(report)
    assert len(found) == 1 and found[0].startswith(f"{where}:"), found
