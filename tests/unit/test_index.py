"""The package index: parsing real JSON API answers, picking what pip would pick, the cache, and no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aidoctor.doctor.core.facts import Machine
from aidoctor.doctor.check.index import (CACHE_TTL_S, Index, Project, parse_project_json, platform_tags,
                                   select)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "index"
CACHED = FIXTURES / "cache" / "index"

SPARK = Machine(os="linux", arch="aarch64", glibc="2.39", python="3.12.3")
ORIN = Machine(os="linux", arch="aarch64", glibc="2.35", python="3.10.12")
MAC = Machine(os="darwin", arch="aarch64", macos="15.0", python="3.12.8", python_translated=False)
ROSETTA = Machine(os="darwin", arch="aarch64", macos="15.0", python="3.12.8", python_translated=True)
X86_OLD_GLIBC = Machine(os="linux", arch="x86_64", glibc="2.17", python="3.12.3")


def project(name: str) -> Project:
    return Project.from_cache(json.loads((CACHED / f"{name}.json").read_text()))


def pick(name: str, machine: Machine):
    return select(project(name), machine, platform_tags(machine))


def test_parse_a_real_answer():
    parsed = parse_project_json((FIXTURES / "raw-flash-attn.json").read_text(), fetched_at=0)
    assert parsed.name == "flash-attn" and parsed.latest == "2.8.3.post2"
    assert parsed.releases[0].version == "2.8.3.post2"
    assert all(not f.endswith(".whl") for f in parsed.releases[0].files)  # sdist only on PyPI
    assert "torch" in parsed.requires_dist


@pytest.mark.parametrize("name, machine, kind, version", [
    ("torch", SPARK, "wheel", "2.15.0"),
    ("torch", ORIN, "wheel", "2.14.1"),  # 2.15.0 needs Python >= 3.11: pip falls back
    ("flash-attn", SPARK, "sdist", "2.8.3.post2"),
    ("xformers", SPARK, "sdist", "0.0.35"),  # no aarch64 wheel
    ("triton", MAC, "none", None),  # no macOS wheel, no sdist
    ("mlx", MAC, "wheel", "0.32.4"),
    ("bitsandbytes", SPARK, "wheel", "0.50.2"),
    ("peft", ORIN, "wheel", None),  # a py3 wheel of whichever release admits Python 3.10
])
def test_select_picks_what_pip_would(name, machine, kind, version):
    available = pick(name, machine)
    assert available.kind == kind, available.reason
    if version:
        assert available.version == version


def test_a_translated_python_takes_x86_64_wheels():
    available = pick("torch", ROSETTA)
    assert available.kind in ("wheel", "none")
    assert available.filename is None or "x86_64" in available.filename


def test_an_old_glibc_excludes_manylinux_2_28_wheels():
    available = pick("torch", X86_OLD_GLIBC)
    assert available.filename is None or "manylinux_2_28" not in available.filename


def test_unknown_platform_facts_give_unknown_not_a_guess():
    available = pick("torch", Machine(os="linux", python="3.12"))
    assert available.kind == "unknown" and "glibc" in available.reason


def _never(url: str, timeout: float) -> str:
    raise AssertionError("the network must not be used")


def test_offline_uses_the_cache_and_says_what_is_missing(tmp_path):
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "peft.json").write_text((CACHED / "peft.json").read_text())
    index = Index(tmp_path, offline=True, fetch=_never)
    results = index.projects(["peft", "trl"])
    assert isinstance(results["peft"], Project)
    assert "offline" in results["trl"] and "no cached index data for trl" in results["trl"]


def test_a_fresh_cache_is_used_without_the_network_and_a_stale_one_is_refreshed(tmp_path):
    raw = (FIXTURES / "raw-flash-attn.json").read_text()
    calls = []

    def fetch(url: str, timeout: float) -> str:
        calls.append(url)
        return raw

    clock = [1_000_000.0]
    index = Index(tmp_path, fetch=fetch, now=lambda: clock[0])
    index.projects(["flash-attn"])
    index.projects(["flash-attn"])
    assert len(calls) == 1
    clock[0] += CACHE_TTL_S + 1
    index.projects(["flash-attn"])
    assert len(calls) == 2


def test_an_unreachable_index_falls_back_to_a_stale_cache_then_to_a_reason(tmp_path):
    def down(url: str, timeout: float) -> str:
        raise ConnectionError("Network is unreachable")

    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "peft.json").write_text((CACHED / "peft.json").read_text())  # fetched long ago
    results = Index(tmp_path, fetch=down).projects(["peft", "trl"])
    assert isinstance(results["peft"], Project)
    assert "package index unreachable" in results["trl"] and "Network is unreachable" in results["trl"]


def test_a_corrupt_cache_file_is_refetched(tmp_path):
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "flash-attn.json").write_text("{trunc")
    raw = (FIXTURES / "raw-flash-attn.json").read_text()
    results = Index(tmp_path, fetch=lambda url, timeout: raw).projects(["flash-attn"])
    assert isinstance(results["flash-attn"], Project)
