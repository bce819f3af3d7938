"""Run the probes concurrently, each under a hard timeout, and merge what they find.

`start()` launches the target Python's probe (the slowest: an interpreter
start and a walk of its site-packages), asks `uname` which kind of machine
this is, then launches the probes that apply to it; all run at the same time
while the caller goes on (the CLI imports the engine meanwhile), and
`Probing.finish()` waits for them. `collect()` is both in one call. A probe that fails or runs past the
budget leaves its facts unknown with the reason; it never stops the others.
The merge (`derive`) then fills in facts that come from several places: a
GB10's GPU memory from system memory, a Jetson's compute capability from its
SoC, whether MPS can be used from the chip, the macOS version and the Python.
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass, replace
from typing import Callable

from packaging.version import InvalidVersion, Version

from ..core.derive import derive as derive_from_facts
from ..core.facts import FactState, Gpu, Jetson, Machine, ProbeRun, ProbeStatus
from ..core.nvidia import CC_BY_TEGRA_SOC
from ..core.system import System
from . import apple, host, jetson, nvidia, pyenv
from .base import Partial

ProbeFn = Callable[[System, float], Partial]

# The facts each probe owns: they become unknown, with its reason, if it fails.
OWNED = {
    "linux": ("distro", "memory_gb", "memory_available_gb", "cpu"),
    "nvidia-smi": ("gpus", "nvidia_driver", "cuda_driver"),
    "nvcc": ("cuda_toolkit", "cuda_home"),
    "jetson": ("jetson",),
    "apple": ("apple", "macos", "memory_gb", "cpu", "gpus", "unified_memory"),
    "python": ("python", "python_build", "python_translated", "glibc", "libc", "musl", "packages", "requires",
               "torch_build"),
}


@dataclass(frozen=True)
class Options:
    python: str  # the target interpreter
    timeout: float = 5.0  # for each command
    budget: float = 15.0  # for the whole collection


def probes_for(os_name: str | None, arch: str | None, options: Options) -> dict[str, ProbeFn]:
    """The host probes that apply to this kind of machine; the target Python's probe always runs."""
    selected: dict[str, ProbeFn] = {}
    if os_name == "linux":
        selected["linux"] = host.probe_linux
        selected["nvidia-smi"] = nvidia.probe_smi
        selected["nvcc"] = nvidia.probe_nvcc
        if arch == "aarch64":
            selected["jetson"] = jetson.probe
    elif os_name == "darwin":
        selected["apple"] = apple.probe
    return selected


@dataclass(frozen=True)
class Probing:
    """Probes under way: `finish()` waits for them (within the budget) and merges what they found."""
    options: Options
    started: float
    pool: concurrent.futures.ThreadPoolExecutor
    python: concurrent.futures.Future  # the target Python's Partial
    host: concurrent.futures.Future  # _HostProbes

    def finish(self) -> Machine:
        return _merge(self)


@dataclass(frozen=True)
class _HostProbes:
    base: Partial  # uname's answer
    base_ms: int  # how long uname took
    futures: dict[concurrent.futures.Future, str]  # the probes uname's answer selected
    begun: dict[str, float]


def start(system: System, options: Options) -> Probing:
    """Returns at once: the target Python's probe and uname run in worker threads, and uname's worker then
    starts the host probes that apply."""
    started = time.monotonic()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(OWNED) + 1, thread_name_prefix="probe")
    python = pool.submit(pyenv.probe, system, options.timeout, python=options.python)
    return Probing(options, started, pool, python, pool.submit(_start_host_probes, system, options, pool))


def _start_host_probes(system: System, options: Options, pool: concurrent.futures.Executor) -> _HostProbes:
    started = time.monotonic()
    base = host.probe_uname(system, options.timeout)
    base_ms = _ms(started)
    futures, begun = {}, {}
    for name, fn in probes_for(base.facts.get("os"), base.facts.get("arch"), options).items():
        begun[name] = time.monotonic()
        futures[pool.submit(fn, system, options.timeout)] = name
    return _HostProbes(base, base_ms, futures, begun)


def collect(system: System, options: Options) -> Machine:
    return start(system, options).finish()


