"""triton's ptxas: the TRITON_PTXAS_PATH recipes/triton.py sets at run time (and unsloth with it)."""

from __future__ import annotations

import pytest

from aidoctor.doctor.check.profiles import load
from aidoctor.doctor.core.facts import Gpu
from aidoctor.recipes import all_tools
from aidoctor.recipes.triton import ptxas_missing, triton_ptxas_path, triton_runtime_env

from .build_env import PROFILES, PTXAS, build_env, machine, runtime_env

TRITON_RUNTIME = {**dict.fromkeys(PROFILES, {}),
                  "dgx-spark": {"TRITON_PTXAS_PATH": PTXAS}, "jetson-thor": {"TRITON_PTXAS_PATH": PTXAS}}


@pytest.mark.parametrize("profile", PROFILES)
def test_triton_is_never_built_and_sets_exactly_this_runtime_environment(profile):
    assert build_env("triton", profile) == {}  # binary_only
    assert runtime_env("triton", profile) == TRITON_RUNTIME[profile]


def test_unsloth_takes_triton_runtime_environment():
    assert all_tools()["unsloth"].recipe.runtime_env is triton_runtime_env


def test_the_why_names_the_report():
    assert "sm_121a (triton#8539)" in triton_ptxas_path(load("dgx-spark").machine).why


def test_thor_on_cuda_12_needs_no_ptxas_path():
    thor12 = machine("jetson-thor", cuda_toolkit="12.9", cuda_driver="12.9",
                     gpus=(Gpu(vendor="nvidia", name="NVIDIA Thor", compute_capability="10.1", memory_shared=True),))
    # the ptxas bundled with triton knows sm_101a: no TRITON_PTXAS_PATH, nothing missing
    assert (triton_ptxas_path(thor12), ptxas_missing(thor12)) == (None, None)


def test_thor_named_by_the_toolkit_that_compiles_not_by_the_driver():
    # a CUDA 13 driver (reporting 11.0) with a CUDA 12.9 nvcc: nvcc only knows sm_101
    mixed = machine("jetson-thor", cuda_toolkit="12.9")
    assert triton_ptxas_path(mixed) is None
    assert ptxas_missing(mixed) == ("a CUDA toolkit >= 13.0 whose ptxas knows sm_110a, for TRITON_PTXAS_PATH: "
                                    "triton before 3.9 bundles one that does not (vllm#31338)")


def test_gb10_without_a_toolkit_gets_no_ptxas_path_and_the_plan_can_say_what_is_missing():
    bare = machine("dgx-spark", cuda_toolkit=None, cuda_home=None, unknown={"cuda_toolkit": "nvcc not found"})
    assert triton_ptxas_path(bare) is None
    assert ptxas_missing(bare) == ("a CUDA toolkit >= 12.9 whose ptxas knows sm_121a, for TRITON_PTXAS_PATH: "
                                   "triton before 3.9 bundles one that does not (triton#8539)")


def test_a_gb10_toolkit_too_old_for_sm_121a_is_missing_too():
    assert triton_ptxas_path(machine("dgx-spark", cuda_toolkit="12.8")) is None
    assert ptxas_missing(machine("dgx-spark", cuda_toolkit="12.8")).startswith("a CUDA toolkit >= 12.9")
    assert triton_ptxas_path(machine("dgx-spark", cuda_toolkit="12.9")).value == PTXAS


def test_the_ptxas_path_follows_cuda_home():
    assert triton_ptxas_path(machine("dgx-spark", cuda_home="/opt/cuda-13.0")).value == "/opt/cuda-13.0/bin/ptxas"
