"""aidoctor's pick against pip's own, for machines we do not have.

For each target (Linux x86_64 and aarch64 at several glibc versions, Jetson-like Python 3.8 and 3.10, macOS
13/14/15/26 on arm64 and x86_64, Windows x86_64 and arm64, musl, a free-threaded Python) and every tool on
the index, the file aidoctor says pip would install must be the file pip's finder picks
(tests/pip_oracle.py, with the machine's pip configuration switched off). The offline test compares against
the recording (tests/fixtures/index/differential.json, made from the same index answers as the recorded
cache); the network test asks the live index and pip now.
"""

from __future__ import annotations

import json
from pathlib import Path


from aidoctor.doctor.core.facts import Machine
from aidoctor.doctor.check.index import Project, select, target_for
from aidoctor.recipes import all_tools

from ..recorded import recorded_index

HERE = Path(__file__).parents[1]
FIXTURES = HERE / "fixtures" / "index"

TARGETS = [
    {"name": "centos7-x86_64-py3.12", "os": "linux", "arch": "x86_64", "glibc": "2.17", "python": "3.12.3"},
    {"name": "rhel8-x86_64-py3.11", "os": "linux", "arch": "x86_64", "glibc": "2.28", "python": "3.11.9"},
    {"name": "ubuntu24-x86_64-py3.12", "os": "linux", "arch": "x86_64", "glibc": "2.39", "python": "3.12.3"},
    {"name": "ubuntu24-x86_64-py3.13t", "os": "linux", "arch": "x86_64", "glibc": "2.39", "python": "3.13.1",
     "python_build": "freethreaded"},
    {"name": "alpine-x86_64-musl1.2-py3.12", "os": "linux", "arch": "x86_64", "libc": "musl", "musl": "1.2.5",
     "python": "3.12.8"},
    {"name": "jetpack5-aarch64-glibc2.31-py3.8", "os": "linux", "arch": "aarch64", "glibc": "2.31",
     "python": "3.8.10"},
    {"name": "jetpack6-aarch64-glibc2.35-py3.10", "os": "linux", "arch": "aarch64", "glibc": "2.35",
     "python": "3.10.12"},
    {"name": "rhel9-aarch64-glibc2.34-py3.9", "os": "linux", "arch": "aarch64", "glibc": "2.34", "python": "3.9.18"},
    {"name": "amazon2-aarch64-glibc2.26-py3.10", "os": "linux", "arch": "aarch64", "glibc": "2.26",
     "python": "3.10.14"},
    {"name": "dgx-spark-aarch64-glibc2.39-py3.12", "os": "linux", "arch": "aarch64", "glibc": "2.39",
     "python": "3.12.3"},
    {"name": "macos13-x86_64-py3.11", "os": "darwin", "arch": "x86_64", "macos": "13.6", "python": "3.11.9"},
    {"name": "macos14-arm64-py3.12", "os": "darwin", "arch": "aarch64", "macos": "14.7", "python": "3.12.8"},
    {"name": "macos15-arm64-py3.13", "os": "darwin", "arch": "aarch64", "macos": "15.3", "python": "3.13.2"},
    {"name": "macos15-x86_64-py3.12", "os": "darwin", "arch": "x86_64", "macos": "15.3", "python": "3.12.8"},
    {"name": "macos26-arm64-py3.12", "os": "darwin", "arch": "aarch64", "macos": "26.0", "python": "3.12.8"},
    {"name": "windows-x86_64-py3.12", "os": "windows", "arch": "x86_64", "python": "3.12.8"},
    {"name": "windows-arm64-py3.12", "os": "windows", "arch": "aarch64", "python": "3.12.8"},
]


def tool_names() -> list[str]:
    return sorted({tool.dist_name for tool in all_tools().values() if tool.on_index})


def machine(target: dict) -> Machine:
    return Machine.from_json({k: v for k, v in target.items() if k != "name"})


def disagreements(projects: dict[str, Project | str], pip_picks: dict[str, dict[str, str | None]]) -> list[str]:
    """One line per (target, tool) where aidoctor's file is not pip's."""
    out = []
    for target in TARGETS:
        facts = machine(target)
        tags = target_for(facts)
        for name in tool_names():
            project = projects[name]
            assert isinstance(project, Project), project
            ours = select(project, facts, tags).filename
            theirs = pip_picks[target["name"]][name]
            if ours != theirs:
                out.append(f"{target['name']} {name}: aidoctor {ours}, pip {theirs}")
    return out


def test_every_target_and_tool_matches_the_recorded_pip_picks(tmp_path):
    recorded = json.loads((FIXTURES / "differential.json").read_text())
    projects = recorded_index().projects(tool_names())
    wrong = disagreements(projects, recorded["picks"])
    pairs = len(TARGETS) * len(tool_names())
    print(f"{pairs - len(wrong)}/{pairs} pairs agree with pip {recorded['pip']} (recorded)")
    assert not wrong, "\n".join(wrong)


