"""Generic findings from the audited binaries: the same judgement for every tool, named by file.

- code for another CPU (or another OS's binary format): unsupported;
- a newer glibc, or a newer macOS, than the machine has: unsupported;
- CUDA device code with no SASS this GPU runs and no PTX its driver can JIT
  ("no kernel image is available"): unsupported; only a lower minor's SASS on
  Orin's sm_87, whose compatibility is disputed: caveats;
- a CUDA runtime (DT_NEEDED libcudart.so.N) newer than the driver supports: unsupported;
- a ptxas older than the first CUDA release that targets this GPU (of the ptxas
  a distribution bundles, the newest): caveats where this machine's CUDA toolkit
  is new enough to stand in (TRITON_PTXAS_PATH), else unsupported.

A file that could not be read is `unknown`, with its reason. Findings of one
kind in one distribution are merged into one, naming the first file and how
many more there are: torch has dozens of libraries with the same device code.

Some distributions ship alternatives and load one: bitsandbytes has a
libbitsandbytes_cudaNNN.so per CUDA release and picks the one for torch's CUDA.
Files whose names differ only in digits, in one folder, are taken as such
alternatives: they count as broken only when every one of them is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from ..core.facts import Machine, parse_version
from ..dsl.rules import Finding, Status
from .binary import BinaryFacts, Format
from .cuda import DeviceCode, Variant, ptx_isa_cuda
from .files import FileAudit

SRC_TAGS = "https://packaging.python.org/en/latest/specifications/platform-compatibility-tags/"
SRC_MANYLINUX = "https://peps.python.org/pep-0600/"
SRC_MACHO = "https://developer.apple.com/documentation/xcode/building-a-universal-macos-binary"
SRC_CUDA_COMPAT = "https://docs.nvidia.com/cuda/blackwell-compatibility-guide/"
SRC_DRIVER = "https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html"
SRC_PTXAS = "https://github.com/triton-lang/triton/issues/8539"  # ptxas 12.8: "Value 'sm_121a' is not defined"
SRC_SM87 = "https://github.com/jax-ml/jax/pull/40492"

# The first CUDA release whose compilers target each compute capability (developer.nvidia.com/cuda-gpus,
# the CUDA features archive; Thor was sm_101 in 12.8/12.9 and is sm_110 from 13.0).
FIRST_CUDA = {(7, 5): (10, 0), (8, 0): (11, 0), (8, 6): (11, 1), (8, 7): (11, 4), (8, 9): (11, 8), (9, 0): (11, 8),
              (10, 0): (12, 8), (10, 3): (12, 9), (11, 0): (13, 0), (12, 0): (12, 8), (12, 1): (12, 9)}
# Tegra GPUs whose SASS compatibility with the same major's lower minors is disputed (compat-facts §9).
DISPUTED_SASS = {(8, 7)}
_ALTERNATIVE = re.compile(r"\d+(?=[^/]*$)")  # digits in the file name, not in its folder
NATIVE_FORMAT = {"linux": Format.ELF, "darwin": Format.MACHO, "windows": Format.PE}


@dataclass(frozen=True)
class _Issue:
    key: tuple  # what makes two files' issues the same issue
    status: Status
    what: str  # the finding, after "<file>: "
    fix: str | None
    source: str


def audit_findings(audits: Iterable[FileAudit], machine: Machine, reinstall: str) -> list[Finding]:
    """The findings for one distribution's audited files; `reinstall` is the command that gets a fitting build."""
    audits = list(audits)
    issues = {audit.path: _file_issues(audit, machine, reinstall) for audit in audits}
    families: dict[str, list[str]] = {}
    for audit in audits:
        families.setdefault(_ALTERNATIVE.sub("N", audit.path), []).append(audit.path)
    for members in families.values():
        if len(members) > 1 and any(not issues[path] for path in members):
            for path in members:
                issues[path] = []  # one alternative that works is the one that gets loaded
    grouped: dict[tuple, tuple[_Issue, list[str]]] = {}
    for audit in audits:
        for issue in issues[audit.path]:
            grouped.setdefault(issue.key, (issue, []))[1].append(audit.path)
    # triton bundles more than one ptxas and picks by GPU: the newest decides
    ptxases = [a for a in audits if a.facts is not None and _pair(a.facts.ptxas) is not None]
    if ptxases:
        newest = max(ptxases, key=lambda a: _pair(a.facts.ptxas))  # type: ignore[union-attr]
        for issue in _ptxas(newest.facts, machine):  # type: ignore[arg-type]
            grouped[issue.key] = (issue, [newest.path])
    findings = []
    for issue, paths in grouped.values():
        more = f" (and {len(paths) - 1} more file{'s' if len(paths) > 2 else ''})" if len(paths) > 1 else ""
        findings.append(Finding(issue.status, f"{paths[0]}{more}: {issue.what}", issue.fix, issue.source))
    return findings


