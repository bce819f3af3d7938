"""Build flags derived from facts, as data: the exact environment each tool's recipe sets on every profile.

What the profiles lack is not invented. jetson-thor, h100 and rtx-4090 record
no CPU core count, so MAX_JOBS is 1 there; h100 and rtx-4090 record no CUDA
toolkit, so DeepSpeed prebuilds no CUDA op; no profile records available
memory, so MAX_JOBS is sized from total memory (less 8 GB on unified memory).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from aidoctor.doctor.dsl import buildflags
from aidoctor.doctor.dsl.buildflags import (
    bitsandbytes_cmake_args, deepspeed_env, flash_attn_cuda_archs, flash_attn_env, max_jobs, ptxas_missing,
    torch_cuda_arch_list, triton_ptxas_path, xformers_env,
)
from aidoctor.doctor.core.facts import Cpu, Gpu, Machine, TorchBuild
from aidoctor.doctor.check.profiles import load
from aidoctor.recipes import all_tools

PROFILES = ("dgx-spark", "gh200", "jetson-agx-orin", "jetson-thor", "h100", "rtx-4090", "mac-studio-m4-max",
            "graviton")
PTXAS = "/usr/local/cuda/bin/ptxas"


def env(flags) -> dict[str, str]:
    return {flag.name: flag.value for flag in flags}


def machine(profile: str, **changes) -> Machine:
    return replace(load(profile).machine, **changes)


# -- the exact environment of each recipe, per profile --

BUILD_ENV = {
    "flash-attn": {
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
    },
    "xformers": {
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
    },
    "deepspeed": {
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
    },
    "bitsandbytes": {
        "dgx-spark": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=121"},
        "gh200": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=90"},
        "jetson-agx-orin": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=87"},
        "jetson-thor": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=110"},
        "h100": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=90"},
        "rtx-4090": {"CMAKE_ARGS": "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=89"},
        "mac-studio-m4-max": {},
        "graviton": {},
    },
    "triton": dict.fromkeys(PROFILES, {}),  # never built: binary_only
    "torch": dict.fromkeys(PROFILES, {}),  # never built: binary_only
}

RUNTIME_ENV = {
    "triton": {**dict.fromkeys(PROFILES, {}),
               "dgx-spark": {"TRITON_PTXAS_PATH": PTXAS}, "jetson-thor": {"TRITON_PTXAS_PATH": PTXAS}},
    "torch": dict.fromkeys(PROFILES, {}),
    "flash-attn": dict.fromkeys(PROFILES, {}),
    "xformers": dict.fromkeys(PROFILES, {}),
    "deepspeed": dict.fromkeys(PROFILES, {}),
    "bitsandbytes": dict.fromkeys(PROFILES, {}),
}


@pytest.mark.parametrize("tool_id", sorted(BUILD_ENV))
@pytest.mark.parametrize("profile", PROFILES)
def test_each_recipe_sets_exactly_this_build_environment(tool_id, profile):
    recipe = all_tools()[tool_id].recipe
    assert env(recipe.build_env(load(profile).machine)) == BUILD_ENV[tool_id][profile]


@pytest.mark.parametrize("tool_id", sorted(RUNTIME_ENV))
@pytest.mark.parametrize("profile", PROFILES)
def test_each_recipe_sets_exactly_this_runtime_environment(tool_id, profile):
    recipe = all_tools()[tool_id].recipe
    assert env(recipe.runtime_env(load(profile).machine)) == RUNTIME_ENV[tool_id][profile]


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
    assert flash_attn_cuda_archs(spark).why.startswith(
        "NVIDIA GB10 is compute capability 12.1; flash-attn emits SASS only for 80/90/100/110/120, so 120")
    assert max_jobs(spark).why == (
        "min(20 cores / 2, 120 GB / 5 GB a job) = min(10, 24), flash-attn's rule; memory: 128 GB total (available "
        "memory unknown) less 8 GB kept for the OS and desktop, since the GPU shares this unified memory")
    assert "sm_121a (triton#8539)" in triton_ptxas_path(spark).why


# -- Thor: sm_101 before CUDA 13, sm_110 from it --


def test_thor_on_cuda_13_is_11_0():
    thor = load("jetson-thor").machine
    assert (torch_cuda_arch_list(thor).value, flash_attn_cuda_archs(thor).value) == ("11.0", "110")
    assert "this toolkit is CUDA 13.0" in torch_cuda_arch_list(thor).why


def test_thor_on_cuda_12_is_10_1_but_flash_attn_still_takes_110():
    # a CUDA 12.x driver reports Thor as 10.1; flash-attn maps 110 to sm_101 below CUDA 13 itself
    thor12 = machine("jetson-thor", cuda_toolkit="12.9", cuda_driver="12.9",
                     gpus=(Gpu(vendor="nvidia", name="NVIDIA Thor", compute_capability="10.1", memory_shared=True),))
    assert torch_cuda_arch_list(thor12).value == "10.1"
    assert flash_attn_cuda_archs(thor12).value == "110"
    assert bitsandbytes_cmake_args(thor12).value == "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=101"
    assert env(deepspeed_env(thor12))["TORCH_CUDA_ARCH_LIST"] == "10.1"
    # the ptxas bundled with triton knows sm_101a: no TRITON_PTXAS_PATH, nothing missing
    assert (triton_ptxas_path(thor12), ptxas_missing(thor12)) == (None, None)


def test_thor_named_by_the_toolkit_that_compiles_not_by_the_driver():
    # a CUDA 13 driver (reporting 11.0) with a CUDA 12.9 nvcc: nvcc only knows sm_101
    mixed = machine("jetson-thor", cuda_toolkit="12.9")
    assert torch_cuda_arch_list(mixed).value == "10.1"
    assert triton_ptxas_path(mixed) is None
    assert ptxas_missing(mixed) == ("a CUDA toolkit >= 13.0 whose ptxas knows sm_110a, for TRITON_PTXAS_PATH: "
                                    "triton before 3.9 bundles one that does not (vllm#31338)")


def test_thor_with_an_unknown_toolkit_keeps_what_the_driver_reports_and_says_so():
    unknown = machine("jetson-thor", cuda_toolkit=None, cuda_home=None)
    flag = torch_cuda_arch_list(unknown)
    assert flag.value == "11.0" and "the CUDA toolkit is unknown" in flag.why
    assert env(deepspeed_env(unknown)) == {"DS_BUILD_CPU_ADAM": "1", "DS_BUILD_AIO": "0"}


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


def test_xformers_budgets_16_gb_a_job_where_fa3_may_be_built():
    h100 = machine("h100", cpu=Cpu(features=("avx2",), cores=64), memory_available_gb=200.0)
    assert env(xformers_env(h100))["MAX_JOBS"] == "12"  # 200 // 16, below 64 / 2
    assert "16 GB a job for the FlashAttention 3" in xformers_env(h100)[-1].why
    assert env(xformers_env(machine("rtx-4090", cpu=Cpu(cores=64), memory_available_gb=200.0)))["MAX_JOBS"] == "32"
    assert env(flash_attn_env(h100))["MAX_JOBS"] == "32"  # 200 // 5 = 40, capped by 64 / 2


# -- where nothing CUDA applies --


def test_a_mac_gets_no_cuda_flag_at_all():
    mac = load("mac-studio-m4-max").machine
    cuda_names = {"TORCH_CUDA_ARCH_LIST", "FLASH_ATTN_CUDA_ARCHS", "CMAKE_ARGS", "TRITON_PTXAS_PATH", "FORCE_CUDA",
                  "DS_BUILD_FUSED_ADAM", "MAX_JOBS", "NVCC_THREADS"}
    seen = {flag.name for tool in all_tools().values() if tool.recipe
            for flag in (*tool.recipe.build_env(mac), *tool.recipe.runtime_env(mac))}
    assert seen == {"DS_BUILD_CPU_ADAM"} and not seen & cuda_names
    assert "-D__NEON__" in deepspeed_env(mac)[0].why  # the mps builder, not -march=native


def test_unknown_gpus_give_no_gpu_flag():
    unknown = machine("dgx-spark", gpus=None)
    assert (torch_cuda_arch_list(unknown), flash_attn_cuda_archs(unknown), bitsandbytes_cmake_args(unknown)) == (
        None, None, None)
    assert env(deepspeed_env(unknown)) == {"DS_BUILD_CPU_ADAM": "1", "DS_BUILD_AIO": "0"}


def test_a_gpu_below_8_0_has_no_flash_attn_target():
    v100 = machine("h100", gpus=(Gpu(vendor="nvidia", name="Tesla V100-SXM2-16GB", compute_capability="7.0"),))
    assert flash_attn_env(v100) == ()
    assert torch_cuda_arch_list(v100).value == "7.0"


def test_several_gpus_are_deduplicated_and_sorted():
    gpus = tuple(Gpu(vendor="nvidia", name=name, compute_capability=cc)
                 for name, cc in (("NVIDIA H100", "9.0"), ("NVIDIA A100", "8.0"), ("NVIDIA H100", "9.0")))
    mixed = machine("h100", gpus=gpus)
    assert torch_cuda_arch_list(mixed).value == "8.0;9.0"
    assert flash_attn_cuda_archs(mixed).value == "80;90"
    assert bitsandbytes_cmake_args(mixed).value == "-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=80;90"


# -- triton's ptxas --


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


# -- DeepSpeed's CUDA check --


def test_deepspeed_skips_its_cuda_check_for_a_minor_mismatch_within_one_major():
    # PyPI's torch 2.15 is CUDA 13.2; the Spark's toolkit is 13.0; 0.19.8's allow-list has no CUDA 13
    spark = machine("dgx-spark", torch_build=TorchBuild(version="2.15.0+cu132", cuda="13.2"))
    assert env(deepspeed_env(spark))["DS_SKIP_CUDA_CHECK"] == "1"


@pytest.mark.parametrize("torch_cuda", ["13.0", "12.8", None])
def test_deepspeed_keeps_its_cuda_check_otherwise(torch_cuda):
    spark = machine("dgx-spark", torch_build=TorchBuild(version="2.15.0", cuda=torch_cuda))
    assert "DS_SKIP_CUDA_CHECK" not in env(deepspeed_env(spark))


# -- the recipes' other declarations --


def test_recipes_declare_what_the_brief_fixes():
    tools = all_tools()
    assert tools["torch"].recipe.binary_only and tools["triton"].recipe.binary_only
    assert tools["deepspeed"].recipe.always_build
    assert tools["unsloth"].recipe.no_deps
    assert tools["bitsandbytes"].recipe.source == (
        "git+https://github.com/bitsandbytes-foundation/bitsandbytes@{version}")
    assert tools["flash-attn"].recipe.build_env is buildflags.flash_attn_env


@pytest.mark.parametrize("profile, forced", [("jetson-agx-orin", True), ("jetson-thor", False), ("dgx-spark", False),
                                             ("gh200", False)])
def test_bitsandbytes_is_built_on_an_l4t_jetson_only(profile, forced):
    from aidoctor.doctor.dsl.rules import Ctx

    assert all_tools()["bitsandbytes"].recipe.force_build(Ctx(load(profile).machine)) is forced


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
        "mlx-lm": "mlx_lm.py",
    }
