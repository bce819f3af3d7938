"""bitsandbytes' CMake build: the CMAKE_ARGS recipes/bitsandbytes.py sets, and where it forces a build."""

from __future__ import annotations

import pytest

from aidoctor.doctor.check.profiles import load
from aidoctor.doctor.core.facts import Gpu
from aidoctor.doctor.dsl.rules import Ctx
from aidoctor.recipes import all_tools
from aidoctor.recipes.bitsandbytes import bitsandbytes_cmake_args

from .build_env import PROFILES, build_env, machine, runtime_env

BITSANDBYTES = {
    "dgx-spark": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=121"},
    "gh200": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=90"},
    "jetson-agx-orin": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=87"},
    "jetson-thor": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=110"},
    "h100": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=90"},
    "rtx-4090": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=89"},
    "mac-studio-m4-max": {},
    "graviton": {},
}


@pytest.mark.parametrize("profile", PROFILES)
def test_bitsandbytes_sets_exactly_this_build_environment_and_none_at_run_time(profile):
    assert build_env("bitsandbytes", profile) == BITSANDBYTES[profile]
    assert runtime_env("bitsandbytes", profile) == {}


def test_thor_on_cuda_12_is_101():
    thor12 = machine("jetson-thor", cuda_toolkit="12.9", cuda_driver="12.9",
                     gpus=(Gpu(vendor="nvidia", name="NVIDIA Thor", compute_capability="10.1", memory_shared=True),))
    assert bitsandbytes_cmake_args(thor12).value == "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=101"


def test_unknown_gpus_give_no_compute_capability():
    assert bitsandbytes_cmake_args(machine("dgx-spark", gpus=None)) is None


def test_several_gpus_are_deduplicated_and_sorted():
    gpus = tuple(Gpu(vendor="nvidia", name=name, compute_capability=cc)
                 for name, cc in (("NVIDIA H100", "9.0"), ("NVIDIA A100", "8.0"), ("NVIDIA H100", "9.0")))
    assert bitsandbytes_cmake_args(machine("h100", gpus=gpus)).value == (
        "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=80;90")


@pytest.mark.parametrize("profile, forced", [("jetson-agx-orin", True), ("jetson-thor", False), ("dgx-spark", False),
                                             ("gh200", False)])
def test_bitsandbytes_is_built_on_an_l4t_jetson_only(profile, forced):
    assert all_tools()["bitsandbytes"].recipe.force_build(Ctx(load(profile).machine)) is forced
