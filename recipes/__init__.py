"""One module per training tool; each exports `TOOL`, a `doctor.rules.Tool`.

Adding a tool means adding one module here: the registry finds it by
walking this package, and a test asserts that every module exports `TOOL`.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from ..doctor.core.facts import canonical_name
from ..doctor.dsl.rules import Tool


@functools.cache
def all_tools() -> dict[str, Tool]:
    tools: dict[str, Tool] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        tool = module.TOOL
        if tool.id in tools:
            raise RuntimeError(f"two recipe modules declare the tool {tool.id!r}")
        tools[tool.id] = tool
    return dict(sorted(tools.items(), key=lambda item: _ORDER.get(item[0], len(_ORDER))))


@functools.cache
def watched_dists() -> frozenset[str]:
    """The distributions whose Requires-Dist pins are checked: every tool and its companions."""
    return frozenset(canonical_name(name) for tool in all_tools().values() for name in (tool.dist, *tool.companions))


# The order people read the table in: the stack from the bottom up.
_ORDER = {name: i for i, name in enumerate((
    "torch", "triton", "flash-attn", "flash-attn-3", "bitsandbytes", "xformers", "deepspeed", "torchao",
    "liger-kernel", "transformers", "accelerate", "peft", "trl", "unsloth", "axolotl", "llamafactory",
    "torchtune", "vllm", "mlx", "mlx-lm"))}
