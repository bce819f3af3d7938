"""One module per training tool; each exports `TOOL`, a `doctor.dsl.tool.Tool`.

Adding a tool means adding one module here: the registry finds it by
walking this package (modules starting with "_" are shared code, not
tools), orders it by its `Tool.order`, and a test asserts that every module
exports `TOOL`.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from ..doctor.core.errors import UnknownTool
from ..doctor.core.facts import canonical_name
from ..doctor.dsl.tool import Protected, Tool


@functools.cache
def _modules() -> dict[str, tuple[str, Tool]]:
    """Each tool's id -> the name of the module that declares it, and its TOOL; in the order of `Tool.order`."""
    found: dict[str, tuple[str, Tool]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        tool = importlib.import_module(f"{__name__}.{info.name}").TOOL
        if tool.id in found:
            raise RuntimeError(f"two recipe modules declare the tool {tool.id!r}")
        found[tool.id] = (info.name, tool)
    return dict(sorted(found.items(), key=lambda item: (item[1][1].order, item[0])))


@functools.cache
def all_tools() -> dict[str, Tool]:
    return {tool_id: tool for tool_id, (_, tool) in _modules().items()}


@functools.cache
def _by_name() -> dict[str, Tool]:
    """Every name a tool answers to, normalized as pip normalizes distribution names: id, distribution, aliases."""
    names: dict[str, Tool] = {}
    for tool in all_tools().values():
        for name in (tool.id, tool.dist, *tool.aliases):
            other = names.setdefault(canonical_name(name), tool)
            if other is not tool:
                raise RuntimeError(f"{name!r} names both {other.id} and {tool.id}")
    return names


def find_tool(name: str) -> Tool:
    """The tool a user means by `name`: `flash_attn`, `Peft`, `llama-factory` all name one; else UnknownTool,
    with the closest name when it looks like a typo."""
    tool = _by_name().get(canonical_name(name.strip()))
    if tool is None:
        raise UnknownTool(name, list(all_tools()), close_to=_by_name())
    return tool


def module_path(tool: Tool) -> str:
    """Where a tool is declared, relative to the project root: recipes/flash_attn.py."""
    return f"recipes/{_modules()[tool.id][0]}.py"


@functools.cache
def watched_dists() -> frozenset[str]:
    """The distributions whose Requires-Dist pins are checked: every tool and its companions."""
    return frozenset(canonical_name(name) for tool in all_tools().values() for name in (tool.dist, *tool.companions))


@functools.cache
def protected() -> tuple[Protected, ...]:
    """What every install pins and must leave unchanged, as the tools declare it: torch, triton, the CUDA libraries.

    In the registry's order, families by prefix (the CUDA libraries) after the named distributions.
    """
    groups = dict.fromkeys(group for tool in all_tools().values() for group in tool.protects)
    return tuple(sorted(groups, key=lambda group: bool(group.prefixes)))
