"""The package index: parsing real Simple API answers, pip's order of candidates, a file's own metadata,
the cache, and an index that answers badly."""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.tags import Tag

from aidoctor.doctor.core.facts import Machine
from aidoctor.doctor.check.index import (CACHE_TTL_S, Index, IndexFile, Offer, Project, linux_platforms, metadata_from_zip_tail, parse_requires_dist, parse_simple_json,
                                   project_page_url, select, target_for)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "index"
CACHED = FIXTURES / "cache" / "index"

SPARK = Machine(os="linux", arch="aarch64", glibc="2.39", python="3.12.3")
ORIN = Machine(os="linux", arch="aarch64", glibc="2.35", python="3.10.12")
JETPACK5 = Machine(os="linux", arch="aarch64", glibc="2.31", python="3.8.10")
MAC = Machine(os="darwin", arch="aarch64", macos="15.0", python="3.12.8", python_translated=False)
ROSETTA = Machine(os="darwin", arch="aarch64", macos="15.0", python="3.12.8", python_translated=True)
X86 = Machine(os="linux", arch="x86_64", glibc="2.39", python="3.12.3")
X86_OLD_GLIBC = Machine(os="linux", arch="x86_64", glibc="2.17", python="3.12.3")
ALPINE = Machine(os="linux", arch="x86_64", libc="musl", musl="1.2.5", python="3.12.8")
FREE_THREADED = Machine(os="linux", arch="x86_64", glibc="2.39", python="3.13.1", python_build="freethreaded")


def recorded(tmp_path: Path) -> Index:
    """The recorded index answers, offline, in a copy: picks kept during a test stay out of the fixtures."""
    shutil.copytree(FIXTURES / "cache", tmp_path / "recorded")
    return Index(tmp_path / "recorded", offline=True)


def project(name: str) -> Project:
    return Project.from_cache(json.loads((CACHED / f"{name}.json").read_text()))


def pick(name: str, machine: Machine, specifier: str = ""):
    return select(project(name), machine, specifier=specifier)


def test_parse_a_real_answer():
    url = project_page_url("flash-attn")
    parsed = parse_simple_json((FIXTURES / "raw-flash-attn.json").read_text(), url, fetched_at=0)
    assert parsed.name == "flash-attn" and len(parsed.files) > 10
    assert all(f.url.startswith("https://") for f in parsed.files)
    assert not any(f.filename.endswith(".whl") for f in parsed.files)  # sdist only on PyPI


@pytest.mark.parametrize("name, machine, kind, version", [
    ("torch", SPARK, Offer.WHEEL, "2.15.0"),
    ("torch", ORIN, Offer.WHEEL, "2.14.1"),  # 2.15.0 needs Python >= 3.11: pip falls back
    ("flash-attn", SPARK, Offer.SDIST, "2.8.3.post2"),
    ("xformers", SPARK, Offer.SDIST, "0.0.35"),  # no aarch64 wheel
    ("triton", MAC, Offer.NONE, None),  # no macOS wheel, no sdist
    ("mlx", MAC, Offer.WHEEL, "0.32.4"),
    ("bitsandbytes", SPARK, Offer.WHEEL, "0.50.2"),
    ("transformers", JETPACK5, Offer.WHEEL, "4.46.3"),  # no cap on releases: the newest for Python 3.8
    ("xformers", X86_OLD_GLIBC, Offer.SDIST, "0.0.35"),  # pip builds the newest rather than take an old wheel
])
def test_select_picks_what_pip_would(name, machine, kind, version):
    available = pick(name, machine)
    assert available.kind is kind, available.reason
    if version:
        assert available.version == version


def test_macos_15_takes_the_macos_15_wheel_over_the_macos_14_one():
    assert pick("mlx", MAC).filename == "mlx-0.32.4-cp312-cp312-macosx_15_0_arm64.whl"


def test_a_translated_python_takes_x86_64_wheels():
    available = pick("torch", ROSETTA)
    assert available.filename is None or "x86_64" in available.filename


def test_an_old_glibc_excludes_manylinux_2_28_wheels():
    available = pick("torch", X86_OLD_GLIBC)
    assert available.kind is Offer.WHEEL and "manylinux_2_28" not in available.filename


