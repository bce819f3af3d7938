"""transformers: model definitions, tokenizers and the Trainer.

A pure-Python wheel that runs wherever torch does. transformers 5.23 needs
Python >= 3.11 (on a JetPack 6 Python 3.10 the index picks an older release)
and supports torch 2.6 or later.
"""

from __future__ import annotations

from ..doctor.dsl.recipe import Recipe
from ..doctor.dsl.rules import conflicts, installed, version
from ..doctor.dsl.tool import Tool

RULES = (
    conflicts(
        when=version(">=5.23") & installed("torch", "<2.6"),
        msg="transformers 5.23 supports torch 2.6 or later; with an older torch its PyTorch models are unavailable",
        fix='pip install -U "torch>=2.6"',
        source="https://pypi.org/project/transformers/5.23.0/"),
)

TOOL = Tool(
    id="transformers",
    dist="transformers",
    summary="Hugging Face models, tokenizers and the Trainer",
    order=90,
    rules=RULES,
    install="pip install transformers",
    homepage="https://github.com/huggingface/transformers",
    recipe=Recipe(smoke="transformers.py"),
)
