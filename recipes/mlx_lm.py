"""mlx-lm: LLM inference and LoRA fine-tuning on MLX.

A pure-Python wheel (0.32.2: Python >= 3.11) that depends on mlx only on
macOS: on Linux the extras bring mlx's backend (mlx-lm[cuda13], mlx-lm[cpu]).
Where mlx cannot run (Intel Macs, macOS < 14, Jetsons), neither can mlx-lm.
"""

from __future__ import annotations

from ..doctor.dsl.recipe import Recipe
from ..doctor.dsl.rules import (
    apple_silicon, caveat, conflicts, installed, jetson, macos, nvidia_driver, nvidia_gpu, on_linux, on_macos, version,
)
from ..doctor.dsl.tool import Tool
from .mlx import MAC_RULES, backend_extras, mlx_lacks_code, no_cuda_backend, server_nvidia

SRC_PYPI = "https://pypi.org/project/mlx-lm/0.32.2/"
SRC_MLX = "https://ml-explore.github.io/mlx/build/html/install.html"

RULES = (
    *MAC_RULES,
    conflicts(
        when=on_macos() & apple_silicon() & macos("<14") & version(">=0.31.3"),
        msg="mlx-lm from 0.31.3 on needs mlx 0.31.2 or later on macOS, whose wheels need macOS 14 or later",
        fix="softwareupdate --list  # then install the macOS 14+ update it offers",
        source=SRC_PYPI),
    conflicts(
        when=on_linux() & jetson(),
        msg="mlx-lm runs on mlx, whose CUDA wheels have no kernels for a Jetson's GPU (Orin 8.7, Thor 11.0); "
            "only the CPU backend runs here",
        fix='pip install "mlx-lm[cpu]"',
        source=SRC_MLX),
    conflicts(
        when=server_nvidia & mlx_lacks_code(),
        msg="mlx-lm runs on mlx, whose CUDA backend has no kernels for this GPU (CC 7.5+: 75, 80, 90a, 100a, "
            "120a, 121a, PTX 120)",
        fix='pip install "mlx-lm[cpu]"  # the CPU backend',
        source=SRC_MLX),
    caveat(
        when=server_nvidia & no_cuda_backend & nvidia_driver(">=580"),
        msg="on Linux mlx-lm does not install mlx by itself (it depends on mlx only on macOS): use the CUDA 13 "
            "extra",
        fix='pip install "mlx-lm[cuda13]"',
        source=SRC_PYPI),
    caveat(
        when=server_nvidia & no_cuda_backend & nvidia_driver(">=550.54.14,<580"),
        msg="on Linux mlx-lm does not install mlx by itself, and this driver (older than 580) needs mlx's "
            "CUDA 12 build",
        fix='pip install mlx-lm "mlx[cuda12]"',
        source=SRC_PYPI),
    caveat(
        when=on_linux() & ~nvidia_gpu() & ~installed("mlx-cpu"),
        msg="on Linux mlx-lm does not install mlx by itself (it depends on mlx only on macOS): use the CPU extra",
        fix='pip install "mlx-lm[cpu]"',
        source=SRC_PYPI),
)

TOOL = Tool(
    id="mlx-lm",
    dist="mlx-lm",
    summary="LLM inference and LoRA fine-tuning on MLX",
    order=190,
    rules=RULES,
    install="pip install mlx-lm",
    homepage="https://github.com/ml-explore/mlx-lm",
    recipe=Recipe(extras=backend_extras, smoke="mlx_lm.py"),
)