def test_unknown_platform_facts_give_unknown_not_a_guess():
    available = pick("torch", Machine(os="linux", python="3.12"))
    assert available.kind is Offer.UNKNOWN and "architecture" in available.reason
    available = pick("torch", Machine(os="linux", arch="x86_64", libc="musl", python="3.12"))
    assert available.kind is Offer.UNKNOWN and "musl version" in available.reason


def test_a_pinned_version_is_selected_not_relabelled():
    available = pick("peft", SPARK, "==0.20.0")
    assert available.version == "0.20.0" and available.filename.startswith("peft-0.20.0-")
    missing = pick("peft", SPARK, "==99.0")
    assert missing.kind is Offer.NONE and "peft==99.0" in missing.reason


def test_an_older_release_for_an_old_python_says_what_is_newer():
    available = pick("transformers", JETPACK5)
    assert "newer" in available.reason and "needs Python" in available.reason


def test_an_sdist_pick_names_the_newest_wheel_it_passes_over():
    available = pick("xformers", X86_OLD_GLIBC)
    assert available.older_wheel is not None and available.older_wheel[1].endswith(".whl")
    assert available.older_wheel[0] != available.version


# -- the tags: packaging's order, per architecture, musl, free-threaded --


def test_aarch64_gets_no_manylinux_tag_older_than_2014():
    platforms = linux_platforms("aarch64", (2, 39), None)
    assert platforms[0] == "manylinux_2_39_aarch64" and platforms[-1] == "linux_aarch64"
    assert "manylinux2014_aarch64" in platforms and "manylinux_2_17_aarch64" in platforms
    assert not any(p.startswith(("manylinux1", "manylinux2010", "manylinux_2_16")) for p in platforms)


def test_x86_64_keeps_manylinux1_and_2010_in_order():
    platforms = linux_platforms("x86_64", (2, 17), None)
    assert platforms[:2] == ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
    assert platforms.index("manylinux2010_x86_64") == platforms.index("manylinux_2_12_x86_64") + 1
    assert platforms[-2:] == ["manylinux1_x86_64", "linux_x86_64"]


def test_musl_takes_musllinux_and_no_manylinux():
    target = target_for(ALPINE)
    platforms = {t.platform for t in target.tags}
    assert "musllinux_1_2_x86_64" in platforms and "musllinux_1_0_x86_64" in platforms
    assert not any(p.startswith("manylinux") for p in platforms)


def test_free_threaded_takes_cp313t_and_no_abi3():
    tags = target_for(FREE_THREADED).tags
    assert tags[0] == Tag("cp313", "cp313t", "manylinux_2_39_x86_64")
    assert not any(t.abi == "abi3" for t in tags) and not any(t.abi == "cp313" for t in tags)


# -- the order of candidates on hand-made file lists: never the index's order --


def _files(*names: str, requires_python: str | None = None, yanked: tuple[str, ...] = ()) -> list[IndexFile]:
    return [IndexFile(n, f"https://files.example/{n}", requires_python, n in yanked) for n in names]


def _all_orders(files: list[IndexFile], machine: Machine, specifier: str = "") -> set[str | None]:
    return {select(Project("demo", tuple(order), 0), machine, specifier=specifier).filename
            for order in itertools.permutations(files)}


@pytest.mark.parametrize("files, machine, expected", [
    # the highest version wins, a newer sdist over an older wheel
    (_files("demo-1.0-py3-none-any.whl", "demo-1.1.tar.gz", "demo-0.9-cp312-cp312-manylinux_2_17_x86_64.whl"),
     X86, "demo-1.1.tar.gz"),
    # within a version: the wheel whose best tag ranks first (the compiled one before py3-none-any)
    (_files("demo-1.0-py3-none-any.whl", "demo-1.0-cp312-abi3-manylinux_2_28_x86_64.whl", "demo-1.0.tar.gz"),
     X86, "demo-1.0-cp312-abi3-manylinux_2_28_x86_64.whl"),
    # a newer manylinux before an older one; a build tag breaks a tie
    (_files("demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "demo-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
            "demo-1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl"),
     X86, "demo-1.0-cp312-cp312-manylinux_2_28_x86_64.whl"),
    (_files("demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "demo-1.0-2-cp312-cp312-manylinux_2_17_x86_64.whl",
            "demo-1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl"),
     X86, "demo-1.0-2-cp312-cp312-manylinux_2_17_x86_64.whl"),
    # macOS: the newest macOS tag this system accepts first
    (_files("demo-2.0-cp312-cp312-macosx_13_0_arm64.whl", "demo-2.0-cp312-cp312-macosx_15_0_arm64.whl",
            "demo-2.0-cp312-cp312-macosx_14_0_arm64.whl"),
     MAC, "demo-2.0-cp312-cp312-macosx_15_0_arm64.whl"),
    # a yanked release loses to any other, even an older one
    (_files("demo-2.0-py3-none-any.whl", "demo-1.0-py3-none-any.whl", yanked=("demo-2.0-py3-none-any.whl",)),
     X86, "demo-1.0-py3-none-any.whl"),
    # a pre-release only when nothing final fits
    (_files("demo-2.0rc1-py3-none-any.whl", "demo-1.0-py3-none-any.whl"), X86, "demo-1.0-py3-none-any.whl"),
    (_files("demo-2.0rc1-py3-none-any.whl", "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"), X86,
     "demo-2.0rc1-py3-none-any.whl"),
])
def test_the_pick_does_not_depend_on_the_index_order(files, machine, expected):
    assert _all_orders(files, machine) == {expected}