def _file_issues(audit: FileAudit, machine: Machine, reinstall: str) -> list[_Issue]:
    if audit.facts is None:
        if audit.reason is None:
            return []
        return [_Issue(("unreadable", audit.path), Status.UNKNOWN, f"cannot be audited: {audit.reason}",
                       reinstall, SRC_TAGS)]
    facts = audit.facts
    issues = [*_cpu(facts, machine, reinstall), *_glibc(facts, machine, reinstall), *_macos(facts, machine, reinstall)]
    if not any(i.status is Status.UNSUPPORTED for i in issues):  # code that cannot load has no GPU questions
        issues += _cudart(facts, machine, reinstall)
        issues += _device_code(facts, machine, reinstall)
    return issues


def _python_arch(machine: Machine) -> str | None:
    machine_name = machine.python_machine()
    return {"arm64": "aarch64"}.get(machine_name, machine_name) if machine_name else None


def _cpu(facts: BinaryFacts, machine: Machine, reinstall: str) -> list[_Issue]:
    native = NATIVE_FORMAT.get(machine.os or "")
    if native is not None and facts.format is not native:
        return [_Issue(("format", facts.format), Status.UNSUPPORTED,
                       f"a {facts.format.value.upper()} binary, which {machine.os} cannot load", reinstall, SRC_TAGS)]
    arch = _python_arch(machine)
    if arch is None or arch in facts.cpus:
        return []
    return [_Issue(("cpu", facts.cpus), Status.UNSUPPORTED,
                   f"{'/'.join(facts.cpus)} code; this Python runs on {arch} and cannot load it", reinstall, SRC_TAGS)]


def _glibc(facts: BinaryFacts, machine: Machine, reinstall: str) -> list[_Issue]:
    have = _pair(machine.glibc)
    if facts.glibc is None or have is None or machine.os != "linux" or facts.glibc <= have:
        return []
    need = "%d.%d" % facts.glibc
    return [_Issue(("glibc", facts.glibc), Status.UNSUPPORTED,
                   f"needs glibc {need} (GLIBC_{need} symbols); this system has glibc {machine.glibc}",
                   f"{reinstall}  # a build for glibc {machine.glibc}, or upgrade the OS", SRC_MANYLINUX)]


def _macos(facts: BinaryFacts, machine: Machine, reinstall: str) -> list[_Issue]:
    have = parse_version(machine.macos)
    arch = _python_arch(machine)
    minos = dict(facts.macos).get(arch) if arch else None
    if have is None or minos is None or machine.os != "darwin" or (*have.release, 0, 0)[:3] >= minos:
        return []
    need = ".".join(map(str, minos[:2] if minos[2] == 0 else minos))
    return [_Issue(("macos", minos), Status.UNSUPPORTED,
                   f"needs macOS {need} (LC_BUILD_VERSION minos); this Mac runs macOS {machine.macos}",
                   f"{reinstall}  # a build for macOS {machine.macos}, or upgrade macOS", SRC_MACHO)]


def _cudart(facts: BinaryFacts, machine: Machine, reinstall: str) -> list[_Issue]:
    driver = _pair(machine.cuda_driver)
    if driver is None:
        return []
    for name in facts.needed:
        if name.startswith("libcudart.so."):
            major = name.removeprefix("libcudart.so.").split(".")[0]
            if major.isdigit() and int(major) > driver[0]:
                return [_Issue(("cudart", major), Status.UNSUPPORTED,
                               f"links the CUDA {major} runtime ({name}); the driver supports CUDA "
                               f"{machine.cuda_driver} and refuses a newer major",
                               f"install an NVIDIA driver that supports CUDA {major} (CUDA 13: >= 580, 12: >= 525), "
                               f"or a build for CUDA {driver[0]}", SRC_DRIVER)]
    return []


def runs_sass(code: DeviceCode, cc: tuple[int, int]) -> bool:
    """Whether a cubin runs on a GPU: same major, and this minor (arch-specific) or a newer one."""
    if code.variant is Variant.ARCH:
        return code.cc == cc
    return code.cc[0] == cc[0] and code.cc[1] <= cc[1]


def jits_ptx(code: DeviceCode, cc: tuple[int, int]) -> bool:
    """Whether the driver may JIT PTX for this GPU (its ISA version aside)."""
    if code.variant is Variant.ARCH:
        return code.cc == cc
    if code.variant is Variant.FAMILY:
        return code.cc[0] == cc[0] and code.cc[1] <= cc[1]
    return code.cc <= cc


