"""Arguments of a planned command that only the run can know, as typed markers.

A plan is made before anything runs, so three arguments cannot be written
down yet: the wheel a build will produce, the requirements pip's resolution
will report, and the wheels that end up in the wheelhouse. The plan holds a
marker in their place; `install.run` replaces each by type (`expand`) and
`--dry-run` shows it as what it is (`describe`), so the plan's argv and the
executed one differ exactly at the markers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence, Union


@dataclass(frozen=True)
class BuiltWheel:
    """The wheel the build step stores in `wheelhouse`: its name carries the build key."""

    wheelhouse: Path

    def describe(self) -> str:
        return f"the built wheel in {self.wheelhouse}"

    def to_json(self) -> dict:
        return {"computed": "built-wheel", "wheelhouse": str(self.wheelhouse), "describe": self.describe()}


@dataclass(frozen=True)
class RequirementsOf:
    """The Requires-Dist of `tool`'s resolved release, less the distributions pinned in the environment."""

    tool: str
    except_pinned: tuple[str, ...]  # the protected stack: torch, triton, the CUDA libraries

    def describe(self) -> str:
        return f"the requirements of {self.tool} except {', '.join(self.except_pinned)}"

    def to_json(self) -> dict:
        return {"computed": "requirements-of", "tool": self.tool, "except": list(self.except_pinned),
                "describe": self.describe()}


@dataclass(frozen=True)
class ResolvedWheels:
    """Every wheel the resolve steps chose, as files in `wheelhouse` whose sha256 was checked."""

    wheelhouse: Path

    def describe(self) -> str:
        return f"the resolved wheels in {self.wheelhouse}"

    def to_json(self) -> dict:
        return {"computed": "resolved-wheels", "wheelhouse": str(self.wheelhouse), "describe": self.describe()}


Marker = Union[BuiltWheel, RequirementsOf, ResolvedWheels]
Arg = Union[str, Marker]


def expand(argv: Sequence[Arg], values: Mapping[type, Sequence[str]]) -> list[str]:
    """The command to run: every marker replaced by the arguments `values` holds for its type."""
    out: list[str] = []
    for arg in argv:
        if isinstance(arg, str):
            out.append(arg)
        elif type(arg) in values:
            out.extend(values[type(arg)])
        else:
            raise ValueError(f"no value for {arg.describe()} when the step ran")  # a planner/runner mismatch
    return out


def arg_to_json(arg: Arg) -> str | dict:
    return arg if isinstance(arg, str) else arg.to_json()