def test_requires_python_is_checked_per_file():
    files = [*_files("demo-2.0-cp312-cp312-manylinux_2_17_x86_64.whl", requires_python=">=3.13"),
             *_files("demo-2.0.tar.gz", requires_python=">=3.8"), *_files("demo-1.0-py3-none-any.whl")]
    assert _all_orders(files, X86) == {"demo-2.0.tar.gz"}


def test_files_of_other_projects_and_odd_names_are_not_candidates():
    files = _files("demo_extra-9.0-py3-none-any.whl", "demo-9.0.exe", "demo-9.0-py3.8.tar.gz",
                   "demo-notaversion.tar.gz", "demo-1.0.zip")
    assert _all_orders(files, X86) == {"demo-1.0.zip"}
    # pip's "-py3.8" suffix: the file is for that Python only (its pattern knows one-digit minors alone)
    assert _all_orders(_files("demo-9.0-py3.8.tar.gz", "demo-1.0.zip"), JETPACK5) == {"demo-9.0-py3.8.tar.gz"}


# -- a file's own metadata --


def _wheel(requires: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        wheel.writestr("demo/_native.so", os.urandom(200_000))  # incompressible: a wheel's bulk
        metadata = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n" + "".join(
            f"Requires-Dist: {r}\n" for r in requires)
        wheel.writestr("demo-1.0.dist-info/METADATA", metadata)
        wheel.writestr("demo-1.0.dist-info/RECORD", "")
    return buffer.getvalue()


def test_metadata_is_read_from_a_wheel_by_ranges():
    data = _wheel(["torch==2.14.0", "numpy"])
    asked = []

    def read_range(start: int, end: int) -> bytes:
        asked.append((start, end))
        return data[start:end + 1]

    text = metadata_from_zip_tail(data[-200:], read_range)
    assert parse_requires_dist(text) == ("torch==2.14.0", "numpy")
    assert sum(end - start + 1 for start, end in asked) < len(data) / 4  # not the whole wheel


def test_vllm_pins_torch_from_its_wheel_not_its_sdist(tmp_path):
    index = recorded(tmp_path)
    available = pick("vllm", SPARK)
    assert available.filename.endswith("manylinux_2_28_aarch64.whl")
    read = index.read_metadata({"vllm": available})["vllm"]
    assert "torch==2.14.0" in read.requires_dist  # the sdist's release metadata says torch==2.13.0


# -- the cache, offline, and an index that answers badly --


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
    assert calls == ["https://pypi.org/simple/flash-attn/"]
    clock[0] += CACHE_TTL_S + 1
    index.projects(["flash-attn"])
    assert len(calls) == 2


def test_an_unreachable_index_falls_back_to_a_stale_cache_then_to_a_reason(tmp_path):
    def down(url: str, timeout: float) -> str:
        raise ConnectionError("Network is unreachable")

    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "peft.json").write_text((CACHED / "peft.json").read_text())  # fetched long ago
    index = Index(tmp_path, fetch=down)
    results = index.projects(["peft", "trl"])
    assert isinstance(results["peft"], Project)
    assert results["trl"] == ("package index unreachable (ConnectionError); no cached data for trl (try again "
                              "online, or --offline with a filled cache)")
    # the failure itself, whole, once for the report's top line
    assert index.unreachable == "ConnectionError: Network is unreachable"


