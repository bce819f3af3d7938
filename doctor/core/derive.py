"""Facts that follow from other facts, each with the reason it follows.

Every Machine passes through `derive` before it is judged, whichever its source (probed, a facts file, a
built-in profile), so a report from an H100 box without the `jetson` key is read as a probe would have
read it: not a Jetson, because no Jetson has compute capability 9.0. A fact that has a value is never
overwritten; each derived one is recorded in `Machine.derived` with its reason, which `explain` prints.

Not derived on purpose: "no GPU, so not a Jetson" (a JetPack 5 Jetson has no nvidia-smi, so its probe finds no
GPU), and "a Jetson" from compute capability 8.7 alone (its JetPack, which rules read, would still be unknown).
"""

from __future__ import annotations

from dataclasses import replace

from .facts import Machine
from .nvidia import JETSON_CCS

# Which facts each derived fact is read from: a rule reading the derived fact reads these too.
DERIVED_FROM: dict[str, frozenset[str]] = {
    "jetson": frozenset({"os", "arch", "gpus"}),
    "python_translated": frozenset({"os", "arch", "apple"}),
    "unified_memory": frozenset({"os", "jetson", "gpus", "apple"}),
}


def derive(machine: Machine) -> Machine:
    """`machine` with the facts that follow from its other facts filled in and recorded. Pure and idempotent."""
    found: dict[str, tuple[object, str]] = {}
    if machine.jetson is None:
        because = _not_a_jetson(machine)
        if because:
            found["jetson"] = (False, because)
    if machine.python_translated is None:
        because = _not_translated(machine)
        if because:
            found["python_translated"] = (False, because)
    if machine.unified_memory is None:
        unified = _unified_memory(replace(machine, jetson=found.get("jetson", (machine.jetson,))[0]))
        if unified is not None:
            found["unified_memory"] = unified
    if not found:
        return machine
    return replace(
        machine,
        **{fact: value for fact, (value, _) in found.items()},
        unknown={k: v for k, v in machine.unknown.items() if k not in found},
        states={k: v for k, v in machine.states.items() if k not in found},
        derived={**machine.derived, **{fact: because for fact, (_, because) in found.items()}},
    )


def _not_a_jetson(machine: Machine) -> str | None:
    if machine.os is not None and machine.os != "linux":
        return f"Jetsons run Linux (L4T), this machine runs {machine.os}"
    if machine.arch is not None and machine.arch != "aarch64":
        return f"the architecture is {machine.arch} and every Jetson is aarch64"
    for gpu in machine.nvidia_gpus() or ():
        if gpu.memory_shared is False:
            return f"the GPU {gpu.name or ''} has its own memory, and a Jetson's GPU shares system memory".replace("  ", " ")
        if gpu.cc is not None and gpu.cc not in JETSON_CCS:
            ccs = ", ".join(f"{major}.{minor}" for major, minor in sorted(JETSON_CCS))
            return f"compute capability {gpu.compute_capability} is no Jetson's (Jetsons have {ccs})"
    return None


def _not_translated(machine: Machine) -> str | None:
    """Rosetta 2 translates x86_64 code on an Apple chip, and nowhere else."""
    if machine.os is not None and machine.os != "darwin":
        return f"Rosetta 2 exists only on macOS, this machine runs {machine.os}"
    if machine.os == "darwin" and machine.arch == "x86_64":
        return "an Intel Mac runs x86_64 natively"
    if machine.apple is not None and machine.apple.mps is True:
        return "MPS is usable by this Python, which only a native arm64 Python can use"
    return None


def _unified_memory(machine: Machine) -> tuple[bool, str] | None:
    if machine.is_jetson():
        return True, "a Jetson's GPU shares system memory"
    if machine.os == "darwin" and machine.is_apple_silicon():
        return True, "Apple silicon's GPU shares memory with the CPU"
    gpus = machine.gpus
    if gpus is None:
        return None
    shared = [g for g in gpus if g.memory_shared]
    if shared:
        return True, f"the GPU {shared[0].name or ''} shares system memory".replace("  ", " ")
    if machine.os == "linux" and all(g.memory_shared is False for g in gpus):
        what = "no GPU was found" if not gpus else f"{', '.join(g.name or 'the GPU' for g in gpus)}: its own memory"
        return False, f"{what}, so nothing shares system memory"
    return None
