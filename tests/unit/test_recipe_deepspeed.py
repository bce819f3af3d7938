"""DeepSpeed's prebuilt ops: the DS_BUILD_* environment recipes/deepspeed.py sets."""

from __future__ import annotations

import pytest

from aidoctor.doctor.core.facts import Gpu, TorchBuild
from aidoctor.doctor.check.profiles import load
from aidoctor.recipes.deepspeed import deepspeed_env

from .build_env import PROFILES, build_env, env, machine, runtime_env

DEEPSPEED = {
    "dgx-spark": {"DS_BUILD_CPU_ADAM": "1", "DS_BUILD_AIO": "0", "DS_BUILD_FUSED_ADAM": "1",
                  "TORCH_CUDA_ARCH_LIST": "12.1"},
    "gh200": {"DS_BUILD_CPU_ADAM": "1", "DS_BUILD_AIO": "0", "DS_BUILD_FUSED_ADAM": "1",
              "TORCH_CUDA_ARCH_LIST": "9.0"},
    "jetson-agx-orin": {"DS_BUILD_CPU_ADAM": "1", "DS_BUILD_AIO": "0", "DS_BUILD_FUSED_ADAM": "1",
                        "TORCH_CUDA_ARCH_LIST": "8.7"},
    "jetson-thor": {"DS_BUILD_CPU_ADAM": "1", "DS_BUILD_AIO": "0", "DS_BUILD_FUSED_ADAM": "1",
                    "TORCH_CUDA_ARCH_LIST": "11.0"},
    "h100": {"DS_BUILD_CPU_ADAM": "1", "DS_BUILD_AIO": "0"},  # no CUDA toolkit recorded: no CUDA op
    "rtx-4090": {"DS_BUILD_CPU_ADAM": "1", "DS_BUILD_AIO": "0"},
    "mac-studio-m4-max": {"DS_BUILD_CPU_ADAM": "1"},
    "graviton": {"DS_BUILD_CPU_ADAM": "1", "DS_BUILD_AIO": "0"},
}


@pytest.mark.parametrize("profile", PROFILES)
def test_deepspeed_sets_exactly_this_build_environment_and_none_at_run_time(profile):
    assert build_env("deepspeed", profile) == DEEPSPEED[profile]
    assert runtime_env("deepspeed", profile) == {}


def test_thor_on_cuda_12_is_10_1():
    thor12 = machine("jetson-thor", cuda_toolkit="12.9", cuda_driver="12.9",
                     gpus=(Gpu(vendor="nvidia", name="NVIDIA Thor", compute_capability="10.1", memory_shared=True),))
    assert env(deepspeed_env(thor12))["TORCH_CUDA_ARCH_LIST"] == "10.1"


def test_an_unknown_toolkit_or_unknown_gpus_prebuild_no_cuda_op():
    unknown_toolkit = machine("jetson-thor", cuda_toolkit=None, cuda_home=None)
    assert env(deepspeed_env(unknown_toolkit)) == {"DS_BUILD_CPU_ADAM": "1", "DS_BUILD_AIO": "0"}
    unknown_gpus = machine("dgx-spark", gpus=None)
    assert env(deepspeed_env(unknown_gpus)) == {"DS_BUILD_CPU_ADAM": "1", "DS_BUILD_AIO": "0"}


def test_a_mac_builds_cpu_adam_with_the_mps_builder():
    assert "-D__NEON__" in deepspeed_env(load("mac-studio-m4-max").machine)[0].why  # not -march=native


def test_deepspeed_skips_its_cuda_check_for_a_minor_mismatch_within_one_major():
    # PyPI's torch 2.15 is CUDA 13.2; the Spark's toolkit is 13.0; 0.19.8's allow-list has no CUDA 13
    spark = machine("dgx-spark", torch_build=TorchBuild(version="2.15.0+cu132", cuda="13.2"))
    assert env(deepspeed_env(spark))["DS_SKIP_CUDA_CHECK"] == "1"


@pytest.mark.parametrize("torch_cuda", ["13.0", "12.8", None])
def test_deepspeed_keeps_its_cuda_check_otherwise(torch_cuda):
    spark = machine("dgx-spark", torch_build=TorchBuild(version="2.15.0", cuda=torch_cuda))
    assert "DS_SKIP_CUDA_CHECK" not in env(deepspeed_env(spark))
