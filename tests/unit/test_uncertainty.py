"""Reasoning under missing facts: what follows from other facts (core.derive), and a verdict that is `unknown`
only when a missing fact's value could change its status (dsl.rules.judge_rules)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from aidoctor.doctor.check.engine import judge
from aidoctor.doctor.check.index import Index
from aidoctor.doctor.check.profiles import all_profiles, load
from aidoctor.doctor.check.verdicts import TARGET_FACTS
from aidoctor.doctor.core.derive import DERIVED_FROM, derive
from aidoctor.doctor.core.facts import _FACT_KEYS, Apple, FactState, Gpu, Jetson, Machine
from aidoctor.doctor.dsl.rules import (Ctx, Status, caveat, conflicts, judge_rules, needs_build, no_cuda_toolkit,
                                       nvidia_gpu, on_linux, translated_python)
from aidoctor.doctor.dsl.rules import cuda_toolkit as nvcc
from aidoctor.recipes import all_tools

SRC = "https://example.org/rule-under-test"
H100 = Gpu(vendor="nvidia", name="NVIDIA H100 80GB HBM3", compute_capability="9.0", memory_gb=79.6,
           memory_shared=False)
GB10 = Gpu(vendor="nvidia", name="NVIDIA GB10", compute_capability="12.1", memory_shared=True)
ORIN = Gpu(vendor="nvidia", name="Orin (nvgpu)", compute_capability="8.7")


# -- derivations --


@pytest.mark.parametrize("machine, because", [
    (Machine(os="linux", arch="x86_64"), "the architecture is x86_64 and every Jetson is aarch64"),
    (Machine(os="darwin"), "Jetsons run Linux (L4T), this machine runs darwin"),
    (Machine(os="linux", arch="aarch64", gpus=(H100,)), "has its own memory"),
    (Machine(os="linux", arch="aarch64", gpus=(GB10,)), "compute capability 12.1 is no Jetson's"),
])
def test_not_a_jetson_follows_from_arch_os_discrete_gpu_or_compute_capability(machine, because):
    derived = derive(machine)
    assert derived.jetson is False and derived.is_jetson() is False
    assert because in derived.derived["jetson"]


def test_a_jetsons_compute_capability_or_an_unknown_gpu_derives_nothing():
    assert derive(Machine(os="linux", arch="aarch64", gpus=(ORIN,))).jetson is None
    assert derive(Machine(os="linux", arch="aarch64")).jetson is None


def test_a_fact_with_a_value_is_never_overwritten_and_derive_is_idempotent():
    board = Jetson(l4t="36.4.4", soc="tegra234")
    machine = Machine(os="linux", arch="aarch64", jetson=board, unified_memory=False, gpus=(ORIN,))
    assert derive(machine).jetson == board and derive(machine).unified_memory is False
    once = derive(Machine(os="linux", arch="x86_64", gpus=(H100,)))
    assert derive(once) == once


@pytest.mark.parametrize("machine, because", [
    (Machine(os="linux"), "Rosetta 2 exists only on macOS"),
    (Machine(os="darwin", arch="x86_64"), "Intel Mac"),
    (Machine(os="darwin", arch="aarch64", apple=Apple(chip="Apple M4 Max", mps=True)), "native arm64"),
])
def test_not_translated(machine, because):
    derived = derive(machine)
    assert derived.python_translated is False and because in derived.derived["python_translated"]


def test_a_mac_that_may_be_translated_stays_unknown():
    assert derive(Machine(os="darwin", arch="aarch64", apple=Apple(chip="Apple M4 Max"))).python_translated is None


@pytest.mark.parametrize("machine, unified", [
    (Machine(os="linux", arch="aarch64", jetson=Jetson(soc="tegra234")), True),
    (Machine(os="linux", arch="aarch64", gpus=(GB10,)), True),
    (Machine(os="darwin", arch="aarch64", apple=Apple(chip="Apple M3 Ultra")), True),
    (Machine(os="linux", arch="x86_64", gpus=(H100,)), False),
    (Machine(os="linux", arch="x86_64", gpus=()), False),
    (Machine(os="linux", arch="aarch64", gpus=(Gpu(vendor="nvidia", compute_capability="9.0"),)), None),
])
def test_unified_memory_from_the_gpu_or_chip(machine, unified):
    derived = derive(machine)
    assert derived.unified_memory is unified
    assert ("unified_memory" in derived.derived) is (unified is not None)


def test_a_derived_fact_leaves_unknown_and_states_and_survives_the_json_round_trip():
    machine = Machine(os="linux", arch="x86_64", gpus=(H100,), unknown={"jetson": "probe failed"},
                      states={"jetson": FactState.TIMED_OUT})
    derived = derive(machine)
    assert "jetson" not in derived.unknown and "jetson" not in derived.states
    assert Machine.from_json(derived.to_json()) == derived


# -- rules under missing facts --


X86_H100 = derive(Machine(os="linux", arch="x86_64", gpus=(H100,), packages={}))
TO_BUILD = on_linux() & nvidia_gpu()
NO_TOOLKIT = needs_build(when=TO_BUILD & no_cuda_toolkit(), msg="no nvcc: install one", fix="apt install cuda",
                         source=SRC)
OLD_TOOLKIT = conflicts(when=TO_BUILD & nvcc("<11.7"), msg="nvcc too old", fix="apt install cuda", source=SRC)
CUDA13 = caveat(when=TO_BUILD & nvcc(">=13"), msg="CUDA 13 quirk", fix=None, source=SRC)


def test_a_missing_toolkit_that_cannot_change_the_status_leaves_it_standing_with_a_conditional_reason():
    rules = judge_rules([NO_TOOLKIT, OLD_TOOLKIT], Ctx(X86_H100))
    assert rules.missing == ("cuda_toolkit",)
    assert rules.statuses(Status.BUILD) == (Status.BUILD,)
    findings = rules.findings(Status.BUILD)
    assert [(f.status, f.msg) for f in findings] == [
        (Status.BUILD, "if no CUDA toolkit (nvcc) is installed: no nvcc: install one")]
    # nvcc < 11.7 cannot target an H100 (sm_90 came with CUDA 11.8): no plausible value makes that rule apply


def test_a_missing_toolkit_that_decides_the_status_is_unknown_naming_it_and_the_statuses():
    rules = judge_rules([NO_TOOLKIT, CUDA13], Ctx(X86_H100))
    assert rules.statuses(Status.OK) == (Status.OK, Status.CAVEATS, Status.BUILD)
    findings = rules.findings(Status.OK)
    assert {f.status for f in findings} == {Status.UNKNOWN}
    assert all(f.facts == {"cuda_toolkit"} for f in findings)
    assert "cannot tell whether this applies: cuda_toolkit unknown, whose value decides between ok, caveats and build; " in findings[0].msg
    assert "if the CUDA toolkit is 13.0, 13.1: CUDA 13 quirk" in findings[1].msg


def test_an_unknown_verdict_quotes_why_the_probe_could_not_tell():
    gpu = conflicts(when=nvidia_gpu(), msg="needs no NVIDIA GPU", fix=None, source=SRC)
    machine = Machine(os="linux", unknown={"gpus": "nvidia-smi did not answer within 5 s"})
    (finding,) = judge_rules([gpu], Ctx(machine)).findings(Status.OK)
    assert finding.status is Status.UNKNOWN and finding.facts == {"gpus"}
    assert finding.msg == ("cannot tell whether this applies: gpus unknown (gpus: nvidia-smi did not answer within "
                           "5 s), whose value decides between ok and unsupported; if an NVIDIA GPU: needs no "
                           "NVIDIA GPU")


def test_an_absent_toolkit_is_a_fact_not_a_value_to_try():
    absent = dataclasses.replace(X86_H100, gpus=None, states={"cuda_toolkit": FactState.ABSENT})
    both = needs_build(when=nvidia_gpu() & ~nvcc(">=12"), msg="needs nvcc 12", fix=None, source=SRC)
    rules = judge_rules([both], Ctx(absent))
    assert rules.missing == ("gpus",)
    assert [o.scenario for o in rules.outcomes] == [None]  # no toolkit releases tried on a machine without nvcc


def test_without_plausible_values_an_open_rule_counts_both_ways():
    rosetta = conflicts(when=translated_python(), msg="no MPS under Rosetta", fix=None, source=SRC)
    gpu = conflicts(when=nvidia_gpu(), msg="needs no NVIDIA GPU", fix=None, source=SRC)
    mac = Machine(os="darwin", arch="aarch64", gpus=(Gpu(vendor="apple"),))
    assert judge_rules([rosetta], Ctx(mac)).statuses(Status.OK) == (Status.OK, Status.UNSUPPORTED)
    open_both_ways = judge_rules([gpu], Ctx(Machine(os="linux")))
    assert open_both_ways.statuses(Status.OK) == (Status.OK, Status.UNSUPPORTED)
    assert open_both_ways.statuses(Status.UNSUPPORTED) == (Status.UNSUPPORTED,)  # worse already: it stands
    (stands,) = open_both_ways.findings(Status.UNSUPPORTED)
    assert (stands.status, stands.msg) == (Status.UNSUPPORTED, "if an NVIDIA GPU (gpus unknown): needs no NVIDIA GPU")


def test_the_h100_profile_builds_flash_attn_whether_or_not_nvcc_is_there(recorded_index):
    machine = load("h100").machine
    assert machine.cuda_toolkit is None
    verdicts = {v.tool: v for v in judge(machine, list(all_tools().values()), recorded_index)}
    for tool in ("flash-attn", "causal-conv1d", "mamba-ssm"):
        assert verdicts[tool].status is Status.BUILD, verdicts[tool].reasons
        assert any(r.startswith("if no CUDA toolkit (nvcc) is installed: ") for r in verdicts[tool].reasons)
    # DeepSpeed compiles nothing at install: ok with a toolkit older than 13, caveats without one or with 13
    assert verdicts["deepspeed"].status is Status.UNKNOWN
    assert verdicts["deepspeed"].undecided == {"cuda_toolkit"}


# -- every built-in profile, each fact deleted in turn --


@pytest.fixture(scope="module")
def recorded_index(tmp_path_factory) -> Index:
    """The recorded index answers, copied: new targets (a profile without glibc) write picks into the cache."""
    copy = tmp_path_factory.mktemp("index") / "cache"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "index" / "cache", copy)
    return Index(copy, offline=True)


def reads(tool) -> set[str]:
    """Every fact a tool's verdict can read: its rules' conditions, what those derive from, pip's target."""
    needs = set().union(*(rule.when.needs for rule in tool.rules))
    return needs | {source for fact in needs for source in DERIVED_FROM.get(fact, ())} | TARGET_FACTS | {"packages"}


