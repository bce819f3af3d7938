"""What kind of host this is: uname, /etc/os-release, /proc/meminfo, /proc/cpuinfo.

Each output has a pure `parse_*` function, tested against outputs recorded on
real machines; the probes only fetch the text through `System`. On aarch64
/proc/cpuinfo names no model, only Arm part numbers, so the core names come
from a small table (Linux arch/arm64/include/asm/cputype.h).
"""

from __future__ import annotations

import re
import shlex

from ..core.facts import Cpu
from ..core.system import System
from .base import Partial, state_of

UNAME_ARGV = ("uname", "-s", "-r", "-m")
_SUPPORTED_OS = ("linux", "darwin")
_ARCH_ALIASES = {"arm64": "aarch64", "amd64": "x86_64"}

# (CPU implementer, CPU part) -> core. Performance cores come before the
# efficiency cores they pair with, so big.LITTLE chips name the big core first.
ARM_CORES = {
    ("0x41", "0xd07"): "Cortex-A57",
    ("0x41", "0xd0c"): "Neoverse-N1",
    ("0x41", "0xd40"): "Neoverse-V1",
    ("0x41", "0xd42"): "Cortex-A78AE",
    ("0x41", "0xd49"): "Neoverse-N2",
    ("0x41", "0xd4f"): "Neoverse-V2",
    ("0x41", "0xd83"): "Neoverse-V3AE",
    ("0x41", "0xd84"): "Neoverse-V3",
    ("0x41", "0xd85"): "Cortex-X925",
    ("0x41", "0xd87"): "Cortex-A725",
    ("0x41", "0xd8e"): "Neoverse-N3",
    ("0x4e", "0x003"): "Denver",
    ("0x4e", "0x004"): "Carmel",
}
_CORE_ORDER = {name: i for i, name in enumerate(ARM_CORES.values())}

# CPU flags the rules care about, as /proc/cpuinfo spells them, and the
# common names added next to them (aarch64 calls NEON "asimd").
KEPT_FLAGS = frozenset({
    "asimd", "asimddp", "asimdhp", "sve", "sve2", "sme", "sme2", "bf16", "i8mm", "svebf16", "svei8mm",
    "avx", "avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni", "avx_vnni",
    "amx_tile", "amx_bf16", "amx_int8",
})
FLAG_ALIASES = {"asimd": "neon", "asimddp": "dotprod", "amx_tile": "amx"}


def parse_uname(text: str) -> dict[str, str] | None:
    """`uname -s -r -m` -> {"os": "linux", "kernel": "6.14.0-1013-nvidia", "arch": "aarch64"}."""
    parts = text.split()
    if len(parts) != 3:
        return None
    system, release, machine = parts
    return {"os": system.lower(), "kernel": release, "arch": _ARCH_ALIASES.get(machine.lower(), machine.lower())}


def parse_os_release(text: str) -> str | None:
    """PRETTY_NAME, else NAME and VERSION_ID (os-release(5) values are shell-quoted)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, raw = line.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        try:
            words = shlex.split(raw)
        except ValueError:
            words = [raw.strip("\"'")]
        values[key] = " ".join(words)
    if values.get("PRETTY_NAME"):
        return values["PRETTY_NAME"]
    name = " ".join(v for v in (values.get("NAME"), values.get("VERSION_ID")) if v)
    return name or None


def parse_meminfo(text: str, field: str = "MemTotal") -> float | None:
    """One /proc/meminfo field in GiB, one decimal (proc(5)).

    MemTotal is what the kernel can use, a little under the nominal size;
    MemAvailable (Linux 3.14+) is its estimate of what new work can take
    without swapping, page cache included.
    """
    match = re.search(rf"^{re.escape(field)}:\s*(\d+)\s*kB", text, re.MULTILINE)
    return round(int(match.group(1)) / 2**20, 1) if match else None


def parse_cpuinfo(text: str) -> Cpu | None:
    """Model, flags of interest and processor count from /proc/cpuinfo (x86 or Arm)."""
    blocks = _processor_blocks(text)
    if not blocks:
        return None
    first = blocks[0]
    model = first.get("model name")
    if model is None and "CPU part" in first:
        cores = {_arm_core(b.get("CPU implementer", ""), b.get("CPU part", "")) for b in blocks}
        model = " + ".join(sorted(cores, key=lambda name: (_CORE_ORDER.get(name, len(_CORE_ORDER)), name)))
    flags = (first.get("flags") or first.get("Features") or "").split()
    return Cpu(model=model, features=normalise_features(flags), cores=len(blocks))


def normalise_features(flags: list[str]) -> tuple[str, ...]:
    """The kept flags plus their common names, sorted: ('asimd', 'bf16', 'neon', 'sve', ...)."""
    kept = {flag.lower() for flag in flags} & KEPT_FLAGS
    return tuple(sorted(kept | {FLAG_ALIASES[f] for f in kept if f in FLAG_ALIASES}))


def _processor_blocks(text: str) -> list[dict[str, str]]:
    """One dict per `processor` entry; a new entry starts at each `processor` line."""
    blocks: list[dict[str, str]] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep:
            continue
        if key == "processor":
            blocks.append({})
        if blocks:
            blocks[-1].setdefault(key, value.strip())
    return blocks


def _arm_core(implementer: str, part: str) -> str:
    key = (implementer.lower(), part.lower())
    return ARM_CORES.get(key) or f"Arm core (implementer {key[0]}, part {key[1]})"


def probe_uname(system: System, timeout: float) -> Partial:
    result = system.run(UNAME_ARGV, timeout)
    parsed = parse_uname(result.stdout) if result.ok else None
    if parsed is None:
        reason = result.failure() if not result.ok else f"uname printed {result.stdout.strip()[:80]!r}"
        return Partial().lack(("os", "arch", "kernel"), reason, state_of(result))
    part = Partial(facts={"kernel": parsed["kernel"], "arch": parsed["arch"]})
    if parsed["os"] in _SUPPORTED_OS:
        part.facts["os"] = parsed["os"]
    else:
        part.unknown["os"] = f"unsupported system {result.stdout.split()[0]}"
    return part


def probe_linux(system: System, timeout: float) -> Partial:
    """Only reads files, so `timeout` does not apply."""
    part = Partial()
    release = system.read_text("/etc/os-release") or system.read_text("/usr/lib/os-release")
    distro = parse_os_release(release) if release else None
    if distro:
        part.facts["distro"] = distro
    else:
        part.unknown["distro"] = "/etc/os-release is missing or names no distribution"
    meminfo = system.read_text("/proc/meminfo")
    memory = parse_meminfo(meminfo) if meminfo else None
    if memory is not None:
        part.facts["memory_gb"] = memory
    else:
        part.unknown["memory_gb"] = "/proc/meminfo is missing or has no MemTotal"
    available = parse_meminfo(meminfo, "MemAvailable") if meminfo else None
    if available is not None:
        part.facts["memory_available_gb"] = available
    elif meminfo:
        part.unknown["memory_available_gb"] = "/proc/meminfo has no MemAvailable (Linux before 3.14)"
    cpuinfo = system.read_text("/proc/cpuinfo")
    cpu = parse_cpuinfo(cpuinfo) if cpuinfo else None
    if cpu is not None:
        part.facts["cpu"] = cpu
    else:
        part.unknown["cpu"] = "/proc/cpuinfo is missing or lists no processor"
    return part
