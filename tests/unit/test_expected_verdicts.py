"""Every verdict on every built-in profile, pinned by one golden file per profile (tests/unit/expected/).

The facts are the profile's (doctor/check/profiles/*.json), the index answers are the recorded ones
(tests/fixtures/index/, read offline by the real `Index`), and the verdicts come from the engine's own
`judge`, as `aidoctor check --profile NAME --offline` gives them. A change to a rule, a recipe, a profile or the
recorded index shows up here as a diff per tool. When the change is meant, rewrite the files with

    python -m pytest tests/unit/test_expected_verdicts.py --update-expected

and review the diff of tests/unit/expected/ before committing it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aidoctor.doctor.check.engine import judge
from aidoctor.doctor.check.profiles import all_profiles, load
from aidoctor.doctor.dsl.rules import Status
from aidoctor.recipes import all_tools

from ..recorded import recorded_index

EXPECTED = Path(__file__).parent / "expected"
RECORDED_INDEX = recorded_index()


def verdicts_on(profile: str) -> dict[str, dict]:
    machine = load(profile).machine
    return {v.tool: v.to_json() for v in judge(machine, list(all_tools().values()), RECORDED_INDEX)}


def differences(expected: dict, got: dict) -> list[str]:
    lines = []
    for tool in sorted(set(expected) | set(got)):
        if tool not in got or tool not in expected:
            lines.append(f"{tool}: {'not judged now' if tool not in got else 'not in the golden file'}")
            continue
        for key in sorted(set(expected[tool]) | set(got[tool])):
            if expected[tool].get(key) != got[tool].get(key):
                lines.append(f"{tool}.{key}: expected {expected[tool].get(key)!r}\n{' ' * len(tool)}  got      "
                             f"{got[tool].get(key)!r}")
    return lines


@pytest.mark.parametrize("profile", sorted(all_profiles()))
def test_every_tool_gets_the_expected_verdict_on_each_profile(profile, request):
    got = verdicts_on(profile)
    assert list(got) == list(all_tools())  # one verdict per tool of the registry, in its order
    for tool, verdict in got.items():  # what any verdict must have, whatever the golden file says
        assert verdict["status"] in {s.value for s in Status}, tool
        assert verdict["reasons"], f"{tool} on {profile} has no reason"
        if verdict["status"] != Status.OK.value:
            assert verdict["sources"], f"{tool} on {profile} is {verdict['status']} without a source"
    path = EXPECTED / f"{profile}.json"
    if request.config.getoption("--update-expected"):
        path.write_text(json.dumps({"profile": profile, "verdicts": got}, indent=1, ensure_ascii=False) + "\n")
        pytest.skip(f"rewrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    assert path.exists(), f"no golden file {path}: run pytest with --update-expected and review what it writes"
    expected = json.loads(path.read_text())["verdicts"]
    diff = differences(expected, got)
    assert not diff, (f"verdicts on {profile} differ from {path.name} (if that is meant: pytest --update-expected, "
                      "then review the diff):\n" + "\n".join(diff))
