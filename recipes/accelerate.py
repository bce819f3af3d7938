"""accelerate: device placement, mixed precision and distributed launch for torch training.

A pure-Python wheel that runs wherever torch does; accelerate 1.15.0 needs
torch >= 2.0 and Python >= 3.10 (the index applies the latter).
"""

from __future__ import annotations

from ..doctor.dsl.recipe import Recipe
from ..doctor.dsl.rules import conflicts, installed, is_installed, version
from ..doctor.dsl.tool import Tool

RULES = (
    conflicts(
        when=version(">=1.15") & is_installed() & installed("torch", "<2.0"),
        msg="accelerate 1.15 needs torch 2.0 or later; an older torch is installed",
        fix='pip install -U "torch>=2.0"',
        source="https://pypi.org/project/accelerate/1.15.0/"),
)

TOOL = Tool(
    id="accelerate",
    dist="accelerate",
    summary="device placement, mixed precision and multi-GPU launch for PyTorch training",
    order=100,
    rules=RULES,
    install="pip install accelerate",
    homepage="https://github.com/huggingface/accelerate",
    recipe=Recipe(smoke="accelerate.py"),
)
