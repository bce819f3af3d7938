"""xformers: memory-efficient attention and other fused kernels, CUDA (and ROCm) only.

PyPI has wheels for Linux x86_64 and Windows only, each built against one
torch release and CUDA version (the cu126/cu128/cu130 variants are on
download.pytorch.org). On aarch64 (GH200, GB10, Jetson) pip finds only the
source distribution (the index says so): the build needs the GPU's compute
capability in TORCH_CUDA_ARCH_LIST, and since 0.0.31 the bundled FA3 fails to
build on aarch64, so it is built without it.
"""

from __future__ import annotations

from ..doctor.dsl.buildflags import xformers_env
from ..doctor.dsl.recipe import Recipe
from ..doctor.dsl.rules import (
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

TOOL = Tool(
    id="xformers",
    dist="xformers",
    summary="memory-efficient attention and fused kernels for CUDA GPUs",
    order=50,
    rules=RULES,
    install="pip install xformers",
    alternative='PyTorch SDPA: attn_implementation="sdpa" in transformers',
    homepage="https://github.com/facebookresearch/xformers",
    # PyPI's sdist is the source (0.0.35's carries third_party/cutlass). Its pyproject.toml asks for setuptools >= 64
    # and torch; without ninja torch's BuildExtension compiles one file at a time and MAX_JOBS does nothing.
    recipe=Recipe(build_env=xformers_env, build_requires=("ninja", "setuptools>=64"), smoke="xformers.py"),
)
