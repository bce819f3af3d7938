"""flash-attn's and xformers' source builds: the environment recipes/flash_attn.py and recipes/xformers.py set."""

from __future__ import annotations

import pytest

from aidoctor.doctor.core.facts import Cpu, Gpu
from aidoctor.doctor.check.profiles import load
from aidoctor.recipes.flash_attn import flash_attn_cuda_archs, flash_attn_env
from aidoctor.recipes.xformers import xformers_env

from .build_env import PROFILES, build_env, env, machine, runtime_env

FLASH_ATTN = {
    "dgx-spark": {"FLASH_ATTENTION_FORCE_BUILD": "TRUE", "FLASH_ATTN_CUDA_ARCHS": "120", "MAX_JOBS": "10",
                  "NVCC_THREADS": "1"},
    "gh200": {"FLASH_ATTENTION_FORCE_BUILD": "TRUE", "FLASH_ATTN_CUDA_ARCHS": "90", "MAX_JOBS": "36",
              "NVCC_THREADS": "1"},
    "jetson-agx-orin": {"FLASH_ATTENTION_FORCE_BUILD": "TRUE", "FLASH_ATTN_CUDA_ARCHS": "80", "MAX_JOBS": "6",
                        "NVCC_THREADS": "1"},
    "jetson-thor": {"FLASH_ATTENTION_FORCE_BUILD": "TRUE", "FLASH_ATTN_CUDA_ARCHS": "110", "MAX_JOBS": "1",
                    "NVCC_THREADS": "1"},
    "h100": {"FLASH_ATTENTION_FORCE_BUILD": "TRUE", "FLASH_ATTN_CUDA_ARCHS": "90", "MAX_JOBS": "1",
             "NVCC_THREADS": "1"},
    "rtx-4090": {"FLASH_ATTENTION_FORCE_BUILD": "TRUE", "FLASH_ATTN_CUDA_ARCHS": "80", "MAX_JOBS": "1",
                 "NVCC_THREADS": "1"},
    "mac-studio-m4-max": {},
    "graviton": {},
}

XFORMERS = {
    "dgx-spark": {"TORCH_CUDA_ARCH_LIST": "12.1", "FORCE_CUDA": "1", "XFORMERS_DISABLE_FLASH_ATTN": "1",
                  "MAX_JOBS": "10"},
    "gh200": {"TORCH_CUDA_ARCH_LIST": "9.0", "FORCE_CUDA": "1", "XFORMERS_DISABLE_FLASH_ATTN": "1",
              "MAX_JOBS": "36"},
    "jetson-agx-orin": {"TORCH_CUDA_ARCH_LIST": "8.7", "FORCE_CUDA": "1", "XFORMERS_DISABLE_FLASH_ATTN": "1",
                        "MAX_JOBS": "6"},
    "jetson-thor": {"TORCH_CUDA_ARCH_LIST": "11.0", "FORCE_CUDA": "1", "XFORMERS_DISABLE_FLASH_ATTN": "1",
                    "MAX_JOBS": "1"},
    "h100": {"TORCH_CUDA_ARCH_LIST": "9.0", "FORCE_CUDA": "1", "MAX_JOBS": "1"},
    "rtx-4090": {"TORCH_CUDA_ARCH_LIST": "8.9", "FORCE_CUDA": "1", "MAX_JOBS": "1"},
    "mac-studio-m4-max": {},
    "graviton": {},
}


@pytest.mark.parametrize("profile", PROFILES)
def test_flash_attn_sets_exactly_this_build_environment_and_none_at_run_time(profile):
    assert build_env("flash-attn", profile) == FLASH_ATTN[profile]
    assert runtime_env("flash-attn", profile) == {}


@pytest.mark.parametrize("profile", PROFILES)
def test_xformers_sets_exactly_this_build_environment_and_none_at_run_time(profile):
    assert build_env("xformers", profile) == XFORMERS[profile]
    assert runtime_env("xformers", profile) == {}


def test_the_why_names_the_facts_behind_the_value():
    spark = load("dgx-spark").machine
    assert flash_attn_cuda_archs(spark).why.startswith(
        "NVIDIA GB10 is compute capability 12.1; flash-attn emits SASS only for 80/90/100/110/120, so 120")


def test_thor_on_cuda_13_is_110():
    assert flash_attn_cuda_archs(load("jetson-thor").machine).value == "110"


def test_thor_on_cuda_12_still_takes_110():
    # a CUDA 12.x driver reports Thor as 10.1; flash-attn maps 110 to sm_101 below CUDA 13 itself
    thor12 = machine("jetson-thor", cuda_toolkit="12.9", cuda_driver="12.9",
                     gpus=(Gpu(vendor="nvidia", name="NVIDIA Thor", compute_capability="10.1", memory_shared=True),))
    assert flash_attn_cuda_archs(thor12).value == "110"


def test_xformers_budgets_16_gb_a_job_where_fa3_may_be_built():
    h100 = machine("h100", cpu=Cpu(features=("avx2",), cores=64), memory_available_gb=200.0)
    assert env(xformers_env(h100))["MAX_JOBS"] == "12"  # 200 // 16, below 64 / 2
    assert "16 GB a job for the FlashAttention 3" in xformers_env(h100)[-1].why
    assert env(xformers_env(machine("rtx-4090", cpu=Cpu(cores=64), memory_available_gb=200.0)))["MAX_JOBS"] == "32"
    assert env(flash_attn_env(h100))["MAX_JOBS"] == "32"  # 200 // 5 = 40, capped by 64 / 2


def test_unknown_gpus_give_no_flash_attn_target():
    assert flash_attn_cuda_archs(machine("dgx-spark", gpus=None)) is None


def test_a_gpu_below_8_0_has_no_flash_attn_target():
    v100 = machine("h100", gpus=(Gpu(vendor="nvidia", name="Tesla V100-SXM2-16GB", compute_capability="7.0"),))
    assert flash_attn_env(v100) == ()


def test_several_gpus_are_deduplicated_and_sorted():
    gpus = tuple(Gpu(vendor="nvidia", name=name, compute_capability=cc)
                 for name, cc in (("NVIDIA H100", "9.0"), ("NVIDIA A100", "8.0"), ("NVIDIA H100", "9.0")))
    assert flash_attn_cuda_archs(machine("h100", gpus=gpus)).value == "80;90"
