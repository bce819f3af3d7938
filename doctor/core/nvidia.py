"""NVIDIA facts that several tools' rules share. Pure functions, each with its source.

Binary compatibility (https://docs.nvidia.com/cuda/blackwell-compatibility-guide/):
a cubin built for X.y runs on X.z when z >= y, never across majors; PTX for
X.y is JIT-compiled on any X'.y' >= X.y; "a"-suffixed code (sm_90a, sm_100a,
sm_120a) runs only on exactly that compute capability.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import Version

from .facts import parse_version

_ARCH = re.compile(r"^(sm|compute)_(\d+)(\d)([af]?)$")


@dataclass(frozen=True)
class ArchTarget:
    kind: str  # "sm" (cubin) or "compute" (PTX)
    major: int
    minor: int
    suffix: str  # "", "a" (arch-specific) or "f" (family-specific)

    def runs_on(self, cc: tuple[int, int]) -> bool:
        major, minor = cc
        if self.suffix == "a":
            return (major, minor) == (self.major, self.minor)
        if self.kind == "compute":
            return (major, minor) >= (self.major, self.minor)
        # cubins, plain or family ("f"): same major, minor not above the device's
        return major == self.major and minor >= self.minor

    def __str__(self) -> str:
        return f"{self.kind}_{self.major}{self.minor}{self.suffix}"


def parse_arch(text: str) -> ArchTarget | None:
    """'sm_90a' -> ArchTarget('sm', 9, 0, 'a'); '8.6' and '8.6+PTX' are accepted too."""
    text = text.strip()
    dotted = re.fullmatch(r"(\d+)\.(\d)(\+PTX)?", text)
    if dotted:
        kind = "compute" if dotted.group(3) else "sm"
        return ArchTarget(kind, int(dotted.group(1)), int(dotted.group(2)), "")
    match = _ARCH.match(text)
    if not match:
        return None
    return ArchTarget(match.group(1), int(match.group(2)), int(match.group(3)), match.group(4))


def code_for(arch_list: tuple[str, ...], cc: tuple[int, int]) -> str | None:
    """The entry of `arch_list` that lets code run on `cc` (a cubin first, then PTX), or None."""
    targets = [t for t in (parse_arch(a) for a in arch_list) if t is not None]
    for target in sorted(targets, key=lambda t: (t.kind != "sm", -t.minor)):
        if target.runs_on(cc):
            return str(target)
    return None


# Minimum driver for each CUDA major under minor-version compatibility.
# https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html
DRIVER_FLOOR = {13: Version("580"), 12: Version("525"), 11: Version("450")}


def driver_floor(cuda: str | None) -> Version | None:
    version = parse_version(cuda)
    return None if version is None else DRIVER_FLOOR.get(version.major)


# JetPack releases by L4T release. L4T's major alone fixes JetPack's major
# (R35 = JetPack 5, R36 = JetPack 6, R38 and R39 = JetPack 7), so a new L4T
# point release still yields "6" or "7" instead of "missing" (jetson_stats#744).
# https://developer.nvidia.com/embedded/jetpack-archive ; holohub PR #1601 (R39.2 = JetPack 7.2)
JETPACK_BY_L4T = {
    "35.3.1": "5.1.1", "35.4.1": "5.1.2", "35.5.0": "5.1.3", "35.6.0": "5.1.4",
    "36.3.0": "6.0", "36.4.0": "6.1", "36.4.3": "6.2", "36.4.4": "6.2.1",
    "38.2.0": "7.0", "38.2.1": "7.0", "39.2.0": "7.2",
}
JETPACK_MAJOR_BY_L4T_MAJOR = {32: "4", 35: "5", 36: "6", 38: "7", 39: "7"}


def jetpack_for_l4t(l4t: str | None) -> str | None:
    if not l4t:
        return None
    if l4t in JETPACK_BY_L4T:
        return JETPACK_BY_L4T[l4t]
    major = l4t.split(".", 1)[0]
    return JETPACK_MAJOR_BY_L4T_MAJOR.get(int(major)) if major.isdigit() else None


# GPU compute capability of each Tegra SoC, for Jetsons whose nvidia-smi is
# missing (JetPack 5) or reports no compute_cap. Thor is 11.0 from CUDA 13 on
# (it was sm_101 under CUDA 12.8/12.9). https://developer.nvidia.com/cuda-gpus
CC_BY_TEGRA_SOC = {"tegra194": "7.2", "tegra234": "8.7", "tegra264": "11.0"}

# Every compute capability a Jetson's GPU has had: Nano/TX1 5.3, TX2 6.2, Xavier 7.2, Orin 8.7,
# Thor 10.1 under CUDA 12.8/12.9 and 11.0 from CUDA 13. A GPU with any other is no Jetson.
# https://developer.nvidia.com/cuda-gpus (Jetson section)
JETSON_CCS = frozenset({(5, 3), (6, 2), (7, 2), (8, 7), (10, 1), (11, 0)})

# The first CUDA toolkit whose nvcc targets each compute capability (its release notes' "added support for").
# https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/ ; https://docs.nvidia.com/cuda/cuda-c-programming-guide/#compute-capabilities
FIRST_CUDA_FOR_CC = {
    (7, 0): "9.0", (7, 2): "10.0", (7, 5): "10.0", (8, 0): "11.0", (8, 6): "11.1", (8, 7): "11.4", (8, 9): "11.8",
    (9, 0): "11.8", (10, 0): "12.8", (10, 1): "12.8", (10, 3): "12.9", (11, 0): "13.0", (12, 0): "12.8",
    (12, 1): "12.9",
}

# CUDA toolkit releases (major.minor), oldest first: the values a missing `cuda_toolkit` could take.
# https://developer.nvidia.com/cuda-toolkit-archive
CUDA_RELEASES = (
    "10.0", "10.1", "10.2", "11.0", "11.1", "11.2", "11.3", "11.4", "11.5", "11.6", "11.7", "11.8",
    "12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.8", "12.9", "13.0", "13.1",
)


def toolkits_for(ccs: tuple[tuple[int, int], ...] | None) -> tuple[str, ...]:
    """The CUDA releases whose nvcc can target every one of these GPUs (all releases when the GPUs are unknown).

    An older nvcc cannot build for the GPU at all, which for a source build is the same as having none.
    """
    floors = [parse_version(FIRST_CUDA_FOR_CC[cc]) for cc in ccs or () if cc in FIRST_CUDA_FOR_CC]
    floor = max(floors, default=None)
    return tuple(r for r in CUDA_RELEASES if floor is None or Version(r) >= floor)