def _merge(probing: Probing) -> Machine:
    options, started = probing.options, probing.started
    # uname has its own timeout, so its worker returns within it; the budget bounds the rest.
    hosts: _HostProbes = probing.host.result()
    base = hosts.base
    futures = {probing.python: "python", **hosts.futures}
    begun = {"python": started, **hosts.begun}
    facts: dict = dict(base.facts)
    unknown: dict[str, str] = dict(base.unknown)
    states: dict[str, FactState] = dict(base.states)
    identifiers: dict = dict(base.identifiers)
    runs: list[ProbeRun] = [ProbeRun(name="uname", status=ProbeStatus.OK if base.facts else ProbeStatus.FAILED,
                                     duration_ms=hosts.base_ms, reason=base.unknown.get("os"))]
    if "jetson" not in begun and facts.get("os") is not None:
        facts["jetson"] = False
    remaining = max(0.1, options.budget - (time.monotonic() - started))
    done, pending = concurrent.futures.wait(futures, timeout=remaining)
    probing.pool.shutdown(wait=False, cancel_futures=True)

    for future in done:
        name = futures[future]
        try:
            part = future.result()
        except Exception as exc:  # a probe bug must not crash the check of a user's machine
            reason = f"probe {name} failed: {type(exc).__name__}: {exc}"
            unknown.update({key: reason for key in OWNED[name]})
            states.update({key: FactState.UNKNOWN for key in OWNED[name]})
            runs.append(ProbeRun(name=name, status=ProbeStatus.FAILED, duration_ms=_ms(begun[name]), reason=reason))
            continue
        for key, value in part.facts.items():
            if value is not None and facts.get(key) is None:
                facts[key] = value
        for key, reason in part.unknown.items():
            if key not in unknown:
                unknown[key], states[key] = reason, part.state(key)
        identifiers.update(part.identifiers)
        runs.append(_run_of(name, part, begun[name]))
    for future in pending:
        name = futures[future]
        reason = f"probe {name} did not finish within the {options.budget:g} s budget"
        for key in OWNED[name]:
            if key not in unknown:
                unknown[key], states[key] = reason, FactState.TIMED_OUT
        runs.append(ProbeRun(name=name, status=ProbeStatus.TIMEOUT, duration_ms=_ms(begun[name]), reason=reason))

    facts = derive(facts, unknown)
    for key in list(unknown):
        if facts.get(key) is not None:
            del unknown[key]
    # UNKNOWN is the default: listing only the others keeps a probed Machine equal to its JSON read back.
    states = {key: state for key, state in states.items() if key in unknown and state is not FactState.UNKNOWN}
    runs.sort(key=lambda run: run.name)
    return derive_from_facts(Machine(**facts, unknown=unknown, states=states, probes=tuple(runs),
                                     identifiers=identifiers or None))


def _run_of(name: str, part: Partial, begun: float) -> ProbeRun:
    """An absent fact (no nvcc here) is an answer, not a failed probe; a timed-out one makes it a timeout."""
    failed = sorted(k for k in set(part.unknown) & set(OWNED[name]) if part.state(k) is not FactState.ABSENT)
    if not failed:
        status = ProbeStatus.OK
    elif any(part.state(k) is FactState.TIMED_OUT for k in failed):
        status = ProbeStatus.TIMEOUT
    else:
        status = ProbeStatus.FAILED
    return ProbeRun(name=name, status=status, duration_ms=_ms(begun),
                    reason="; ".join(sorted({part.unknown[k] for k in failed})) or None)


_X86_ONLY = frozenset({"avx", "avx2", "fma", "f16c", "avx512f"})
_ARM_ONLY = frozenset({"asimd", "neon", "sve", "sve2"})


def _cpu_feature_arch(cpu) -> str | None:
    """The architecture the CPU's feature flags belong to, when they say."""
    features = set(getattr(cpu, "features", None) or ())
    if features & _X86_ONLY:
        return "x86_64"
    if features & _ARM_ONLY:
        return "aarch64"
    return None


def derive(facts: dict, unknown: dict[str, str]) -> dict:
    """What the probes' own outputs imply about each other (a Jetson's GPU from its SoC, qemu's borrowed
    /proc/cpuinfo, MPS); what follows from facts alone is core.derive's, for every source."""
    facts = dict(facts)
    board = facts.get("jetson")
    gpus = facts.get("gpus")
    if isinstance(board, Jetson):
        cc = CC_BY_TEGRA_SOC.get(board.soc or "")
        if gpus:
            # Jetson's nvidia-smi reports neither memory nor, on old drivers, compute_cap.
            facts["gpus"] = tuple(replace(g, compute_capability=g.compute_capability or cc, memory_shared=True,
                                          memory_gb=g.memory_gb or facts.get("memory_gb")) for g in gpus)
        elif cc is not None:
            # JetPack 5 has no nvidia-smi; the SoC says which GPU is there.
            facts["gpus"] = (Gpu(vendor="nvidia", name=board.module or board.soc, compute_capability=cc,
                                 memory_gb=facts.get("memory_gb"), memory_shared=True),)
            unknown.pop("gpus", None)
    elif gpus and any(g.memory_shared for g in gpus):
        # GB10: NVML reports memory as not supported; the GPU uses system memory (unified_memory: core.derive).
        facts["gpus"] = tuple(replace(g, memory_gb=g.memory_gb or facts.get("memory_gb")) for g in gpus)
    cpu_arch = _cpu_feature_arch(facts.get("cpu"))
    if facts.get("os") == "linux" and cpu_arch is not None and facts.get("arch") not in (None, cpu_arch):
        # qemu-user passes the host's /proc/cpuinfo through: an emulated aarch64 userland sees an x86 CPU.
        del facts["cpu"]
        unknown["cpu"] = (f"/proc/cpuinfo describes an {cpu_arch} CPU but this system runs {facts['arch']}: "
                          "an emulated userland (qemu-user), whose CPU features are the emulator's")
    if facts.get("os") == "darwin" and facts.get("apple") is not None:
        chip = facts["apple"]
        translated = facts.get("python_translated")
        mps = None
        if facts.get("macos") and translated is not None:
            mps = _macos_at_least(facts["macos"], "12.3") and not translated and (chip.chip or "").startswith("Apple")
        facts["apple"] = replace(chip, mps=mps if chip.mps is None else chip.mps)
    return facts


def _macos_at_least(text: str, floor: str) -> bool:
    try:
        return Version(text) >= Version(floor)
    except InvalidVersion:
        return False


def _ms(since: float) -> int:
    return int((time.monotonic() - since) * 1000)
