"""LLaMA-Factory (llamafactory): fine-tuning through a web UI or YAML configs.

A pure-Python wheel that runs on CUDA, MPS or the CPU. llamafactory 0.9.5
needs Python >= 3.11 and pins an older Hugging Face stack (transformers <=
5.6, trl <= 0.24, peft <= 0.18.1), which its startup version check enforces
unless DISABLE_VERSION_CHECK=1.
"""

from __future__ import annotations

from ..doctor.dsl.rules import (
    caveat, conflicts, installed, is_installed, nvidia_gpu, on_linux, on_macos, on_windows, version,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import no_gpu

SRC_README = "https://github.com/hiyouga/LLaMA-Factory/blob/main/README.md"
SRC_CHECK = "https://github.com/hiyouga/LLaMA-Factory/blob/main/src/llamafactory/extras/misc.py"

V095 = version(">=0.9.5,<0.9.6")

RULES = (
    # -- the Hugging Face versions 0.9.5 pins --
    conflicts(
        when=V095 & is_installed() & installed("transformers", ">5.6"),
        msg="llamafactory 0.9.5 pins transformers <= 5.6 and its startup check refuses a newer one",
        fix='pip install "transformers<=5.6"  # or run with DISABLE_VERSION_CHECK=1 at your own risk',
        source=SRC_CHECK),
    conflicts(
        when=V095 & is_installed() & installed("trl", ">0.24"),
        msg="llamafactory 0.9.5 pins trl <= 0.24 and its startup check refuses a newer one",
        fix='pip install "trl<=0.24"',
        source=SRC_CHECK),
    conflicts(
        when=V095 & is_installed() & installed("peft", ">0.18.1"),
        msg="llamafactory 0.9.5 pins peft <= 0.18.1 and its startup check refuses a newer one",
        fix='pip install "peft<=0.18.1"',
        source=SRC_CHECK),

    # -- devices --
    caveat(
        when=on_macos(),
        msg="on a Mac LLaMA-Factory trains on MPS; CUDA-only options (bitsandbytes 8-bit optimizers, "
            "flash-attn, DeepSpeed, vLLM) do not apply",
        fix=None,
        source=SRC_README),
    caveat(
        when=on_linux() & no_gpu(),
        msg="without a GPU LLaMA-Factory trains on the CPU: usable for tiny models only",
        fix=None,
        source=SRC_README),
    caveat(
        when=on_windows() & nvidia_gpu(),
        msg="on Windows install a CUDA torch by hand first: PyPI's Windows torch is CPU-only",
        fix="pip install torch --index-url https://download.pytorch.org/whl/cu130",
        source=SRC_README),
)

TOOL = Tool(
    id="llamafactory",
    dist="llamafactory",
    aliases=("llama-factory",),  # the project's own spelling (hiyouga/LLaMA-Factory)
    summary="LLaMA-Factory: fine-tuning through a web UI or YAML configs",
    order=150,
    rules=RULES,
    install="pip install llamafactory",
    homepage="https://github.com/hiyouga/LLaMA-Factory",
)
