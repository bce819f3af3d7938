"""PEFT: LoRA and other parameter-efficient adapters for transformers models.

A pure-Python wheel that runs wherever torch does (CUDA, MPS, CPU); peft
0.21.2 needs torch >= 1.13 and Python >= 3.10 (the index applies the latter).
"""

from __future__ import annotations

from ..doctor.dsl.recipe import Recipe
from ..doctor.dsl.rules import conflicts, installed, is_installed, version
from ..doctor.dsl.tool import Tool

RULES = (
    conflicts(
        when=version(">=0.21") & is_installed() & installed("torch", "<1.13"),
        msg="peft 0.21 needs torch 1.13 or later; an older torch is installed",
        fix='pip install -U "torch>=1.13"',
        source="https://pypi.org/project/peft/0.21.2/"),
)

TOOL = Tool(
    id="peft",
    dist="peft",
    summary="parameter-efficient fine-tuning (LoRA, QLoRA adapters) for transformers models",
    order=110,
    rules=RULES,
    install="pip install peft",
    homepage="https://github.com/huggingface/peft",
    recipe=Recipe(smoke="peft.py"),
)
