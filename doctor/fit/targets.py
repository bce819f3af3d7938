"""The machines a plan is judged on: built-in profiles, a facts file, or this machine, each with the
check's verdict for the 4-bit tool QLoRA needs there (bitsandbytes on CUDA, mlx-lm on a Mac)."""

from __future__ import annotations

import functools
from pathlib import Path

from ..core.hardware import from_machine
from .plan import Target, ToolVerdict


def _verdict_lookup(machine, offline: bool, timeout: float):
    @functools.cache
    def lookup(tool: str) -> ToolVerdict:
        from ..check.engine import judge, select_tools
        from ..check.index import Index
        from ..core.paths import cache_dir
        from ..dsl.rules import Status

        (verdict,) = judge(machine, select_tools((tool,)), Index(cache_dir(), offline=offline, timeout=timeout))
        # a source build is still a path: the verdict's reason says how
        return ToolVerdict(tool, verdict.status.value, verdict.status.usable or verdict.status is Status.BUILD,
                           verdict.reasons[0] if verdict.reasons else "")

    return lookup


def profile_target(name: str, offline: bool, timeout: float) -> Target:
    from ..check.profiles import load

    profile = load(name)
    return Target(name, profile.hardware, profile.machine, _verdict_lookup(profile.machine, offline, timeout))


def _known_gpus() -> dict:
    from ..check.profiles import all_profiles

    return {gpu.name: p.hardware for p in all_profiles().values() for gpu in (p.machine.gpus or ()) if gpu.name}


def facts_target(path: Path, offline: bool, timeout: float) -> Target:
    from ..check.engine import load_facts_file

    machine, _ = load_facts_file(path)  # strict: nothing is ignored
    return Target(f"facts {path.name}", from_machine(machine, _known_gpus()), machine,
                  _verdict_lookup(machine, offline, timeout))


def this_machine(offline: bool, timeout: float) -> Target:
    from ..check.engine import CheckRequest, probe_machine
    from ..core.system import LiveSystem

    machine = probe_machine(CheckRequest(offline=offline, timeout=timeout), LiveSystem())
    return Target("this machine", from_machine(machine, _known_gpus()), machine,
                  _verdict_lookup(machine, offline, timeout))