def without(machine: Machine, fact: str) -> Machine:
    return dataclasses.replace(machine, **{fact: None}, derived={k: v for k, v in machine.derived.items() if k != fact})


@pytest.mark.parametrize("profile", sorted(all_profiles()))
def test_deleting_a_fact_keeps_each_status_or_makes_it_unknown_naming_that_fact(profile, recorded_index):
    machine = load(profile).machine
    tools = all_tools()
    before = {v.tool: v for v in judge(machine, list(tools.values()), recorded_index)}
    problems = []
    for fact in sorted(_FACT_KEYS):
        if getattr(machine, fact) is None:
            continue
        for verdict in judge(without(machine, fact), list(tools.values()), recorded_index):
            was = before[verdict.tool]
            if verdict.status is was.status:
                continue
            named = verdict.undecided | {s for f in verdict.undecided for s in DERIVED_FROM.get(f, ())}
            if verdict.status is not Status.UNKNOWN or fact not in named:
                problems.append(f"without {fact}: {verdict.tool} {was.status} -> {verdict.status} "
                                f"naming {sorted(verdict.undecided)}: {verdict.reasons[0]}")
            elif not verdict.undecided <= reads(tools[verdict.tool]):
                problems.append(f"without {fact}: {verdict.tool} names {sorted(verdict.undecided)}, which it never "
                                "reads")
    assert not problems, "\n".join(problems)


def test_explain_states_the_derivations_and_what_a_missing_fact_would_change(recorded_index):
    from rich.console import Console

    from aidoctor.doctor.render.terminal import render_explain

    facts = {**load("h100").machine.to_json(), "jetson": None, "unified_memory": None, "python_translated": None}
    machine = derive(Machine.from_json(facts))
    tool = all_tools()["flash-attn"]
    (verdict,) = judge(machine, [tool], recorded_index)
    console = Console(width=400, record=True)
    render_explain(tool, verdict, "facts file", console, machine.derived)
    text = console.export_text()
    assert "jetson: the architecture is x86_64 and every Jetson is aarch64" in text
    assert "unified_memory: NVIDIA H100 80GB HBM3: its own memory, so nothing shares system memory" in text
    assert "MAY APPLY       [build] building flash-attn needs nvcc" in text
    assert "only if no CUDA toolkit (nvcc) is installed" in text
