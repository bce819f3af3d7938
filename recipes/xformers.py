"""xformers: memory-efficient attention and other fused kernels, CUDA (and ROCm) only.

PyPI has wheels for Linux x86_64 and Windows only, each built against one
torch release and CUDA version (the cu126/cu128/cu130 variants are on
download.pytorch.org). On aarch64 (GH200, GB10, Jetson) pip finds only the
source distribution (the index says so): the build needs the GPU's compute
capability in TORCH_CUDA_ARCH_LIST, and since 0.0.31 the bundled FA3 fails to
build on aarch64, so it is built without it.
"""

from __future__ import annotations

from dataclasses import replace

from ..doctor.core.facts import Machine
from ..doctor.dsl.buildflags import NVCC_GB_PER_JOB, max_jobs, nvidia_ccs, present, torch_cuda_arch_list
from ..doctor.dsl.recipe import EnvVar, KnownFailure, Recipe
from ..doctor.dsl.rules import (
    Alternative,
    arch_is, caveat, conflicts, installed, is_installed, needs_build, nvidia_gpu, on_linux, on_macos, torch_cpu_only,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import TORCH_CC, l4t, linux_cuda, no_gpu

SRC_README = "https://github.com/facebookresearch/xformers/blob/main/README.md"
SRC_ARM = "https://github.com/facebookresearch/xformers/issues/1142"
SRC_ARM_FA3 = "https://github.com/facebookresearch/xformers/issues/1298"

RULES = (
    # -- where it cannot run --
    conflicts(
        when=on_macos(),
        msg="xformers' kernels are CUDA (and ROCm) only; on macOS pip would build the source distribution, "
            "which has no Metal kernels",
        fix=None,
        source=SRC_README),
    conflicts(
        when=on_linux() & no_gpu(),
        msg="xformers needs a CUDA or ROCm GPU; this machine has none",
        fix=None,
        source=SRC_README),
    conflicts(
        when=on_linux() & nvidia_gpu() & torch_cpu_only(),
        msg="xformers needs a CUDA torch and the installed one is a CPU-only build",
        fix="pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu130  "
            "# driver >= 580; with an older driver use --index-url https://download.pytorch.org/whl/cu128",
        source=SRC_README),

    # -- aarch64: a source build --
    needs_build(
        when=~is_installed() & linux_cuda() & arch_is("aarch64"),
        msg="xformers has no aarch64 wheels (PyPI or download.pytorch.org): build it from source for this GPU "
            "(TORCH_CUDA_ARCH_LIST, e.g. 12.1 on GB10) without the bundled FA3, which fails to build on aarch64 "
            "since 0.0.31; expect dozens of minutes",
        fix=f'TORCH_CUDA_ARCH_LIST="{TORCH_CC}" XFORMERS_DISABLE_FLASH_ATTN=1 MAX_JOBS=4 NVCC_THREADS=1 '
            "pip install -v --no-build-isolation git+https://github.com/facebookresearch/xformers.git@v0.0.35",
        source=SRC_ARM),
    needs_build(
        when=~is_installed() & l4t(),
        msg="xformers has no aarch64 wheels and none for Jetson's L4T: build it on the device against the Jetson "
            "torch, without the bundled FA3 (it fails to build on aarch64 since 0.0.31)",
        fix="jetson-containers run $(autotag xformers)",
        source=SRC_ARM_FA3),

    # -- x86_64: the wheel must match torch --
    caveat(
        when=~is_installed() & linux_cuda() & arch_is("x86_64") & installed("torch"),
        msg="each xformers wheel is built for one torch release and CUDA version and pins that torch, so pip may "
            "replace the installed torch; the cu126/cu128/cu130 variants are on download.pytorch.org",
        fix="pip install xformers --index-url https://download.pytorch.org/whl/cu130  # match torch.version.cuda",
        source=SRC_README),
)

# -- the source build's environment --

# xformers releases that bundle FlashAttention 3 (0.0.31 on; 0.0.35's setup.py bundles none) build it on
# x86_64 for sm_90 only, and their CI does so with MAX_JOBS=2 on 8-core, 32 GB runners ("FA3 is memory
# hungry"): 16 GB a job.
XFORMERS_FA3_GB_PER_JOB = 16.0
FORCE_CUDA = EnvVar(
    "FORCE_CUDA", "1",
    "build the CUDA kernels even where torch.cuda.is_available() is False at build time, as in a container "
    "without --gpus (xformers setup.py)")
XFORMERS_DISABLE_FLASH_ATTN = EnvVar(
    "XFORMERS_DISABLE_FLASH_ATTN", "1",
    "xformers releases from 0.0.31 fail to build their bundled FlashAttention 3 on aarch64 (xformers#1298); "
    "0.0.35's setup.py bundles none, so there it changes nothing")


def xformers_env(machine: Machine) -> tuple[EnvVar, ...]:
    """xformers' source build: its own arch list, no bundled FlashAttention on aarch64.

    NVCC_THREADS is not set: xformers' setup.py passes `--threads 4` itself and never reads it, and with one
    architecture those threads have a single -gencode target per file. Releases that bundle FA3 build it on
    x86_64 for sm_90 only, where a job takes about 16 GB; otherwise flash-attn's 5 GB a job holds. MAX_JOBS
    reaches the compiler through torch's BuildExtension (with ninja).
    Sources: https://github.com/facebookresearch/xformers/blob/main/setup.py,
    https://github.com/facebookresearch/xformers/issues/1298.
    """
    arch_list = torch_cuda_arch_list(machine)
    if arch_list is None:
        return ()
    aarch64 = machine.arch == "aarch64"
    if not aarch64 and (9, 0) in {cc for _, cc in nvidia_ccs(machine) or ()}:
        jobs = max_jobs(machine, XFORMERS_FA3_GB_PER_JOB)
        jobs = replace(jobs, why=f"{jobs.why}; {XFORMERS_FA3_GB_PER_JOB:g} GB a job for the FlashAttention 3 that "
                                 "xformers may bundle for sm_90 (its CI: MAX_JOBS=2 on 32 GB runners)")
    else:
        jobs = max_jobs(machine, NVCC_GB_PER_JOB)
    return present(arch_list, FORCE_CUDA, XFORMERS_DISABLE_FLASH_ATTN if aarch64 else None, jobs)


# How its smoke run fails: xformers' dispatcher names no operator for this GPU, dtype or shape.
KNOWN_FAILURES = (
    KnownFailure(
        r"NotImplementedError.{0,400}(memory_efficient_attention|No operator found)",
        "xformers has no kernel for this GPU, dtype or shape in this build: rebuild it for this GPU "
        "(TORCH_CUDA_ARCH_LIST) or use torch's scaled_dot_product_attention",
        "https://github.com/facebookresearch/xformers/blob/main/xformers/ops/fmha/dispatch.py"),
)


TOOL = Tool(
    id="xformers",
    dist="xformers",
    summary="memory-efficient attention and fused kernels for CUDA GPUs",
    order=50,
    rules=RULES,
    install="pip install xformers",
    alternatives=(Alternative('PyTorch SDPA: attn_implementation="sdpa" in transformers'),),
    homepage="https://github.com/facebookresearch/xformers",
    # PyPI's sdist is the source (0.0.35's carries third_party/cutlass). Its pyproject.toml asks for setuptools >= 64
    # and torch; without ninja torch's BuildExtension compiles one file at a time and MAX_JOBS does nothing.
    recipe=Recipe(build_env=xformers_env, build_requires=("ninja", "setuptools>=64"), smoke="xformers.py",
                  known_failures=KNOWN_FAILURES),
)
