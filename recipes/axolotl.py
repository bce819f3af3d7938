"""axolotl: config-driven fine-tuning (LoRA, QLoRA, full) on NVIDIA GPUs.

A pure-Python wheel: axolotl 0.21.0 needs Python >= 3.12 and torch >= 2.13,
< 2.15, and a GPU (Ampere or newer for bf16 and FlashAttention). Its
platform markers drop pieces on aarch64 (xformers, torchao, fla) and on macOS
(bitsandbytes, triton, xformers, liger, torchao); on Windows it says to use
WSL or Docker.
"""

from __future__ import annotations

from ..doctor.dsl.rules import (
    Alternative, arch_is, caveat, conflicts, gpu_cc, installed, is_installed, on_linux, on_macos, on_windows, version,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import l4t, linux_cuda, no_gpu

SRC_README = "https://github.com/axolotl-ai-cloud/axolotl/blob/main/README.md"
SRC_PYPI = "https://pypi.org/project/axolotl/0.21.0/"

V021 = version(">=0.21,<0.22")

RULES = (
    # -- where it cannot run --
    conflicts(
        when=on_windows(),
        msg="axolotl does not run natively on Windows: its README says to use WSL or Docker",
        fix="wsl --install",
        source=SRC_README),
    conflicts(
        when=on_linux() & no_gpu(),
        msg="axolotl trains on GPUs only; this machine has none",
        fix=None,
        source=SRC_README),
    conflicts(
        when=l4t(),
        msg="axolotl 0.21 needs torch 2.13-2.14, which PyPI has only as CUDA 13 SBSA builds that do not run on "
            "Jetson L4T, and Python 3.12+ (JetPack 6 has 3.10)",
        fix=None,
        source=SRC_PYPI),

    # -- the torch range 0.21.0 declares --
    conflicts(
        when=V021 & is_installed() & installed("torch", ">=2.15"),
        msg="axolotl 0.21.0 declares torch >= 2.13, < 2.15; torch 2.15 or later is installed",
        fix='pip install "torch>=2.13,<2.15"',
        source=SRC_PYPI),
    conflicts(
        when=V021 & is_installed() & installed("torch", "<2.13"),
        msg="axolotl 0.21.0 declares torch >= 2.13, < 2.15; an older torch is installed",
        fix='pip install "torch>=2.13,<2.15"',
        source=SRC_PYPI),

    # -- what its markers drop --
    caveat(
        when=linux_cuda() & arch_is("aarch64"),
        msg="on aarch64 axolotl's markers drop xformers, torchao and fla: attention falls back to SDPA or "
            "flash-attn (built from source), and torchao-based options are unavailable",
        fix=None,
        source=SRC_PYPI),
    caveat(
        when=on_macos(),
        msg="on macOS axolotl's markers drop bitsandbytes, triton, xformers, liger-kernel and torchao: no 4-bit "
            "QLoRA and no fused kernels, training on MPS",
        fix=None,
        source=SRC_README),
    caveat(
        when=linux_cuda() & gpu_cc("<8.0"),
        msg="bf16 training and FlashAttention in axolotl need an Ampere or newer GPU (CC 8.0+); use fp16 and "
            "SDPA here",
        fix=None,
        source=SRC_README),
)

TOOL = Tool(
    id="axolotl",
    dist="axolotl",
    summary="config-driven LoRA/QLoRA/full fine-tuning on NVIDIA GPUs",
    order=140,
    rules=RULES,
    install="pip install axolotl",
    alternatives=(Alternative("trl + peft (pip install trl peft)"),),
    homepage="https://github.com/axolotl-ai-cloud/axolotl",
)
