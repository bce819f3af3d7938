"""Windows PE files (.pyd, .dll): only the machine type in the COFF header."""

from __future__ import annotations

import struct

from .image import Image, Malformed, read

MACHINES = {0x14C: "x86", 0x8664: "AMD64", 0xAA64: "ARM64", 0x1C4: "ARM"}  # platform.machine()'s spelling


def is_pe(head: bytes) -> bool:
    return head[:2] == b"MZ"


def parse_pe(image: Image) -> str:
    (lfanew,) = struct.unpack("<I", read(image, 0x3C, 4, "e_lfanew"))
    header = read(image, lfanew, 6, "PE header")
    if header[:4] != b"PE\x00\x00":
        raise Malformed("an MZ file without a PE signature")
    (machine,) = struct.unpack("<H", header[4:6])
    return MACHINES.get(machine, f"PE machine 0x{machine:04x}")
