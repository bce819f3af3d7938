"""Shared by the build-flag tests: the profiles they cover and the environment a recipe sets there, as a dict.

What the profiles lack is not invented. jetson-thor, h100 and rtx-4090 record
no CPU core count, so MAX_JOBS is 1 there; h100 and rtx-4090 record no CUDA
toolkit, so DeepSpeed prebuilds no CUDA op; no profile records available
memory, so MAX_JOBS is sized from total memory (less 8 GB on unified memory).
"""

from __future__ import annotations

from dataclasses import replace

from aidoctor.doctor.check.profiles import load
from aidoctor.doctor.core.facts import Machine
from aidoctor.recipes import all_tools

PROFILES = ("dgx-spark", "gh200", "jetson-agx-orin", "jetson-thor", "h100", "rtx-4090", "mac-studio-m4-max",
            "graviton")
PTXAS = "/usr/local/cuda/bin/ptxas"


def env(flags) -> dict[str, str]:
    return {flag.name: flag.value for flag in flags}


def machine(profile: str, **changes) -> Machine:
    return replace(load(profile).machine, **changes)


def build_env(tool_id: str, profile: str) -> dict[str, str]:
    return env(all_tools()[tool_id].recipe.build_env(load(profile).machine))


def runtime_env(tool_id: str, profile: str) -> dict[str, str]:
    return env(all_tools()[tool_id].recipe.runtime_env(load(profile).machine))
