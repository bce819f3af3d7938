"""The rules DSL: three-valued conditions, unknowns that name the missing facts, declared sources."""

from __future__ import annotations

import pytest

from aidoctor.doctor.core.facts import FactState, Gpu, Jetson, Machine
from aidoctor.doctor.dsl.rules import cuda_toolkit, no_cuda_toolkit
from aidoctor.doctor.dsl.rules import (Ctx, Status, apply, arch_is, conflicts, gpu_cc, installed, jetpack, jetson,
                                   nvidia_gpu, on_macos, python, version, worst)
from packaging.version import Version

GB10 = Machine(os="linux", arch="aarch64", python="3.12.3", jetson=False,
               gpus=(Gpu(vendor="nvidia", name="NVIDIA GB10", compute_capability="12.1"),), packages={"torch": "2.15.0"})
ORIN = Machine(os="linux", arch="aarch64", jetson=Jetson(l4t="36.4.4", jetpack="6.2.1", soc="tegra234"),
               gpus=(Gpu(vendor="nvidia", compute_capability="8.7"),))
MAC = Machine(os="darwin", arch="aarch64", gpus=(Gpu(vendor="apple", name="Apple M4 Max"),))
ONLY_OS = Machine(os="linux")


@pytest.mark.parametrize("cond, machine, expected", [
    (gpu_cc(">=12.0"), GB10, True),
    (gpu_cc("<8.0"), GB10, False),
    (gpu_cc(">=8.0"), MAC, False),  # no NVIDIA GPU: decided, not unknown
    (gpu_cc(">=8.0"), ONLY_OS, None),
    (nvidia_gpu(), MAC, False),
    (jetson(), GB10, False),
    (jetson(), ORIN, True),
    (jetson(), MAC, False),
    (jetson(), Machine(os="linux", arch="aarch64"), None),
    (jetpack("<7"), ORIN, True),
    (jetpack("<7"), GB10, False),
    (on_macos() & gpu_cc(">=8.0"), GB10, False),
    (on_macos() & gpu_cc(">=8.0"), Machine(os="linux"), False),  # False wins over unknown in "and"
    (arch_is("x86_64") | gpu_cc(">=8.0"), Machine(arch="aarch64"), None),
    (~jetson(), ORIN, False),
    (installed("torch", ">=2.15"), GB10, True),
    (installed("Torch", "<2.15"), GB10, False),
    (installed("torch"), ONLY_OS, None),
    (python(">=3.11"), GB10, True),
], ids=lambda v: getattr(v, "text", None) or (v.os if isinstance(v, Machine) else str(v)))
def test_conditions_are_three_valued(cond, machine, expected):
    assert cond(Ctx(machine)) is expected


def test_a_rule_that_fires_carries_its_reason_fix_and_source():
    rule = conflicts(when=on_macos(), msg="flash-attn is CUDA-only", fix="use SDPA", source="https://example.org/fa")
    finding = apply(rule, Ctx(MAC))
    assert (finding.status, finding.msg, finding.fix, finding.source) == (
        Status.UNSUPPORTED, "flash-attn is CUDA-only", "use SDPA", "https://example.org/fa")
    assert apply(rule, Ctx(GB10)) is None


def test_an_undecidable_rule_makes_unknown_naming_the_missing_fact_and_its_reason():
    rule = conflicts(when=gpu_cc("<8.0"), msg="needs Ampere", fix=None, source="https://example.org/x")
    machine = Machine(os="linux", unknown={"gpus": "nvidia-smi did not answer within 5 s"})
    finding = apply(rule, Ctx(machine))
    assert finding.status is Status.UNKNOWN
    assert "gpus" in finding.msg and "did not answer within 5 s" in finding.msg and "needs Ampere" in finding.msg


def test_version_conditions_judge_the_version_given():
    rule = conflicts(when=version("<=2026.10.9") & installed("torch", ">=2.15"), msg="pins torch<2.15", fix=None,
                     source="https://pypi.org/project/unsloth/2026.10.9/")
    assert apply(rule, Ctx(GB10, Version("2026.10.9"))).status is Status.UNSUPPORTED
    assert apply(rule, Ctx(GB10, Version("2026.11.1"))) is None
    assert apply(rule, Ctx(GB10, None)).status is Status.UNKNOWN


def test_rules_need_a_source_link_and_valid_specifiers():
    with pytest.raises(ValueError, match="source"):
        conflicts(when=on_macos(), msg="x", fix=None, source="")
    with pytest.raises(ValueError, match="specifier"):
        gpu_cc("about 8")


def test_worst_status_wins():
    assert worst([Status.OK, Status.BUILD, Status.CAVEATS]) is Status.BUILD
    assert worst([Status.UNKNOWN, Status.UNSUPPORTED]) is Status.UNSUPPORTED
    assert worst([]) is Status.OK


@pytest.mark.parametrize("state, has_none, in_spec", [
    (FactState.ABSENT, True, False),  # the probe found no nvcc: an answer
    (FactState.UNKNOWN, None, None),  # nvcc could not be run: cannot tell
    (FactState.TIMED_OUT, None, None),
])
def test_toolkit_conditions_read_the_probes_state_not_its_words(state, has_none, in_spec):
    # The same reason text under every state: only the state decides.
    machine = Machine(os="linux", unknown={"cuda_toolkit": "nvcc not found"}, states={"cuda_toolkit": state})
    ctx = Ctx(machine)
    assert no_cuda_toolkit()(ctx) is has_none
    assert cuda_toolkit(">=12.8")(ctx) is in_spec
    with_toolkit = Ctx(Machine(os="linux", cuda_toolkit="13.0"))
    assert no_cuda_toolkit()(with_toolkit) is False and cuda_toolkit(">=12.8")(with_toolkit) is True
