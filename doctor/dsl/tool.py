"""A training tool as the recipes declare it: its rules, how to install it, where it sits in the stack.

Kept apart from `rules` (the language rules are written in) and `recipe`
(how a tool gets onto a machine) because it holds both: importing it from
either of them made the two modules import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.facts import canonical_name
from .recipe import Recipe
from .rules import Alternative, Rule


@dataclass(frozen=True)
class Protected:
    """Distributions an install must never replace as a side effect, and what a plan calls them."""

    label: str  # "torch", "the CUDA libraries": how the plan and its errors name them
    names: frozenset[str] = frozenset()  # canonical distribution names
    prefixes: tuple[str, ...] = ()  # canonical name prefixes: "nvidia-" for nvidia-cudnn-cu12 and the like

    def covers(self, name: str) -> bool:
        name = canonical_name(name)
        return name in self.names or name.startswith(self.prefixes)


@dataclass(frozen=True, kw_only=True)
class Tool:
    """One training tool: how to find it installed, how to get it, and when it cannot work."""

    id: str
    dist: str  # distribution name as installed (and on the package index when on_index)
    summary: str
    # Where it sits in tables, the stack from the bottom up (torch 0, triton 10, kernels, libraries,
    # frameworks, serving, Apple's stack); ties are sorted by id.
    order: int
    rules: tuple[Rule, ...]
    install: str  # the plain install command where a wheel exists
    on_index: bool = True  # False: not on the package index; rules alone say how to get it
    sdist_compiles: bool = True  # False: the sdist installs without compiling (deepspeed builds its ops at first use)
    companions: tuple[str, ...] = ()  # distributions installed with it whose pins matter too (unsloth-zoo)
    alternatives: tuple[Alternative, ...] = ()  # what to use where this tool cannot work, each where it applies
    homepage: str | None = None
    # Other names people type for it (`llama-factory` for llamafactory): matched as pip matches names,
    # case, `_` and `.` aside, like the id and the distribution name
    aliases: tuple[str, ...] = ()
    recipe: Recipe | None = None  # how `aidoctor install` gets it and proves it works; None: not installable
    # What no other tool's install may replace (torch and the CUDA libraries it pins, triton): they are
    # pinned during every install and rolled back if they change.
    protects: tuple[Protected, ...] = ()

    @property
    def dist_name(self) -> str:
        return canonical_name(self.dist)
