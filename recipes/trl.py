"""TRL: SFT, DPO, GRPO and other post-training trainers on top of transformers.

A pure-Python wheel. trl 1.16.0 needs Python >= 3.11 (the index applies it)
and transformers >= 4.56.2; its vLLM integration (trl[vllm]) takes vllm
0.22-0.31, so the vLLM paths do not exist where vllm cannot run (a Mac).
"""

from __future__ import annotations

from ..doctor.dsl.recipe import Recipe
from ..doctor.dsl.rules import caveat, conflicts, installed, is_installed, version
from ..doctor.dsl.tool import Tool

SRC = "https://pypi.org/project/trl/1.16.0/"

RULES = (
    conflicts(
        when=version(">=1.16") & is_installed() & installed("transformers", "<4.56.2"),
        msg="trl 1.16 needs transformers 4.56.2 or later; an older transformers is installed",
        fix='pip install -U "transformers>=4.56.2"',
        source=SRC),
    caveat(
        when=version(">=1.16,<1.17") & installed("vllm") & ~installed("vllm", ">=0.22,<0.32"),
        msg="trl 1.16's vLLM integration (trl[vllm]: vLLM generation in GRPO/online trainers) takes vllm "
            "0.22-0.31; the installed vllm is outside that range",
        fix='pip install "vllm>=0.22,<0.32"',
        source=SRC),
)

TOOL = Tool(
    id="trl",
    dist="trl",
    summary="post-training trainers (SFT, DPO, GRPO) for transformers models",
    order=120,
    rules=RULES,
    install="pip install trl",
    homepage="https://github.com/huggingface/trl",
    recipe=Recipe(smoke="trl.py"),
)
