"""The build flags that know no tool (doctor/dsl/buildflags.py): TORCH_CUDA_ARCH_LIST and MAX_JOBS, per profile.

Each tool's own flags are tested beside it: tests/test_recipe_attention.py
(flash-attn, xformers), test_recipe_deepspeed.py, test_recipe_bitsandbytes.py,
test_recipe_triton.py. The profiles and what they lack are in tests/build_env.py.
"""

from __future__ import annotations

import pytest

from aidoctor.doctor.dsl.buildflags import max_jobs, torch_cuda_arch_list
from aidoctor.doctor.core.facts import Cpu, Gpu
from aidoctor.doctor.check.profiles import load
from aidoctor.recipes import all_tools
from aidoctor.recipes.flash_attn import flash_attn_env

from .build_env import PROFILES, build_env, machine, runtime_env


@pytest.mark.parametrize("profile", PROFILES)
def test_torch_is_never_built_and_sets_nothing_at_run_time(profile):
    assert (build_env("torch", profile), runtime_env("torch", profile)) == ({}, {})  # binary_only


@pytest.mark.parametrize("profile", PROFILES)
def test_every_flag_says_in_one_line_where_its_value_came_from(profile):
    m = load(profile).machine
    for tool in all_tools().values():
        if tool.recipe is None:
            continue
        for flag in (*tool.recipe.build_env(m), *tool.recipe.runtime_env(m)):
            assert flag.why.strip() and "\n" not in flag.why, (tool.id, flag)


def test_the_why_names_the_facts_behind_the_value():
    spark = load("dgx-spark").machine
    assert max_jobs(spark).why == (
        "min(20 cores / 2, 120 GB / 5 GB a job) = min(10, 24), flash-attn's rule; memory: 128 GB total (available "
        "memory unknown) less 8 GB kept for the OS and desktop, since the GPU shares this unified memory")


# -- Thor: sm_101 before CUDA 13, sm_110 from it --


def test_thor_on_cuda_13_is_11_0():
    thor = load("jetson-thor").machine
    assert torch_cuda_arch_list(thor).value == "11.0"  # flash-attn's 110: test_recipe_attention.py
    assert "this toolkit is CUDA 13.0" in torch_cuda_arch_list(thor).why


def test_thor_on_cuda_12_is_10_1():
    # each tool's name for it on this machine is tested beside the tool (flash-attn still takes 110)
    thor12 = machine("jetson-thor", cuda_toolkit="12.9", cuda_driver="12.9",
                     gpus=(Gpu(vendor="nvidia", name="NVIDIA Thor", compute_capability="10.1", memory_shared=True),))
    assert torch_cuda_arch_list(thor12).value == "10.1"


def test_thor_named_by_the_toolkit_that_compiles_not_by_the_driver():
    # a CUDA 13 driver (reporting 11.0) with a CUDA 12.9 nvcc: nvcc only knows sm_101
    mixed = machine("jetson-thor", cuda_toolkit="12.9")
    assert torch_cuda_arch_list(mixed).value == "10.1"  # its ptxas for triton: test_recipe_triton.py


def test_thor_with_an_unknown_toolkit_keeps_what_the_driver_reports_and_says_so():
    unknown = machine("jetson-thor", cuda_toolkit=None, cuda_home=None)
    flag = torch_cuda_arch_list(unknown)
    assert flag.value == "11.0" and "the CUDA toolkit is unknown" in flag.why  # DeepSpeed: test_recipe_deepspeed.py


# -- MAX_JOBS: cores, memory, and the unified-memory reserve --


def test_unknown_memory_means_one_job_and_says_so():
    flag = max_jobs(machine("dgx-spark", memory_gb=None))
    assert (flag.value, flag.why.split(",")[0]) == ("1", "memory unknown")


def test_unknown_core_count_means_one_job_and_says_so():
    # the jetson-thor, h100 and rtx-4090 profiles record no core count
    for profile in ("jetson-thor", "h100", "rtx-4090"):
        flag = max_jobs(load(profile).machine)
        assert (flag.value, flag.why.split(",")[0]) == ("1", "CPU core count unknown")


def test_available_memory_is_preferred_to_total_and_unified_memory_keeps_8_gb_back():
    spark = machine("dgx-spark", memory_available_gb=40.0)
    assert max_jobs(spark).value == "6"  # (40 - 8) // 5, below 20 cores / 2
    assert "40 GB available less 8 GB kept for the OS and desktop" in max_jobs(spark).why


