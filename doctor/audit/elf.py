"""ELF shared objects and executables: the CPU, the libraries and glibc versions needed, the CUDA fatbin.

Only the ELF header, the section headers and the few sections named below
are read: `.dynamic` for DT_NEEDED, `.gnu.version_r` for the GLIBC_x.y
versions needed, `.nv_fatbin`/`__nv_relfatbin` for device code, `.rodata`
for a version string when asked. Every count and offset is checked against
the file size before it is followed.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from .cuda import DeviceCode, parse_fatbin_section
from .image import Image, Malformed, c_string, read, unpack

ELF_MAGIC = b"\x7fELF"
MAX_SECTIONS = 10_000  # real shared objects have tens; torch's biggest has about 40
MAX_DYNAMIC = 100_000
MAX_VERNEED = 10_000
SHT_DYNAMIC = 6
SHT_GNU_VERNEED = 0x6FFFFFFE
DT_NULL, DT_NEEDED = 0, 1
FATBIN_SECTIONS = (".nv_fatbin", "__nv_relfatbin")  # in order of preference

# e_machine -> the name platform.machine() gives on Linux
MACHINES = {3: "i686", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390x", 40: "armv7l", 62: "x86_64", 183: "aarch64",
            243: "riscv64", 258: "loongarch64"}


@dataclass(frozen=True)
class Section:
    name: str
    kind: int
    offset: int
    size: int
    link: int
    info: int


@dataclass(frozen=True)
class ElfInfo:
    machine: str  # "x86_64", "aarch64", or "e_machine 1234" for one this table does not name
    needed: tuple[str, ...]  # DT_NEEDED: libcudart.so.13, libc.so.6, ...
    glibc: tuple[int, int] | None  # the newest GLIBC_x.y symbol version needed; None: none
    device_code: tuple[DeviceCode, ...]


def is_elf(head: bytes) -> bool:
    return head[:4] == ELF_MAGIC


def parse_elf(image: Image) -> ElfInfo:
    sections, order = _sections(image)
    machine = _machine(image, order)
    by_name = {s.name: s for s in sections}
    needed: list[str] = []
    for dynamic in (s for s in sections if s.kind == SHT_DYNAMIC):
        needed += _needed(image, order, dynamic, sections)
    glibc = None
    for verneed in (s for s in sections if s.kind == SHT_GNU_VERNEED):
        newest = _glibc_needed(image, order, verneed, sections)
        glibc = newest if glibc is None or (newest is not None and newest > glibc) else glibc
    # What the CUDA runtime registers and loads is the executable fatbin; the relocatable one feeds a device
    # link and counts only where there is nothing else (as cuobjdump lists them without -all).
    section = next((by_name[name] for name in FATBIN_SECTIONS if name in by_name), None)
    code = [] if section is None else list(parse_fatbin_section(image, section.offset, section.size))
    return ElfInfo(machine=machine, needed=tuple(dict.fromkeys(needed)), glibc=glibc,
                   device_code=tuple(dict.fromkeys(code)))


_CHUNK, _OVERLAP = 64 << 10, 128  # the overlap keeps a string that straddles two chunks whole
_TOOLS_VERSION = re.compile(rb"Cuda compilation tools, release (\d+)\.(\d+), V(\d+\.\d+\.\d+)")


def parse_ptxas_version(image: Image) -> str | None:
    """The version a ptxas executable prints for --version ("12.8.93"), read from its .rodata without running it.

    .rodata is megabytes and the string sits near its start: it is read in chunks, stopping at the match.
    """
    sections, _ = _sections(image)
    for section in (s for s in sections if s.name.startswith(".rodata")):
        end = section.offset + section.size
        at = section.offset
        while at < end:
            chunk = read(image, at, min(_CHUNK + _OVERLAP, end - at), ".rodata")
            match = _TOOLS_VERSION.search(chunk)
            if match:
                return match.group(3).decode()
            at += _CHUNK
    return None


def _order(image: Image) -> tuple[str, bool]:
    ident = read(image, 0, 16, "ELF identification")
    if ident[:4] != ELF_MAGIC:
        raise Malformed("not an ELF file")
    if ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise Malformed(f"ELF class {ident[4]} / data encoding {ident[5]} is neither 32/64-bit nor LE/BE")
    return ("<" if ident[5] == 1 else ">"), ident[4] == 2


def _machine(image: Image, order: tuple[str, bool]) -> str:
    endian, _ = order
    (number,) = unpack(image, struct.Struct(endian + "H"), 18, "e_machine")
    name = MACHINES.get(number, f"e_machine {number}")
    if name == "ppc64" and endian == "<":
        return "ppc64le"
    return name


def _sections(image: Image) -> tuple[list[Section], tuple[str, bool]]:
    order = _order(image)
    endian, wide = order
    if wide:
        (shoff,) = unpack(image, struct.Struct(endian + "Q"), 0x28, "e_shoff")
        shentsize, shnum, shstrndx = unpack(image, struct.Struct(endian + "HHH"), 0x3A, "section header counts")
        layout = struct.Struct(endian + "IIQQQQIIQQ")
    else:
        (shoff,) = unpack(image, struct.Struct(endian + "I"), 0x20, "e_shoff")
        shentsize, shnum, shstrndx = unpack(image, struct.Struct(endian + "HHH"), 0x2E, "section header counts")
        layout = struct.Struct(endian + "IIIIIIIIII")
    if shoff == 0:
        return [], order  # no section headers (stripped to the bone): the machine is all there is
    if shentsize < layout.size:
        raise Malformed(f"section header size {shentsize} is smaller than an ELF section header")
    if shnum == 0:  # more than 0xff00 sections: the count lives in section 0's sh_size
        shnum = unpack(image, layout, shoff, "section header 0")[5]
    if shnum > MAX_SECTIONS:
        raise Malformed(f"{shnum} sections is more than any real shared object has (limit {MAX_SECTIONS})")
    if shoff + shnum * shentsize > len(image):
        raise Malformed(f"truncated: {shnum} section headers at offset {shoff} run past the end of the "
                        f"{len(image)}-byte file")
    raw = [unpack(image, layout, shoff + i * shentsize, "section header") for i in range(shnum)]
    if shstrndx >= shnum:
        raise Malformed(f"section name table index {shstrndx} is past the {shnum} sections")
    names_at = raw[shstrndx][4]
    sections = []
    for name, kind, _, _, offset, size, link, info, _, _ in raw:
        sections.append(Section(c_string(image, names_at + name, "section name", 256), kind, offset, size,
                                link, info))
    return sections, order


def _linked(sections: list[Section], section: Section) -> Section:
    if section.link >= len(sections):
        raise Malformed(f"{section.name} links to section {section.link}, past the {len(sections)} sections")
    return sections[section.link]


def _needed(image: Image, order: tuple[str, bool], dynamic: Section, sections: list[Section]) -> list[str]:
    endian, wide = order
    entry = struct.Struct(endian + ("qQ" if wide else "iI"))
    strings = _linked(sections, dynamic)
    count = dynamic.size // entry.size
    if count > MAX_DYNAMIC:
        raise Malformed(f"{dynamic.name} claims {count} entries")
    needed = []
    for i in range(count):
        tag, value = unpack(image, entry, dynamic.offset + i * entry.size, "dynamic entry")
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            needed.append(c_string(image, strings.offset + value, "DT_NEEDED name"))
    return needed


def _glibc_needed(image: Image, order: tuple[str, bool], verneed: Section,
                  sections: list[Section]) -> tuple[int, int] | None:
    endian, _ = order
    need = struct.Struct(endian + "HHIII")  # vn_version, vn_cnt, vn_file, vn_aux, vn_next
    aux = struct.Struct(endian + "IHHII")  # vna_hash, vna_flags, vna_other, vna_name, vna_next
    strings = _linked(sections, verneed)
    newest = None
    at, seen = verneed.offset, 0
    for _ in range(min(verneed.info, MAX_VERNEED)):
        _, count, _, aux_at, next_at = unpack(image, need, at, "version need")
        cursor = at + aux_at
        for _ in range(count):
            seen += 1
            if seen > MAX_VERNEED:
                raise Malformed(f"{verneed.name} claims more than {MAX_VERNEED} versions")
            _, _, _, name, aux_next = unpack(image, aux, cursor, "version need entry")
            version = _glibc_version(c_string(image, strings.offset + name, "version name", 64))
            if version is not None and (newest is None or version > newest):
                newest = version
            if aux_next == 0:
                break
            cursor += aux_next
        if next_at == 0:
            break
        at += next_at
    return newest


def _glibc_version(name: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", name)
    return None if match is None else (int(match.group(1)), int(match.group(2)))
