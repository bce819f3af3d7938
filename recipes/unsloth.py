"""unsloth: fast LoRA/QLoRA fine-tuning on NVIDIA GPUs, and on Apple silicon through MLX.

A pure-Python wheel whose work happens in torch, triton, bitsandbytes and
(on x86_64) xformers, so it works where they do and needs a GPU ("You need a
GPU."). unsloth 2026.10.9 declares torch < 2.15, transformers <= 5.17 and
trl <= 1.15. On the DGX Spark NVIDIA's playbook installs it with --no-deps
inside the NGC PyTorch container to keep that torch build.
"""

from __future__ import annotations

from ..doctor.dsl.recipe import KnownFailure, Recipe
from ..doctor.dsl.rules import (
    Alternative,
    apple_silicon, arch_is, caveat, conflicts, gpu_cc, installed, is_installed, macos, needs_build, nvidia_gpu,
    on_linux, on_macos, on_windows, torch_cpu_only, version,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import l4t, linux_cuda, no_gpu
from .triton import triton_runtime_env

SRC_PYPI = "https://pypi.org/project/unsloth/2026.10.9/"
SRC_DEVICE = "https://github.com/unslothai/unsloth/blob/main/unsloth/device_type.py"
SRC_NO_GPU = "https://github.com/unslothai/unsloth/issues/3553"
SRC_MLX = "https://github.com/unslothai/unsloth/pull/5265"
SRC_LOADER = "https://github.com/unslothai/unsloth/blob/main/unsloth/models/loader.py"
SRC_SPARK = "https://github.com/NVIDIA/dgx-spark-playbooks/blob/main/nvidia/unsloth/README.md"
SRC_BNB_SKEW = "https://github.com/NVIDIA/dgx-spark-playbooks/issues/57"
SRC_EXTRAS = "https://github.com/unslothai/unsloth/blob/main/pyproject.toml"
SRC_REQUIREMENTS = "https://unsloth.ai/docs/get-started/fine-tuning-for-beginners/unsloth-requirements"
SRC_ZOO_PYPI = "https://pypi.org/project/unsloth-zoo/2026.10.9/"

PINNED = version("<=2026.10.9")

RULES = (
    # -- a GPU is required --
    conflicts(
        when=on_linux() & no_gpu(),
        msg="unsloth needs a GPU (NVIDIA, AMD or Intel; on a Mac, MLX): without one it stops with "
            "'You need a GPU.'",
        fix=None,
        source=SRC_DEVICE),
    conflicts(
        when=nvidia_gpu() & ~on_macos() & torch_cpu_only(),
        msg="the installed torch is a CPU-only build although there is an NVIDIA GPU, so unsloth finds no GPU "
            "(on a DGX Spark nvidia-smi sees the GB10 while torch does not)",
        fix="pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu130  "
            "# driver >= 580; with an older driver use --index-url https://download.pytorch.org/whl/cu128",
        source=SRC_NO_GPU),
    conflicts(
        when=linux_cuda() & gpu_cc("<6.0"),
        msg="unsloth needs an NVIDIA GPU of compute capability 7.0 or newer (GTX 10xx at 6.1 works, slowly); "
            "below 6.0 even its bitsandbytes dependency has no CUDA kernels",
        fix=None,
        source=SRC_REQUIREMENTS),
    caveat(
        when=linux_cuda() & gpu_cc(">=6.0,<7.0"),
        msg="unsloth's documented minimum is compute capability 7.0; Pascal GPUs (GTX 1070/1080) work but slowly",
        fix=None,
        source=SRC_REQUIREMENTS),

    # -- the versions unsloth 2026.10.9 declares --
    conflicts(
        when=PINNED & is_installed() & installed("torch", ">=2.15"),
        msg="unsloth 2026.10.9 (and unsloth-zoo) declare torch >= 2.4, < 2.15; torch 2.15 or later is installed",
        fix='pip install "torch>=2.4,<2.15"',
        source=SRC_PYPI),
    conflicts(
        when=PINNED & is_installed() & installed("transformers", ">5.17"),
        msg="unsloth 2026.10.9 declares transformers <= 5.17; a newer transformers is installed",
        fix='pip install "transformers<=5.17"',
        source=SRC_PYPI),
    conflicts(
        when=PINNED & is_installed() & installed("trl", ">1.15"),
        msg="unsloth 2026.10.9 declares trl <= 1.15; a newer trl is installed",
        fix='pip install "trl<=1.15"',
        source=SRC_PYPI),
    caveat(
        when=installed("bitsandbytes", "==0.49.1"),
        msg="bitsandbytes 0.49.1 with unsloth fails with \"'Parameter' object has no attribute "
            "'compress_statistics'\" (version skew reported on the DGX Spark)",
        fix="pip install -U bitsandbytes",
        source=SRC_BNB_SKEW),

    # -- ARM and the DGX Spark --
    caveat(
        when=linux_cuda() & arch_is("aarch64"),
        msg="on aarch64 unsloth runs without xformers (its markers skip it) and uses PyTorch attention; never "
            "install the unsloth[cuXYZ-torchABC] extras on ARM: they pin x86_64 xformers wheels",
        fix=None,
        source=SRC_EXTRAS),
    caveat(
        when=on_linux() & gpu_cc("==12.1"),
        msg="on a DGX Spark (GB10) unsloth's loader reports fast_inference=True as broken: load models with "
            "fast_inference=False",
        fix=None,
        source=SRC_LOADER),
    caveat(
        when=~is_installed() & on_linux() & gpu_cc("==12.1"),
        msg="NVIDIA's DGX Spark playbook runs unsloth in the NGC container nvcr.io/nvidia/pytorch:25.11-py3 and "
            "installs it with --no-deps, which keeps the container's CUDA 13 torch from being replaced",
        fix="pip install --no-deps unsloth unsloth_zoo bitsandbytes",
        source=SRC_SPARK),
    needs_build(
        when=~is_installed() & l4t(),
        msg="unsloth has no official Jetson (JetPack 6) support: its stack needs Jetson builds of torch, triton "
            "and bitsandbytes; jetson-containers packages one",
        fix="jetson-containers run $(autotag unsloth)",
        source=SRC_REQUIREMENTS),

    # -- Apple silicon (MLX) and Windows --
    caveat(
        when=on_macos() & apple_silicon(),
        msg="on a Mac unsloth trains through its MLX backend (unsloth-zoo pulls mlx, mlx-lm and mlx-vlm, since "
            "May 2026): CUDA-only pieces (bitsandbytes kernels, triton) do not apply",
        fix=None,
        source=SRC_MLX),
    conflicts(
        when=on_macos() & ~apple_silicon(),
        msg="unsloth's Mac backend is MLX, which needs an Apple silicon Mac",
        fix=None,
        source=SRC_MLX),
    # unsloth 2026.10.9 requires unsloth_zoo>=2026.10.9, whose wheel pins mlx==0.32.4 on Apple silicon; mlx's macOS
    # wheels from 0.29.4 on are macosx_14_0 (zoo 2026.8.14-2026.10.9 pin mlx 0.32.1-0.32.4, 2026.8.13 and older
    # take mlx>=0.22, which 0.29.3's macosx_13_0 wheels meet). Older unsloth releases accept older zoo releases,
    # so for them this floor is not established: the rule is bound to the release checked and later ones.
    conflicts(
        when=on_macos() & apple_silicon() & macos("<14") & version(">=2026.10.9"),
        msg="unsloth 2026.10.9's Mac backend is MLX through unsloth-zoo 2026.10.9, which pins mlx 0.32.4, whose "
            "wheels need macOS 14 or later (mlx 0.29.3 is the last with macOS 13 wheels)",
        fix="softwareupdate --list  # then install the macOS 14+ update it offers",
        source=SRC_ZOO_PYPI),
    caveat(
        when=on_windows() & nvidia_gpu(),
        msg="on Windows unsloth needs a CUDA torch first (PyPI's Windows torch is CPU-only) and the unofficial "
            "triton-windows",
        fix="pip install torch --index-url https://download.pytorch.org/whl/cu130 && pip install triton-windows",
        source=SRC_REQUIREMENTS),
)

TOOL = Tool(
    id="unsloth",
    dist="unsloth",
    companions=("unsloth-zoo",),  # released in lockstep; its torch and transformers pins bind as much
    summary="fast LoRA/QLoRA fine-tuning on NVIDIA GPUs (MLX backend on Apple silicon)",
    order=130,
    rules=RULES,
    install="pip install unsloth",
    alternatives=(Alternative("transformers + peft (pip install transformers peft), slower but with no GPU "
                              "requirement"),),
    homepage="https://unsloth.ai",
    # --no-deps: unsloth 2026.10.9 and unsloth-zoo declare torch < 2.15, so pip would replace the installed torch
    # (and its CUDA libraries) with an older one; NVIDIA's DGX Spark playbook installs it the same way. Its other
    # requirements are resolved separately against the pinned torch. Its kernels are triton's, hence the ptxas path.
    recipe=Recipe(no_deps=True, runtime_env=triton_runtime_env, smoke="unsloth.py", known_failures=(
        KnownFailure(
            r"Unsloth currently only works on NVIDIA GPUs|Unsloth cannot find any torch accelerator",
            "unsloth found no CUDA in this torch: install a CUDA build of torch (cu128/cu130 index)", SRC_NO_GPU),
    )),
)
