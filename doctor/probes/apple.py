"""The Mac: chip, memory, CPU features, GPU cores and macOS version.

sysctl gives the chip's brand string, memory and the FEAT_* CPU flags;
`sw_vers` the macOS version; `system_profiler SPDisplaysDataType` the GPU
core count. Under Rosetta 2 sysctl reports x86 flags (hw.cputype 7) but the
brand string still says "Apple M1", so the chip is read from the brand string.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from ..core.facts import Apple, Cpu, Gpu
from ..core.system import System
from .base import Partial, state_of

SYSCTL_KEYS = (
    "hw.memsize", "hw.ncpu", "hw.optional.arm64", "hw.optional.arm.FEAT_BF16", "hw.optional.arm.FEAT_I8MM",
    "hw.optional.arm.FEAT_SME", "hw.optional.arm.FEAT_SME2", "machdep.cpu.brand_string",
)
SYSCTL_ARGV = ("sysctl", *SYSCTL_KEYS)
SW_VERS_ARGV = ("sw_vers",)
DISPLAYS_ARGV = ("system_profiler", "SPDisplaysDataType")

# sysctl flag (value 1) -> feature name
FEATURE_FLAGS = {
    "hw.optional.arm64": "neon",
    "hw.optional.arm.FEAT_BF16": "bf16",
    "hw.optional.arm.FEAT_I8MM": "i8mm",
    "hw.optional.arm.FEAT_SME": "sme",
    "hw.optional.arm.FEAT_SME2": "sme2",
}


def parse_sysctl(text: str) -> dict[str, str]:
    """'hw.ncpu: 16' lines -> {'hw.ncpu': '16'}; other lines are ignored."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[\w.]+", key):
            values[key] = value.strip()
    return values


def parse_sw_vers(text: str) -> str | None:
    """'ProductVersion:\\t14.0' (plain `sw_vers`) or '14.0' (`sw_vers -productVersion`) -> '14.0'."""
    match = re.search(r"ProductVersion:\s*(\d+(?:\.\d+)*)", text) or re.fullmatch(r"\s*(\d+(?:\.\d+)*)\s*", text)
    return match.group(1) if match else None


def parse_displays(text: str) -> tuple[str | None, int | None]:
    """(chipset model, GPU cores) of the first GPU in `system_profiler SPDisplaysDataType`."""
    chipset = re.search(r"^\s*Chipset Model:\s*(.+?)\s*$", text, re.MULTILINE)
    cores = re.search(r"^\s*Total Number of Cores:\s*(\d+)", text, re.MULTILINE)
    return (chipset.group(1) if chipset else None), (int(cores.group(1)) if cores else None)


def probe(system: System, timeout: float) -> Partial:
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(system.run, DISPLAYS_ARGV, timeout)  # system_profiler is the slow one
        sysctl = system.run(SYSCTL_ARGV, timeout)
        sw_vers = system.run(SW_VERS_ARGV, timeout)
        displays = pending.result()

    part = Partial()
    macos = parse_sw_vers(sw_vers.stdout) if sw_vers.ok else None
    if macos:
        part.facts["macos"] = macos
    else:
        part.lack(("macos",), sw_vers.failure() if not sw_vers.ok else "sw_vers names no ProductVersion",
                  state_of(sw_vers))

    # sysctl reports a key this macOS lacks (a newer FEAT_ flag) on stderr and still prints the others,
    # so stdout is read whatever the exit status.
    values = parse_sysctl(sysctl.stdout)
    chip = values.get("machdep.cpu.brand_string")
    if not chip:
        reason = sysctl.failure() if sysctl.error or not sysctl.stdout.strip() else "sysctl gave no brand string"
        part.lack(("apple", "memory_gb", "cpu", "gpus", "unified_memory"), reason, state_of(sysctl))
        return part
    memsize = values.get("hw.memsize", "")
    memory = round(int(memsize) / 2**30, 1) if memsize.isdigit() else None
    if memory is not None:
        part.facts["memory_gb"] = memory
    else:
        part.unknown["memory_gb"] = "sysctl gave no hw.memsize"
    ncpu = values.get("hw.ncpu", "")
    features = tuple(sorted(name for key, name in FEATURE_FLAGS.items() if values.get(key) == "1"))
    part.facts["cpu"] = Cpu(model=chip, features=features, cores=int(ncpu) if ncpu.isdigit() else None)
    gpu_cores = parse_displays(displays.stdout)[1] if displays.ok else None
    part.facts["apple"] = Apple(chip=chip, gpu_cores=gpu_cores, mps=None)
    apple_chip = chip.startswith("Apple")
    part.facts["unified_memory"] = apple_chip
    if apple_chip:
        part.facts["gpus"] = (Gpu(vendor="apple", name=chip, memory_gb=memory, memory_shared=True),)
    else:
        part.unknown["gpus"] = f"{chip}: the GPUs of Intel Macs are not probed"
    return part
