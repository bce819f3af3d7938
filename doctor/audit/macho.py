"""Mach-O dylibs and bundles (and universal "fat" files holding several): CPU types and minimum macOS.

Read: the fat header's slice table, each slice's Mach-O header and its load
commands, of which only LC_BUILD_VERSION (platform macOS) and the older
LC_VERSION_MIN_MACOSX matter: their `minos` is the oldest macOS the code
loads on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .image import Image, Malformed, read, unpack

FAT_MAGICS = {0xCAFEBABE: False, 0xCAFEBABF: True}  # big-endian; True: 64-bit slice offsets
THIN_MAGICS = {b"\xce\xfa\xed\xfe": ("<", False), b"\xcf\xfa\xed\xfe": ("<", True),
               b"\xfe\xed\xfa\xce": (">", False), b"\xfe\xed\xfa\xcf": (">", True)}
MAX_SLICES = 16  # a Java class file starts with CAFEBABE too, followed by a version in the thousands
MAX_COMMANDS = 10_000
LC_VERSION_MIN_MACOSX = 0x24
LC_BUILD_VERSION = 0x32
PLATFORM_MACOS = 1
CPU_ARCH_ABI64 = 0x01000000
CPUS = {7: "i386", 7 | CPU_ARCH_ABI64: "x86_64", 12: "arm", 12 | CPU_ARCH_ABI64: "arm64", 18: "ppc"}


@dataclass(frozen=True)
class MachOSlice:
    cpu: str  # "arm64", "x86_64" (macOS's names), or "cputype N"
    minos: tuple[int, int, int] | None  # None: the file does not say


def is_macho(head: bytes) -> bool:
    return head[:4] in THIN_MAGICS or (len(head) >= 4 and struct.unpack(">I", head[:4])[0] in FAT_MAGICS)


def parse_macho(image: Image) -> tuple[MachOSlice, ...]:
    (magic,) = struct.unpack(">I", read(image, 0, 4, "Mach-O magic"))
    if magic not in FAT_MAGICS:
        return (_thin(image, 0, len(image)),)
    wide = FAT_MAGICS[magic]
    (count,) = struct.unpack(">I", read(image, 4, 4, "fat header"))
    if count == 0 or count > MAX_SLICES:
        raise Malformed(f"universal binary claims {count} slices")
    entry = struct.Struct(">iiQQII" if wide else ">iiIII")
    slices = []
    for i in range(count):
        fields = unpack(image, entry, 8 + i * entry.size, "fat slice entry")
        offset, size = fields[2], fields[3]
        if offset + size > len(image):
            raise Malformed(f"truncated: slice {i} claims bytes {offset}-{offset + size}, past the end of the "
                            f"{len(image)}-byte file")
        slices.append(_thin(image, offset, offset + size))
    return tuple(slices)


def _thin(image: Image, start: int, end: int) -> MachOSlice:
    magic = read(image, start, 4, "Mach-O magic")
    if magic not in THIN_MAGICS:
        raise Malformed(f"not a Mach-O file (magic {magic.hex()}) at offset {start}")
    endian, wide = THIN_MAGICS[magic]
    cputype, _, _, ncmds, sizeofcmds = unpack(image, struct.Struct(endian + "iiIII"), start + 4, "Mach-O header")
    at = start + (32 if wide else 28)
    if ncmds > MAX_COMMANDS or at + sizeofcmds > end:
        raise Malformed(f"{ncmds} load commands of {sizeofcmds} bytes run past the end of the Mach-O image")
    command = struct.Struct(endian + "II")
    minos = None
    for _ in range(ncmds):
        kind, size = unpack(image, command, at, "load command")
        if size < command.size or at + size > end:
            raise Malformed(f"load command at offset {at} claims {size} bytes")
        if kind == LC_BUILD_VERSION:
            platform, version = unpack(image, struct.Struct(endian + "II"), at + 8, "LC_BUILD_VERSION")
            if platform == PLATFORM_MACOS:
                minos = _nibbles(version)
        elif kind == LC_VERSION_MIN_MACOSX:
            (version,) = unpack(image, struct.Struct(endian + "I"), at + 8, "LC_VERSION_MIN_MACOSX")
            minos = _nibbles(version)
        at += size
    return MachOSlice(cpu=CPUS.get(cputype, f"cputype {cputype}"), minos=minos)


def _nibbles(version: int) -> tuple[int, int, int]:
    """xxxx.yy.zz packed in 32 bits: 0x000E0000 is 14.0.0."""
    return version >> 16, (version >> 8) & 0xFF, version & 0xFF
