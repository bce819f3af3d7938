"""One binary's facts, whatever its format, and their JSON form (for the cache and the report)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from .cuda import DeviceCode, Variant
from .image import Image, Malformed, read

# The CPU names of Machine.arch: what each format calls the same CPU.
_ARCH = {"arm64": "aarch64", "AMD64": "x86_64", "ARM64": "aarch64", "x86": "i686", "i386": "i686"}


class Format(str, enum.Enum):
    ELF = "elf"
    MACHO = "macho"
    PE = "pe"


@dataclass(frozen=True)
class BinaryFacts:
    format: Format
    cpus: tuple[str, ...]  # one per Mach-O slice; in Machine.arch's names (x86_64, aarch64)
    needed: tuple[str, ...] = ()  # ELF DT_NEEDED
    glibc: tuple[int, int] | None = None  # newest GLIBC_x.y needed
    macos: tuple[tuple[str, tuple[int, int, int] | None], ...] = ()  # (cpu, minos) per Mach-O slice
    device_code: tuple[DeviceCode, ...] = ()
    ptxas: str | None = None  # the version of a ptxas executable

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.format.value, "cpus": list(self.cpus)}
        if self.needed:
            out["needed"] = list(self.needed)
        if self.glibc:
            out["glibc"] = "%d.%d" % self.glibc
        if self.macos:
            out["macos"] = {cpu: None if minos is None else "%d.%d.%d" % minos for cpu, minos in self.macos}
        if self.device_code:
            out["device_code"] = [_code_json(code) for code in self.device_code]
        if self.ptxas:
            out["ptxas"] = self.ptxas
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BinaryFacts:
        """The inverse of to_json, for aidoctor's own cache (a KeyError or ValueError means a stale entry)."""
        glibc = data.get("glibc")
        return cls(
            format=Format(data["format"]),
            cpus=tuple(data["cpus"]),
            needed=tuple(data.get("needed", ())),
            glibc=None if glibc is None else tuple(int(p) for p in glibc.split("."))[:2],  # type: ignore[arg-type]
            macos=tuple((cpu, None if v is None else tuple(int(p) for p in v.split(".")))  # type: ignore[misc]
                        for cpu, v in data.get("macos", {}).items()),
            device_code=tuple(DeviceCode(c["sm"], Variant(c["variant"]), c["ptx"],
                                         tuple(c["ptx_isa"]) if c.get("ptx_isa") else None)  # type: ignore[arg-type]
                              for c in data.get("device_code", ())),
            ptxas=data.get("ptxas"),
        )


def _code_json(code: DeviceCode) -> dict[str, Any]:
    out: dict[str, Any] = {"name": code.name, "sm": code.sm, "variant": code.variant.value, "ptx": code.ptx}
    if code.ptx_isa:
        out["ptx_isa"] = list(code.ptx_isa)
    return out


def sniff(head: bytes) -> Format | None:
    """The format from a file's first bytes; None: not a binary this audit reads."""
    # The parsers are imported here, not above: a warm check finds every answer in the cache and needs none.
    from . import elf, macho, pe

    if elf.is_elf(head):
        return Format.ELF
    if macho.is_macho(head):
        return Format.MACHO
    if pe.is_pe(head):
        return Format.PE
    return None


def parse_binary(image: Image, *, ptxas: bool = False) -> BinaryFacts:
    """Raises Malformed with a one-line reason; `ptxas`: also read the version of this ptxas executable."""
    from . import elf, macho, pe

    form = sniff(read(image, 0, min(len(image), 8), "magic"))
    if form is Format.ELF:
        info = elf.parse_elf(image)
        return BinaryFacts(format=form, cpus=(info.machine,), needed=info.needed, glibc=info.glibc,
                           device_code=info.device_code, ptxas=elf.parse_ptxas_version(image) if ptxas else None)
    if form is Format.MACHO:
        slices = macho.parse_macho(image)
        cpus = tuple(_ARCH.get(s.cpu, s.cpu) for s in slices)
        return BinaryFacts(format=form, cpus=cpus, macos=tuple(zip(cpus, (s.minos for s in slices))))
    if form is Format.PE:
        machine = pe.parse_pe(image)
        return BinaryFacts(format=form, cpus=(_ARCH.get(machine, machine),))
    raise Malformed("not an ELF, Mach-O or PE file")
