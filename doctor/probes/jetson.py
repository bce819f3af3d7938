"""Whether an aarch64 Linux box is a Jetson, and which L4T, JetPack, module and SoC.

A Jetson says so in /etc/nv_tegra_release (L4T) and in its device tree
(`nvidia,tegra234` for Orin, `nvidia,tegra264` for Thor). Server ARM (GH200,
Graviton) has neither, which makes it known not to be a Jetson. Serial numbers
go only into identifiers.
"""

from __future__ import annotations

import re

from ..core.facts import Jetson
from ..core.nvidia import jetpack_for_l4t
from ..core.system import System
from .base import Partial

RELEASE_PATH = "/etc/nv_tegra_release"
MODEL_PATHS = ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model")
COMPATIBLE_PATHS = ("/proc/device-tree/compatible", "/sys/firmware/devicetree/base/compatible")
SERIAL_PATH = "/proc/device-tree/serial-number"

# Module names that fix the SoC, for device trees whose compatible list
# names none (an AGX Orin on L4T R39 shows only "nvidia,p3737-0000+p3701-0000").
SOC_BY_MODEL_WORD = {"Xavier": "tegra194", "Orin": "tegra234", "Thor": "tegra264"}


def parse_nv_tegra_release(text: str) -> str | None:
    """'# R36 (release), REVISION: 4.4, ...' -> '36.4.4'."""
    match = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*(\d+(?:\.\d+)*)", text)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def parse_compatible(text: str) -> str | None:
    """The SoC among the device tree's compatible entries: 'tegra234', not the family 'tegra23x'.

    Entries are NUL-separated in the file; recordings often show them run
    together ("...nvidia,tegra234nvidia,tegra23x"), so both are accepted.
    """
    socs = re.findall(r"nvidia,tegra(\d+)(?=\x00|\s|nvidia,|$)", text)
    return f"tegra{max(socs, key=int)}" if socs else None


def soc_from_model(model: str | None) -> str | None:
    words = set(re.findall(r"\w+", model or ""))
    return next((soc for word, soc in SOC_BY_MODEL_WORD.items() if word in words), None)


def probe(system: System, timeout: float) -> Partial:
    """Only reads files, so `timeout` does not apply."""
    release = system.read_text(RELEASE_PATH)
    compatible = _first(system, COMPATIBLE_PATHS)
    soc = parse_compatible(compatible) if compatible else None
    if release is None and soc is None:
        return Partial(facts={"jetson": False})
    model = _first(system, MODEL_PATHS)
    l4t = parse_nv_tegra_release(release) if release else None
    board = Jetson(l4t=l4t, jetpack=jetpack_for_l4t(l4t), module=model, soc=soc or soc_from_model(model))
    part = Partial(facts={"jetson": board})
    serial = _clean(system.read_text(SERIAL_PATH))
    if serial:
        part.identifiers["serial"] = serial
    return part


def _first(system: System, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        text = _clean(system.read_text(path))
        if text:
            return text
    return None


def _clean(text: str | None) -> str | None:
    """Device-tree strings end in NUL."""
    return text.strip("\x00 \n") if text else None