def test_discrete_memory_keeps_nothing_back():
    gh200 = machine("gh200", memory_available_gb=100.0)
    assert max_jobs(gh200).value == "20"  # 100 // 5, below 72 cores / 2
    assert max_jobs(gh200).why.endswith("memory: 100 GB available")


def test_a_small_unified_memory_board_still_gets_one_job():
    orin_nano = machine("jetson-agx-orin", memory_gb=7.4, cpu=Cpu(model="Cortex-A78AE", cores=6))
    assert max_jobs(orin_nano).value == "1"  # 7.4 GB less the 8 GB reserve leaves nothing


def test_gb_per_job_and_threads_multiply():
    spark = load("dgx-spark").machine
    assert max_jobs(spark, gb_per_job=5.0, threads_per_job=4).value == "6"  # 120 // 20


# -- where nothing CUDA applies --


def test_a_mac_gets_no_cuda_flag_at_all():
    mac = load("mac-studio-m4-max").machine
    cuda_names = {"TORCH_CUDA_ARCH_LIST", "FLASH_ATTN_CUDA_ARCHS", "CMAKE_ARGS", "TRITON_PTXAS_PATH", "FORCE_CUDA",
                  "DS_BUILD_FUSED_ADAM", "MAX_JOBS", "NVCC_THREADS"}
    seen = {flag.name for tool in all_tools().values() if tool.recipe
            for flag in (*tool.recipe.build_env(mac), *tool.recipe.runtime_env(mac))}
    assert seen == {"DS_BUILD_CPU_ADAM"} and not seen & cuda_names  # its mps builder: test_recipe_deepspeed.py


def test_unknown_gpus_give_no_gpu_flag():
    unknown = machine("dgx-spark", gpus=None)
    assert torch_cuda_arch_list(unknown) is None  # and none of any tool's: tested beside each tool


def test_a_gpu_below_8_0_keeps_its_compute_capability():
    v100 = machine("h100", gpus=(Gpu(vendor="nvidia", name="Tesla V100-SXM2-16GB", compute_capability="7.0"),))
    assert torch_cuda_arch_list(v100).value == "7.0"  # flash-attn's nothing: test_recipe_attention.py


def test_several_gpus_are_deduplicated_and_sorted():
    gpus = tuple(Gpu(vendor="nvidia", name=name, compute_capability=cc)
                 for name, cc in (("NVIDIA H100", "9.0"), ("NVIDIA A100", "8.0"), ("NVIDIA H100", "9.0")))
    mixed = machine("h100", gpus=gpus)
    assert torch_cuda_arch_list(mixed).value == "8.0;9.0"


# -- the recipes' other declarations --


def test_recipes_declare_what_the_brief_fixes():
    tools = all_tools()
    assert tools["torch"].recipe.binary_only and tools["triton"].recipe.binary_only
    assert tools["deepspeed"].recipe.always_build
    assert tools["unsloth"].recipe.no_deps
    assert tools["bitsandbytes"].recipe.source == (
        "git+https://github.com/bitsandbytes-foundation/bitsandbytes@{version}")
    assert tools["flash-attn"].recipe.build_env is flash_attn_env


@pytest.mark.parametrize("profile, extras", [
    ("dgx-spark", ("cuda13",)), ("h100", ("cuda13",)),  # driver >= 580
    ("gh200", ("cuda12",)), ("rtx-4090", ("cuda12",)),  # driver 550.x
    ("jetson-agx-orin", ("cpu",)), ("jetson-thor", ("cpu",)),  # no mlx-cuda kernels for a Jetson
    ("graviton", ("cpu",)), ("mac-studio-m4-max", ()),
])
def test_mlx_and_mlx_lm_take_the_extra_that_brings_a_backend(profile, extras):
    m = load(profile).machine
    assert all_tools()["mlx"].recipe.extras(m) == all_tools()["mlx-lm"].recipe.extras(m) == extras


def test_every_recipe_names_its_smoke_script():
    with_recipe = {tool_id: tool.recipe for tool_id, tool in all_tools().items() if tool.recipe is not None}
    assert {tool_id: recipe.smoke for tool_id, recipe in with_recipe.items()} == {
        "torch": "torch.py", "triton": "triton.py", "flash-attn": "flash_attn.py", "bitsandbytes": "bitsandbytes.py",
        "xformers": "xformers.py", "deepspeed": "deepspeed.py", "unsloth": "unsloth.py", "peft": "peft.py",
        "trl": "trl.py", "transformers": "transformers.py", "accelerate": "accelerate.py", "mlx": "mlx.py",
        "mlx-lm": "mlx_lm.py", "causal-conv1d": "causal_conv1d.py", "mamba-ssm": "mamba_ssm.py",
    }
