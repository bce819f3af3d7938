"""torchtune: PyTorch-native fine-tuning recipes.

A pure-Python wheel (0.6.1) that runs wherever torch does, but the project is
no longer maintained (meta-pytorch/torchtune#2883) and 0.6.1 was tested only
with torch 2.6.0.
"""

from __future__ import annotations

from ..doctor.dsl.rules import Alternative, always, caveat
from ..doctor.dsl.tool import Tool

RULES = (
    caveat(
        when=always(),
        msg="torchtune is no longer actively developed (announced in torchtune#2883); 0.6.1 was tested only "
            "with torch 2.6.0, so newer torch releases and models get no fixes",
        fix=None,
        source="https://github.com/meta-pytorch/torchtune/issues/2883"),
)

TOOL = Tool(
    id="torchtune",
    dist="torchtune",
    summary="PyTorch-native fine-tuning recipes (no longer maintained)",
    order=160,
    rules=RULES,
    install="pip install torchtune",
    alternatives=(Alternative("trl + peft, or axolotl"),),
    homepage="https://github.com/meta-pytorch/torchtune",
)