def test_a_corrupt_cache_file_is_refetched(tmp_path):
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "flash-attn.json").write_text("{trunc")
    raw = (FIXTURES / "raw-flash-attn.json").read_text()
    results = Index(tmp_path, fetch=lambda url, timeout: raw).projects(["flash-attn"])
    assert isinstance(results["flash-attn"], Project)


def test_one_bad_project_is_unknown_with_its_reason_and_the_others_stand(tmp_path):
    """HTML, truncated JSON, a 404 and a timeout, each for one project: a reason each, the rest unharmed."""
    import requests

    good = (CACHED / "peft.json").read_text()
    peft = json.dumps({"meta": {"api-version": "1.1"}, "name": "peft", "files": [
        {"filename": f[0], "url": f[1], "requires-python": f[2], "yanked": f[3]}
        for f in json.loads(good)["files"]]})

    def fetch(url: str, timeout: float) -> str:
        if "/accelerate/" in url:
            return "<!DOCTYPE html><html><body><a href='accelerate-1.0.tar.gz'>x</a></body></html>"
        if "/trl/" in url:
            return peft[: len(peft) // 2]
        if "/axolotl/" in url:
            raise LookupError("not on the package index (404)")
        if "/vllm/" in url:
            raise requests.exceptions.ReadTimeout("read timed out (read timeout=5)")
        return peft

    results = Index(tmp_path, fetch=fetch).projects(["accelerate", "trl", "axolotl", "vllm", "peft"])
    assert isinstance(results["peft"], Project)
    assert "HTML, not PEP 691 JSON" in results["accelerate"]
    assert "not valid JSON" in results["trl"]
    assert "404" in results["axolotl"]
    assert "ReadTimeout" in results["vllm"] and "no cached data for vllm" in results["vllm"]


def test_bad_answers_become_unknown_verdicts_in_a_check(tmp_path):
    from aidoctor.doctor.check.engine import CheckRequest, run_check
    from aidoctor.doctor.dsl.rules import Status

    def fetch(url: str, timeout: float) -> str:
        if "/peft/" in url:
            return "<html>mirror error</html>"
        return (FIXTURES / "raw-flash-attn.json").read_text()

    index = Index(tmp_path, fetch=fetch, fetch_range=lambda url, timeout, byte_range: b"")
    report = run_check(CheckRequest(profile="dgx-spark", tools=("peft", "flash-attn")), index=index)
    verdicts = {v.tool: v for v in report.verdicts}
    assert verdicts["peft"].status is Status.UNKNOWN and "HTML" in " ".join(verdicts["peft"].reasons)
    assert verdicts["flash-attn"].status is Status.BUILD


# -- the install plan goes through the same selection --


def test_a_pinned_install_plans_the_pinned_file_for_another_machine(tmp_path):
    from aidoctor.doctor.install.run import prepare
    from aidoctor.doctor.install.plan import InstallRequest, Route

    request = InstallRequest(tool="peft", version="0.20.0", dry_run=True, profile="dgx-spark",
                             wheelhouse=tmp_path / "wh")
    plan = prepare(request, index=recorded(tmp_path)).plan
    assert plan.route is Route.INDEX and plan.version == "0.20.0"
    assert "peft-0.20.0-py3-none-any.whl" in plan.why and "0.21" not in plan.why
    assert not (tmp_path / "wh").exists()


def _plan_elsewhere(tmp_path: Path, monkeypatch, **request):
    from aidoctor.doctor.install.plan import InstallRequest
    from aidoctor.doctor.install.run import prepare

    monkeypatch.setenv("AIDOCTOR_CACHE_DIR", str(tmp_path / "this-machine-cache"))
    monkeypatch.delenv("AIDOCTOR_WHEELHOUSE", raising=False)
    return prepare(InstallRequest(dry_run=True, **request), index=recorded(tmp_path)).plan


def test_a_plan_for_another_machine_names_it_and_none_of_this_machines_folders(tmp_path, monkeypatch):
    import io

    from rich.console import Console

    from aidoctor.doctor.install.plan import Route
    from aidoctor.doctor.render.install import render_plan

    plan = _plan_elsewhere(tmp_path, monkeypatch, tool="flash-attn", profile="jetson-agx-orin")
    assert plan.route is Route.BUILD and plan.subject == "profile jetson-agx-orin"
    out = io.StringIO()
    render_plan(plan, Console(file=out, width=400, color_system=None))
    text = out.getvalue()
    assert text.splitlines()[0].startswith("Plan for flash-attn 2.8.3.post2 on profile jetson-agx-orin, not this machine")
    assert "this-machine-cache" not in text and str(Path.home()) not in text
    assert "<aidoctor cache on that machine>/runs/flash-attn-<start time>-<process id>/constraints.txt" in text
    assert "<aidoctor cache on that machine>/builds/flash-attn-2.8.3.post2-" in text
    assert "<wheelhouse on that machine>" in text
    assert plan.to_json()["subject"] == "profile jetson-agx-orin"
    assert not (tmp_path / "this-machine-cache").exists()  # a dry run creates nothing


def test_a_wheelhouse_given_for_another_machine_is_shown_as_given(tmp_path, monkeypatch):
    facts = tmp_path / "orin.json"
    from aidoctor.doctor.check.profiles import load

    facts.write_text(json.dumps(load("jetson-agx-orin").machine.to_json()))
    plan = _plan_elsewhere(tmp_path, monkeypatch, tool="peft", facts_file=facts, wheelhouse=tmp_path / "export")
    assert plan.subject == f"facts file {facts}"
    text = json.dumps(plan.to_json())
    assert str(tmp_path / "export") in text and "<wheelhouse on that machine>" not in text
    assert "<aidoctor cache on that machine>/runs/peft-" in text


# -- verdicts from the pick --


def _judge(tool: str, machine: Machine, tmp_path: Path):
    from aidoctor.doctor.check.engine import judge, select_tools

    return judge(replace(machine, packages={}), select_tools((tool,)), recorded(tmp_path))[0]


def test_an_older_release_for_this_python_is_caveats_naming_the_newest(tmp_path):
    from aidoctor.doctor.dsl.rules import Status

    verdict = _judge("transformers", ORIN, tmp_path)
    assert verdict.status is Status.CAVEATS
    assert verdict.available.version == "5.20.2" and verdict.available.newest == "5.24.0"
    assert any("5.24.0 needs Python" in r for r in verdict.reasons), verdict.reasons


def test_mlx_on_macos_13_gets_the_last_release_with_macos_13_wheels_not_a_contradiction(tmp_path):
    from aidoctor.doctor.dsl.rules import Status

    ventura = Machine(os="darwin", arch="aarch64", macos="13.6", python="3.12.8", python_translated=False)
    verdict = _judge("mlx", ventura, tmp_path)
    assert verdict.available.filename == "mlx-0.29.3-cp312-cp312-macosx_13_0_arm64.whl"
    assert verdict.status is Status.CAVEATS, verdict.reasons
    assert not any("need macOS 14" in r for r in verdict.reasons)
    installed = replace(ventura, packages={"mlx": "0.30.0"})
    from aidoctor.doctor.check.engine import select_tools
    from aidoctor.doctor.check.verdicts import evaluate

    assert evaluate(select_tools(("mlx",))[0], installed).status is Status.UNSUPPORTED


def test_the_fix_for_a_source_build_offers_the_older_wheel_and_says_so(tmp_path):
    verdict = _judge("xformers", X86_OLD_GLIBC, tmp_path)
    assert any("--only-binary xformers" in f and "older wheel" in f for f in verdict.fixes), verdict.fixes


def test_a_check_with_torch_installed_reads_vllms_pin_from_its_wheel_as_a_caveat(tmp_path):
    from aidoctor.doctor.check.engine import judge, select_tools
    from aidoctor.doctor.dsl.rules import Status

    from aidoctor.doctor.check.profiles import load

    index = recorded(tmp_path)
    spark = replace(load("dgx-spark").machine, packages={"torch": "2.15.0"})
    verdict = judge(spark, select_tools(("vllm",)), index)[0]
    assert verdict.status is Status.CAVEATS
    assert any("torch==2.14.0" in r and "replace the installed torch 2.15.0 with "
               "torch-2.14.0-cp312-cp312-manylinux_2_28_aarch64.whl (torch's verdict for it here: ok)" in r
               for r in verdict.reasons), verdict.reasons


def test_a_warm_check_reads_kept_picks_and_a_new_file_list_replaces_them(tmp_path):
    raw = (FIXTURES / "raw-flash-attn.json").read_text()
    calls = []

    def fetch(url: str, timeout: float) -> str:
        calls.append(url)
        return raw

    target = target_for(SPARK)
    index = Index(tmp_path, fetch=fetch)
    first = index.offers(["flash-attn"], lambda p: select(p, SPARK, target), target.key(), requirements=False)
    kept = tmp_path / "index" / "picks" / f"flash-attn.{target.key()}.json"
    assert kept.exists() and first["flash-attn"].kind is Offer.SDIST

    def never_choose(project: Project):
        raise AssertionError("a kept pick must be used")

    again = index.offers(["flash-attn"], never_choose, target.key(), requirements=False)
    assert again == first and len(calls) == 1
    other = target_for(ORIN)
    assert other.key() != target.key()  # another machine's pick is its own
    list_file = tmp_path / "index" / "flash-attn.json"
    os.utime(list_file, (list_file.stat().st_mtime + 1,) * 2)  # the file list was fetched again since
    with pytest.raises(AssertionError, match="a kept pick must be used"):
        index.offers(["flash-attn"], never_choose, target.key(), requirements=False)  # so it is chosen anew


def test_pep_658_metadata_is_fetched_when_the_index_serves_it(tmp_path):
    """PyPI's mirror here serves no core-metadata; an index that does is asked for FILE.metadata alone."""
    page = json.dumps({"meta": {"api-version": "1.1"}, "name": "demo", "files": [
        {"filename": "demo-1.0-py3-none-any.whl", "url": "../../files/demo-1.0-py3-none-any.whl",
         "core-metadata": {"sha256": "0" * 64}}]})
    asked = []

    def fetch(url: str, timeout: float) -> str:
        asked.append(url)
        if url.endswith(".metadata"):
            return "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: torch==2.14.0\n"
        return page

    def no_ranges(url: str, timeout: float, byte_range: str) -> bytes:
        raise AssertionError("no ranged reads where the index serves the metadata")

    index = Index(tmp_path, fetch=fetch, fetch_range=no_ranges, index_url="https://mirror.example/simple")
    offered = index.offers(["demo"], lambda p: select(p, SPARK), "k", requirements=True)["demo"]
    assert offered.requires_dist == ("torch==2.14.0",)
    assert asked[-1] == "https://mirror.example/files/demo-1.0-py3-none-any.whl.metadata"


# -- pins of the chosen release on other installed tools (not torch) --


def _judge_with(tools: tuple[str, ...], machine: Machine, tmp_path: Path):
    from aidoctor.doctor.check.engine import judge, select_tools

    return {v.tool: v for v in judge(machine, select_tools(tools), recorded(tmp_path))}


def test_a_tool_pinning_an_older_transformers_is_caveats_naming_the_replacement(tmp_path):
    """llamafactory 0.9.5's wheel pins transformers<=5.6.0, trl<=0.24.0, peft<=0.18.1 (its recorded METADATA):
    pip would replace the newer ones installed, and each replacement works here."""
    from aidoctor.doctor.check.profiles import load
    from aidoctor.doctor.dsl.rules import Status

    machine = replace(load("h100").machine, packages={"transformers": "5.23.0", "trl": "1.16.0", "peft": "0.21.2"})
    verdicts = _judge_with(("llamafactory", "unsloth"), machine, tmp_path)
    llamafactory = verdicts["llamafactory"]
    assert llamafactory.status is Status.CAVEATS, llamafactory.reasons
    assert any("pip would replace the installed transformers 5.23.0 with transformers-5.6.0-py3-none-any.whl" in r
               for r in llamafactory.reasons), llamafactory.reasons
    assert any("trl-0.24.0-py3-none-any.whl" in r for r in llamafactory.reasons)
    assert "pip install llamafactory  # replaces peft 0.21.2 with 0.18.1, as llamafactory 0.9.5 requires" in (
        llamafactory.fixes)
    assert not any("--no-deps" in f for f in llamafactory.fixes)  # its startup check would refuse the kept ones
    unsloth = verdicts["unsloth"]
    assert unsloth.status is Status.CAVEATS, unsloth.reasons
    assert any("transformers-5.17.0-py3-none-any.whl" in r for r in unsloth.reasons)
    assert any("trl-1.15.0-py3-none-any.whl" in r for r in unsloth.reasons)


def test_trl_over_an_old_transformers_is_caveats(tmp_path):
    from aidoctor.doctor.check.profiles import load
    from aidoctor.doctor.dsl.rules import Status

    machine = replace(load("h100").machine, packages={"transformers": "4.50.0"})
    trl = _judge_with(("trl",), machine, tmp_path)["trl"]
    assert trl.status is Status.CAVEATS
    assert "pip install trl  # replaces transformers 4.50.0 with 5.24.0, as trl 1.16.0 requires" in trl.fixes


def test_once_installed_the_pins_are_unsupported(tmp_path):
    from aidoctor.doctor.check.profiles import load
    from aidoctor.doctor.dsl.rules import Status

    machine = replace(load("h100").machine, packages={"llamafactory": "0.9.5", "transformers": "5.23.0"})
    assert _judge_with(("llamafactory",), machine, tmp_path)["llamafactory"].status is Status.UNSUPPORTED


def test_a_pin_no_release_of_which_works_here_is_unsupported(tmp_path):
    """mlx-lm 0.32.2 requires mlx>=0.32.2; on macOS 13 no such mlx has a wheel (0.29.3 is the last macosx_13_0)."""
    from aidoctor.doctor.dsl.rules import Status

    ventura = Machine(os="darwin", arch="aarch64", macos="13.6", python="3.12.8", python_translated=False,
                      packages={"mlx": "0.29.3"})
    verdict = _judge_with(("mlx-lm",), ventura, tmp_path)["mlx-lm"]
    assert verdict.status is Status.UNSUPPORTED
    assert any("pip would replace the installed mlx 0.29.3, but no release of mlx>=0.32.2" in r
               for r in verdict.reasons), verdict.reasons
    assert not any("replaces mlx" in f for f in verdict.fixes)


# -- platform floors bound to the releases they were checked for --


def test_unsloths_macos_14_floor_is_the_mlx_its_zoo_pins(tmp_path):
    """unsloth 2026.10.9 -> unsloth_zoo>=2026.10.9 -> mlx==0.32.4 on Apple silicon (the wheels' own METADATA),
    and no mlx 0.32.4 file fits macOS 13: the rule's floor is the index's, for this release."""
    from aidoctor.doctor.check.index import parse_requires_dist
    from aidoctor.doctor.dsl.rules import Status

    metadata = CACHED / "metadata"
    assert "unsloth_zoo>=2026.10.9" in parse_requires_dist(
        (metadata / "unsloth-2026.10.9-py3-none-any.whl.metadata").read_text())
    zoo = parse_requires_dist((metadata / "unsloth_zoo-2026.10.9-py3-none-any.whl.metadata").read_text())
    assert 'mlx==0.32.4; sys_platform == "darwin" and platform_machine == "arm64"' in zoo
    ventura = Machine(os="darwin", arch="aarch64", macos="13.6", python="3.12.8", python_translated=False)
    assert pick("mlx", ventura, "==0.32.4").kind is Offer.NONE
    sonoma = replace(ventura, macos="14.5")
    assert pick("mlx", sonoma, "==0.32.4").filename == "mlx-0.32.4-cp312-cp312-macosx_14_0_arm64.whl"

    verdict = _judge("unsloth", ventura, tmp_path)
    assert verdict.status is Status.UNSUPPORTED
    assert any("unsloth-zoo 2026.10.9, which pins mlx 0.32.4" in r for r in verdict.reasons), verdict.reasons
    from aidoctor.doctor.check.engine import select_tools
    from aidoctor.doctor.check.verdicts import evaluate

    older = evaluate(select_tools(("unsloth",))[0], replace(ventura, packages={"unsloth": "2026.8.1"}))
    assert not any("pins mlx" in r for r in older.reasons)  # not checked for the zoo releases it accepts


def test_torchaos_pure_python_caveats_hold_for_the_releases_that_are_pure_python():
    from aidoctor.doctor.check.engine import select_tools
    from aidoctor.doctor.check.verdicts import evaluate

    assert pick("torchao", SPARK).filename == "torchao-0.18.0-py3-none-any.whl"
    assert pick("torchao", MAC).filename == "torchao-0.18.0-py3-none-any.whl"
    older = pick("torchao", replace(MAC, python="3.12.8"), "==0.6.1").filename
    assert older == "torchao-0.6.1-cp312-cp312-macosx_11_0_arm64.whl"  # compiled: the caveat is not for it
    torchao = select_tools(("torchao",))[0]
    assert not any("pure-Python" in r for r in evaluate(torchao, replace(MAC, packages={"torchao": "0.6.1"})).reasons)
    assert any("pure-Python" in r for r in evaluate(torchao, replace(MAC, packages={"torchao": "0.18.0"})).reasons)
