"""How a tool gets onto a machine: the install half of a tool module in `recipes/`.

A `Recipe` is declarations only. `doctor.plan` turns it and the machine's
facts into a plan (wheelhouse, index wheel, source build, or not here), and
`doctor.install` carries the plan out. Build flags are derived from facts by
plain functions returning `EnvVar`s, each with the reason it has that value,
so a dry run can print every variable and why.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable

from ..core.facts import Machine
from .rules import Cond


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str
    why: str


@dataclass(frozen=True)
class KnownFailure:
    """A failure signature in a smoke run's error or output, and what it means with its fix.

    `pattern` is a regular expression, matched case-insensitively across lines. `source` is where the
    failure is reported (an issue, the code that prints the message); None for a message that a smoke
    script in recipes/smoke/ prints itself.
    """

    pattern: str
    cause: str
    source: str | None = None

    def __post_init__(self) -> None:
        if self.source is not None and not self.source.startswith("https://"):
            raise ValueError(f"known failure {self.pattern!r}: its source must be a link, got {self.source!r}")
        _compiled(self.pattern)  # a bad pattern fails when the recipe is imported, not on a user's failure

    def matches(self, text: str) -> bool:
        return _compiled(self.pattern).search(text) is not None

    def describe(self) -> str:
        """The cause in one line, its source at the end."""
        return f"{self.cause} ({self.source})" if self.source else self.cause


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


def no_flags(machine: Machine) -> tuple[EnvVar, ...]:
    return ()


def no_extras(machine: Machine) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Recipe:
    # Environment for a source build, derived from the facts (TORCH_CUDA_ARCH_LIST, MAX_JOBS, DS_BUILD_*, ...).
    build_env: Callable[[Machine], tuple[EnvVar, ...]] = no_flags
    # Environment the tool needs at run time too (TRITON_PTXAS_PATH): printed in the plan and set for the smoke test.
    runtime_env: Callable[[Machine], tuple[EnvVar, ...]] = no_flags
    # Build from source even where the index has a wheel for this platform: the wheel is wrong here
    # (bitsandbytes' SBSA wheel on a Jetson) or lacks what we prebuild (DeepSpeed's ops).
    force_build: Cond | None = None
    always_build: bool = False
    # Never build from source: hours of compiling and many GB (torch); a missing wheel means "not here".
    binary_only: bool = False
    # Where the source comes from when the index has no sdist, as a pip requirement URL format ("{version}").
    source: str | None = None
    # Extras that pick the right backend here: mlx on Linux brings no backend without "cpu" or "cuda13".
    extras: Callable[[Machine], tuple[str, ...]] = no_extras
    # Installed into the target before a --no-build-isolation build.
    build_requires: tuple[str, ...] = ()
    # Install with --no-deps: the tool's metadata would drag in another torch (unsloth's upper pin);
    # its other requirements are resolved separately against the pinned torch.
    no_deps: bool = False
    # The smoke test: a script in recipes/smoke/ that trains a tiny step and asserts it learns.
    smoke: str | None = None
    # What the smoke test needs beyond the tool (mlx's checks against numpy), installed along with it.
    smoke_requires: tuple[str, ...] = ()
    smoke_timeout: float = 600.0
    # How its smoke run fails here, and what that means: consulted before the failures any tool can meet.
    known_failures: tuple[KnownFailure, ...] = ()