def _device_code(facts: BinaryFacts, machine: Machine, reinstall: str) -> list[_Issue]:
    codes = facts.device_code
    ccs = machine.gpu_ccs()
    if not codes or not ccs:
        return []
    issues = []
    driver = _pair(machine.cuda_driver)
    have = ", ".join(sorted({c.name for c in codes}))
    for cc in dict.fromkeys(ccs):
        sm = f"sm_{cc[0]}{cc[1]}"
        sass = [c for c in codes if not c.ptx and runs_sass(c, cc)]
        if any(c.cc == cc for c in sass) or (sass and cc not in DISPUTED_SASS):
            continue
        ptx = [c for c in codes if c.ptx and jits_ptx(c, cc)]
        needed = [ptx_isa_cuda(c.ptx_isa) if c.ptx_isa else None for c in ptx]
        jit_ok = [n is not None and driver is not None and n <= driver for n in needed]
        if any(jit_ok):
            continue
        if sass:  # only a lower minor's SASS on a Tegra GPU
            issues.append(_Issue(("disputed", cc), Status.CAVEATS,
                                 f"has {have} but no {sm} code: whether {sass[0].name} SASS runs on {sm} is disputed "
                                 "(NVIDIA treats the Tegra GPU as its own target)",
                                 f"{reinstall}  # a build with {sm} kernels, or build it here", SRC_SM87))
        elif ptx and driver is None:
            issues.append(_Issue(("ptx-driver", cc), Status.UNKNOWN,
                                 f"has no {sm} SASS, only PTX ({', '.join(c.name for c in ptx)}), and the driver's "
                                 "CUDA version, which decides whether it can JIT it, is unknown", None, SRC_DRIVER))
        elif ptx:
            newest = max((n for n in needed if n is not None), default=None)
            what = f"CUDA {newest[0]}.{newest[1]}" if newest else "a newer CUDA"
            issues.append(_Issue(("ptx-old-driver", cc), Status.UNSUPPORTED,
                                 f"has no {sm} SASS and its PTX needs {what} to JIT; the driver supports CUDA "
                                 f"{machine.cuda_driver}", "update the NVIDIA driver, or " + reinstall, SRC_DRIVER))
        else:
            issues.append(_Issue(("no-kernel", cc), Status.UNSUPPORTED,
                                 f"has CUDA code for {have} only: no SASS that runs on {sm} and no PTX to JIT for it "
                                 "(\"no kernel image is available for execution on the device\")",
                                 f"{reinstall}  # a build with {sm} kernels, or build it here for this GPU",
                                 SRC_CUDA_COMPAT))
    return issues


def _ptxas(facts: BinaryFacts, machine: Machine) -> list[_Issue]:
    """A ptxas older than the GPU cannot compile for it; a new enough CUDA toolkit's ptxas can stand in."""
    version = _pair(facts.ptxas)
    ccs = machine.gpu_ccs()
    if version is None or not ccs:
        return []
    issues = []
    toolkit = _pair(machine.cuda_toolkit)
    for cc in dict.fromkeys(ccs):
        first = FIRST_CUDA.get(cc)
        if first is None or version >= first:
            continue
        sm, need = f"sm_{cc[0]}{cc[1]}", f"{first[0]}.{first[1]}"
        what = f"the newest bundled ptxas, {facts.ptxas}, predates {sm} (first targeted by CUDA {need})"
        if toolkit is not None and toolkit >= first:
            issues.append(_Issue(("ptxas", cc), Status.CAVEATS,
                                 f"{what}: kernels fail to compile unless Triton uses this machine's CUDA "
                                 f"{machine.cuda_toolkit} ptxas",
                                 f"export TRITON_PTXAS_PATH={machine.cuda_home or '/usr/local/cuda'}/bin/ptxas",
                                 SRC_PTXAS))
        else:
            issues.append(_Issue(("ptxas", cc), Status.UNSUPPORTED,
                                 f"{what}, and there is no CUDA toolkit >= {need} here whose ptxas could replace it: "
                                 "kernels fail to compile",
                                 f"pip install -U triton  # a release bundling a newer ptxas; or install CUDA >= "
                                 f"{need} and export TRITON_PTXAS_PATH=/usr/local/cuda/bin/ptxas", SRC_PTXAS))
    return issues


def _pair(text: str | None) -> tuple[int, int] | None:
    version = parse_version(text)
    if version is None:
        return None
    release = (*version.release, 0)
    return release[0], release[1]
