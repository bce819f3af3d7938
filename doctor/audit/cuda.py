"""CUDA device code embedded in a host binary: the fatbin, read from its headers alone.

A `.nv_fatbin` (or relocatable `__nv_relfatbin`) section holds one or more
fatbins back to back (each 8-byte aligned): a 16-byte header (magic
0xBA55ED50, version, header size, payload size), then entries, each a header
of its own and a payload: an ELF cubin (kind 2, SASS for one SM) or PTX
(kind 1, a virtual architecture that the driver can JIT). The entry header
carries the SM number, the PTX ISA version (for PTX) and flags: 0x100000 marks
arch-specific code (sm_90a), 0x200000 family-specific code (sm_100f); payloads
may be compressed, which does not matter since nothing here reads them.
The layout was checked against cuobjdump on objects built by nvcc 13.0 with
chosen -gencode lists (tests/fixtures/binaries/cuda/build.sh).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from .image import Image, Malformed, unpack

FATBIN_MAGIC = 0xBA55ED50
_BLOB = struct.Struct("<IHHQ")  # magic, version, header size, payload size
_ENTRY = struct.Struct("<HHIQIIHHI")  # kind, version, header size, payload size, compressed size, ?, minor, major, arch
_FLAGS = struct.Struct("<Q")
_FLAGS_AT = 40  # after the arch: the object name's offset and length (two u32)
KIND_PTX, KIND_CUBIN = 1, 2
FLAG_ARCH_SPECIFIC = 0x100000
FLAG_FAMILY_SPECIFIC = 0x200000
MAX_ENTRIES = 100_000  # libcublasLt has a few thousand; more is a header that lies


class Variant(str, enum.Enum):
    """Which GPUs code for one SM may run on (NVIDIA's Blackwell compatibility guide)."""

    PORTABLE = ""  # sm_80: the same major, this minor or newer
    ARCH = "a"  # sm_90a: exactly this SM
    FAMILY = "f"  # sm_100f: the same major, this minor or newer, never another major


@dataclass(frozen=True)
class DeviceCode:
    sm: int  # 80, 90, 121: compute capability major * 10 + minor
    variant: Variant
    ptx: bool  # PTX (JIT-compiled by the driver) rather than SASS in a cubin
    ptx_isa: tuple[int, int] | None = None  # PTX ISA version, e.g. (9, 0) from CUDA 13.0

    @property
    def cc(self) -> tuple[int, int]:
        return divmod(self.sm, 10)

    @property
    def name(self) -> str:
        """cuobjdump's spelling: sm_80 for a cubin, compute_120 for PTX."""
        return f"{'compute' if self.ptx else 'sm'}_{self.sm}{self.variant.value}"


def parse_fatbin_section(image: Image, start: int, size: int) -> tuple[DeviceCode, ...]:
    """Every cubin and PTX entry in the fatbins of one section at [start, start + size)."""
    end = start + size
    if end > len(image):
        raise Malformed(f"truncated: fatbin section ends at {end}, past the end of the {len(image)}-byte file")
    found: list[DeviceCode] = []
    blob = start
    while blob + _BLOB.size <= end:
        magic, _, header_size, payload_size = unpack(image, _BLOB, blob, "fatbin header")
        if magic != FATBIN_MAGIC:
            if found or blob > start:
                break  # padding after the last fatbin
            raise Malformed(f"fatbin section does not start with the fatbin magic (0x{magic:08x})")
        blob_end = blob + header_size + payload_size
        if header_size < _BLOB.size or blob_end > end:
            raise Malformed(f"fatbin at offset {blob} claims {payload_size} bytes, past the end of its section")
        entry = blob + header_size
        while entry < blob_end:
            if len(found) >= MAX_ENTRIES:
                raise Malformed(f"fatbin claims more than {MAX_ENTRIES} entries")
            kind, _, entry_header, entry_payload, _, _, minor, major, sm = unpack(image, _ENTRY, entry,
                                                                                  "fatbin entry header")
            if entry_header < _FLAGS_AT + _FLAGS.size or entry + entry_header + entry_payload > blob_end:
                raise Malformed(f"fatbin entry at offset {entry} claims {entry_payload} bytes, past the end of "
                                "its fatbin")
            (flags,) = unpack(image, _FLAGS, entry + _FLAGS_AT, "fatbin entry flags")
            variant = (Variant.ARCH if flags & FLAG_ARCH_SPECIFIC else
                       Variant.FAMILY if flags & FLAG_FAMILY_SPECIFIC else Variant.PORTABLE)
            if kind in (KIND_PTX, KIND_CUBIN):
                ptx = kind == KIND_PTX
                found.append(DeviceCode(sm, variant, ptx, (major, minor) if ptx else None))
            entry += entry_header + entry_payload
        blob = (blob_end + 7) & ~7
    return tuple(found)


def ptx_isa_cuda(isa: tuple[int, int]) -> tuple[int, int] | None:
    """The CUDA release that introduced a PTX ISA version: the driver must support at least that to JIT it.

    From the PTX ISA release notes (docs.nvidia.com/cuda/parallel-thread-execution, "Release Notes"):
    ISA 7.x came with CUDA 11.x, 8.0-8.5 with 12.0-12.5 (12.5 and 12.6 both 8.5), 8.6 with 12.7,
    8.7 with 12.8, 8.8 with 12.9, 9.0 with 13.0, 9.1 with 13.1; before 7.0 (CUDA 10 and older) it
    is (10, 0), which every driver that runs current CUDA code supports.
    """
    major, minor = isa
    if major == 7:
        return 11, minor
    if major == 8:
        return 12, minor + 1 if minor >= 6 else minor
    if major == 9:
        return 13, minor
    return (10, 0) if major < 7 else None  # None: newer than anything this table knows
