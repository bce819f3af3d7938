"""Liger Kernel: Triton kernels (RMSNorm, RoPE, SwiGLU, fused cross-entropy) for LLM training.

A pure-Python wheel (liger-kernel 0.8.5: torch >= 2.1.2, triton >= 2.3.1)
that "inherits Triton's hardware compatibility": Linux with an NVIDIA (CC
8.0+) or AMD GPU, the unofficial triton-windows on Windows, nothing on a Mac.
Whether the installed triton's bundled ptxas knows this GPU is the binary
audit's finding on triton (required by liger-kernel), shown in this verdict too.
"""

from __future__ import annotations

from ..doctor.dsl.rules import (
    Alternative, caveat, conflicts, gpu_cc, is_installed, needs_build, on_linux, on_macos, on_windows,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import JETSON_AI_LAB_JP6, l4t, linux_cuda, no_gpu

SRC_README = "https://github.com/linkedin/Liger-Kernel/blob/main/README.md"
SRC_JETSON = "https://github.com/dusty-nv/jetson-containers/blob/master/docs/pypi-config.md"

RULES = (
    conflicts(
        when=on_macos(),
        msg="Liger's kernels are Triton kernels, and Triton has no macOS build",
        fix=None,
        source=SRC_README),
    conflicts(
        when=on_linux() & no_gpu(),
        msg="Liger's Triton kernels need a GPU; this machine has none",
        fix=None,
        source=SRC_README),
    caveat(
        when=on_windows(),
        msg="on Windows Liger runs only on the unofficial triton-windows port",
        fix="pip install triton-windows",
        source=SRC_README),
    needs_build(
        when=~is_installed() & l4t(),
        msg="Liger needs Triton, and on Jetson L4T (JetPack 6) that means the Jetson build of triton, not PyPI's",
        fix=f"pip install triton --index-url {JETSON_AI_LAB_JP6}  # JetPack 6",
        source=SRC_JETSON),
    caveat(
        when=linux_cuda() & gpu_cc("<8.0"),
        msg="Liger inherits Triton's hardware support, which is NVIDIA CC 8.0 and newer",
        fix=None,
        source=SRC_README),
)

TOOL = Tool(
    id="liger-kernel",
    dist="liger-kernel",
    summary="Triton kernels for LLM training (fused cross-entropy, RMSNorm, RoPE, SwiGLU)",
    order=80,
    rules=RULES,
    install="pip install liger-kernel",
    alternatives=(Alternative("plain PyTorch modules (no fused kernels)"), Alternative("MLX", on_macos())),
    homepage="https://github.com/linkedin/Liger-Kernel",
)
