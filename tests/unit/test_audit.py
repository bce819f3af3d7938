"""The binary audit: parsers on real bytes, cuobjdump as the oracle, hostile files, and its findings.

Real bytes only: CUDA objects built here by nvcc (tests/fixtures/binaries/cuda/build.sh), recorded slices
of real wheels' binaries (tests/binary_slices.py), and truncations and corruptions of those. GPUs are
recorded machines (tests/machines, tests/fixtures/binaries/gpus); nothing here ran on a GPU.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from aidoctor.doctor.audit.binary import BinaryFacts, Format, parse_binary
from aidoctor.doctor.audit.cuda import Variant
from aidoctor.doctor.audit.files import CACHE_NAME, FileAudit, audit_environment, parse_record
from aidoctor.doctor.audit.image import Malformed
from aidoctor.doctor.audit.judge import audit_findings
from aidoctor.doctor.check.engine import load_facts_file
from aidoctor.doctor.probes.collect import Options, collect
from aidoctor.doctor.check.profiles import load as load_profile
from aidoctor.doctor.dsl.rules import Status
from aidoctor.doctor.core.system import ReplaySystem

from .binary_slices import BINARIES, parse_recorded

CUDA = BINARIES / "cuda"
MACHINES = Path(__file__).parents[1] / "machines"

# What cuobjdump --list-elf --list-ptx lists for each object (SOURCE.md), in the audit's spelling
COMPILED = {
    "sm80.so": {"sm_80"},
    "sm90a.so": {"sm_90a"},
    "ptx120.so": {"compute_120"},
    "several.so": {"sm_75", "sm_86", "sm_100f", "compute_90", "compute_120a"},
    "aarch64/sm80.so": {"sm_80"},
}


def parse_file(path: Path, **options) -> BinaryFacts:
    return parse_binary(path.read_bytes(), **options)


def recorded_machine(name: str):
    return collect(ReplaySystem(MACHINES / name), Options(python="python3", timeout=1.0, budget=5.0))


def gpu_machine(name: str):
    return load_facts_file(BINARIES / "gpus" / f"{name}.json")[0]


# -- parsers on real bytes --


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_compiled_objects(name):
    facts = parse_file(CUDA / name)
    assert facts.format is Format.ELF and facts.cpus == ("aarch64" if name.startswith("aarch64/") else "x86_64",)
    assert ("libcudart.so.13" in facts.needed) is not name.startswith("aarch64/")  # -cudart shared / none
    assert {code.name for code in facts.device_code} == COMPILED[name]


def test_variants_and_ptx_isa():
    codes = {code.name: code for code in parse_file(CUDA / "several.so").device_code}
    assert codes["sm_100f"].variant is Variant.FAMILY and not codes["sm_100f"].ptx
    assert codes["compute_120a"].variant is Variant.ARCH and codes["compute_120a"].ptx
    assert codes["compute_90"].ptx_isa == (9, 0)  # nvcc 13.0 writes PTX ISA 9.0
    assert parse_file(CUDA / "sm90a.so").device_code[0].variant is Variant.ARCH


def _cuobjdump() -> str | None:
    found = shutil.which("cuobjdump")
    if found:
        return found
    for base in {sys.prefix, os.path.dirname(os.path.dirname(sys.executable))}:  # the nvidia-cuda-cuobjdump wheel
        for candidate in Path(base).glob("lib/python3*/site-packages/nvidia/cu*/bin/cuobjdump"):
            return str(candidate)
    return None


def test_bitsandbytes_aarch64_and_x86_64_wheels():
    arm = parse_recorded("bnb-aarch64-cuda130.slices.json")
    x86 = parse_recorded("bnb-x86_64-cuda130.slices.json")
    assert arm.cpus == ("aarch64",) and x86.cpus == ("x86_64",)
    assert "libcudart.so.13" in arm.needed and "libcublasLt.so.13" in x86.needed
    # cuobjdump --list-elf on the full files (SOURCE.md); PTX only in the relocatable fatbin, which is not loaded
    assert {c.name for c in arm.device_code} == {"sm_75", "sm_80", "sm_90", "sm_100", "sm_110", "sm_120", "sm_121"}
    assert {c.name for c in x86.device_code} == {"sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120"}
    assert arm.glibc == (2, 17)


def test_macos_arm64_dylib():
    facts = parse_recorded("bnb-macos-arm64-cpu.slices.json")
    assert facts.format is Format.MACHO and facts.cpus == ("aarch64",)
    assert dict(facts.macos) == {"aarch64": (14, 0, 0)}  # the wheel is tagged macosx_14_0_arm64


def test_torch_cuda_libtorch_against_recorded_gpus():
    """PyPI's torch 2.14.1 x86_64 libtorch_cuda.so (cuobjdump: sm_75 80 86 90 100 120 cubins plus a few sm_89,
    sm_90a, sm_100a, sm_103[f], sm_120a, sm_121a ones, no PTX): what the removed 'no kernels' rule tabulated."""
    facts = parse_recorded("torch-2.14.1-cuda-libtorch_cuda.slices.json")
    assert {c.name for c in facts.device_code} == {"sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_90a", "sm_100",
                                                   "sm_100a", "sm_103f", "sm_120", "sm_120a", "sm_121a"}
    assert "libcudart.so.13" in facts.needed and facts.cpus == ("x86_64",)
    for name in ("rtx-2080-super", "rtx-3090", "h100-x86", "rtx-5090"):
        assert _findings(facts, _machine(name), "torch/lib/libtorch_cuda.so") == [], name
    v100 = gpu_machine("tesla-v100")  # CC 7.0, driver 418.67 (CUDA 10.1)
    reasons = {f.msg for f in _findings(facts, v100, "torch/lib/libtorch_cuda.so")}
    assert ("torch/lib/libtorch_cuda.so: links the CUDA 13 runtime (libcudart.so.13); the driver supports CUDA 10.1 "
            "and refuses a newer major") in reasons
    assert any("no SASS that runs on sm_70" in r for r in reasons)


def test_torch_macos_libtorch_needs_macos_14():
    """torch 2.12+ is built for macOS 14 (the rule that said so is now this finding, read from the dylib)."""
    facts = parse_recorded("torch-2.14.1-macos-arm64-libtorch_cpu.slices.json")
    assert facts.cpus == ("aarch64",) and dict(facts.macos) == {"aarch64": (14, 0, 0)}
    mac = load_profile("mac-studio-m4-max").machine
    [finding] = _findings(facts, replace(mac, macos="13.6"), "torch/lib/libtorch_cpu.dylib")
    assert finding.status is Status.UNSUPPORTED
    assert finding.msg == ("torch/lib/libtorch_cpu.dylib: needs macOS 14.0 (LC_BUILD_VERSION minos); this Mac runs "
                           "macOS 13.6")
    assert _findings(facts, mac) == []  # macOS 15.0
    assert _findings(facts, replace(mac, macos="14")) == []  # "14" is 14.0.0
    rosetta = replace(mac, python_translated=True)  # an x86_64 Python cannot load the arm64-only dylib
    assert "aarch64 code; this Python runs on x86_64" in _findings(facts, rosetta)[0].msg


def test_windows_pyd():
    facts = parse_recorded("psutil-7.2.2-win-amd64.slices.json")
    assert facts.format is Format.PE and facts.cpus == ("x86_64",)
    assert "a PE binary, which linux cannot load" in _findings(facts, recorded_machine("h100-x86"))[0].msg


class _Fat:
    """A universal (fat) Mach-O around one real thin image: a 4096-byte fat header, then the image."""

    def __init__(self, thin, cputype: int) -> None:
        self.thin = thin
        self.header = struct.pack(">IIiiIII", 0xCAFEBABE, 1, cputype, 0, 4096, len(thin), 14).ljust(4096, b"\0")

    def __len__(self) -> int:
        return 4096 + len(self.thin)

    def __getitem__(self, key: slice) -> bytes:
        if key.stop <= 4096:
            return self.header[key]
        return self.thin[key.start - 4096:key.stop - 4096]


def test_universal_macho_slices():
    from .binary_slices import load

    thin, _ = load("bnb-macos-arm64-cpu.slices.json")
    facts = parse_binary(_Fat(thin, 0x0100000C))
    assert facts.format is Format.MACHO and facts.cpus == ("aarch64",) and dict(facts.macos)["aarch64"] == (14, 0, 0)


def test_torch_cpu_libtorch():
    facts = parse_recorded("torch-2.13.0-cpu-libtorch_cpu.slices.json")
    assert facts.cpus == ("x86_64",) and facts.glibc == (2, 28)  # manylinux_2_28
    assert "libc10.so" in facts.needed and facts.device_code == ()


def test_triton_ptxas_versions():
    assert parse_recorded("triton-3.6.0-ptxas.slices.json").ptxas == "12.8.93"
    assert parse_recorded("triton-3.6.0-ptxas-blackwell.slices.json").ptxas == "12.9.86"


def test_facts_round_trip_through_json():
    for name in COMPILED:
        facts = parse_file(CUDA / name)
        assert BinaryFacts.from_json(facts.to_json()) == facts
    facts = parse_recorded("bnb-macos-arm64-cpu.slices.json")
    assert BinaryFacts.from_json(facts.to_json()) == facts


# -- hostile input: a one-line reason, never a crash or a hang --


def _elf() -> bytearray:
    return bytearray((CUDA / "sm80.so").read_bytes())


def _malformed(data: bytes | bytearray) -> str:
    with pytest.raises(Malformed) as caught:
        parse_binary(bytes(data))
    reason = str(caught.value)
    assert reason and "\n" not in reason
    return reason


def test_every_truncation_of_a_real_object_is_a_reason_or_facts():
    data = bytes(_elf())
    for end in range(0, len(data), 61):
        try:
            parse_binary(data[:end])
        except Malformed as exc:
            assert "\n" not in str(exc)


def test_huge_section_count():
    data = _elf()
    struct.pack_into("<H", data, 0x3C, 0xFFFF)
    assert "sections" in _malformed(data)


def test_section_headers_past_the_end():
    data = _elf()
    struct.pack_into("<Q", data, 0x28, len(data) + 4096)
    assert "past the end" in _malformed(data)


def _fatbin_offset(data: bytes) -> int:
    return data.index(struct.pack("<I", 0xBA55ED50))


def test_fatbin_lying_about_its_size():
    data = _elf()
    at = _fatbin_offset(data)
    struct.pack_into("<Q", data, at + 8, 1 << 40)
    assert "claims" in _malformed(data)
    data = _elf()
    struct.pack_into("<Q", data, at + 16 + 8, 1 << 40)  # the first entry's payload size
    assert "claims" in _malformed(data)


def test_macho_with_lies():
    head = struct.pack("<IiiIIII", 0xFEEDFACF, 0x0100000C, 0, 6, 5000, 1 << 30, 0) + b"\0" * 4
    assert "load commands" in _malformed(head)
    fat = struct.pack(">II", 0xCAFEBABE, 1000)
    assert "slices" in _malformed(fat)
    fat = struct.pack(">IIiiIII", 0xCAFEBABE, 1, 0x0100000C, 0, 4096, 1 << 20, 14)
    assert "past the end" in _malformed(fat)


def test_not_a_binary_at_all():
    assert "not an ELF, Mach-O or PE" in _malformed(b"INPUT(-lfoo)\n")


def _site(tmp_path: Path, files: dict[str, bytes | None], dist: str = "demo", version: str = "1.0") -> Path:
    site = tmp_path / "site-packages"
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    record = [f"{path},sha256=x,1" for path in files] + [f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")
    for path, content in files.items():
        if content is not None:
            (site / path).parent.mkdir(parents=True, exist_ok=True)
            (site / path).write_bytes(content)
    return site


def test_walk_names_each_bad_file_with_one_reason(tmp_path):
    good = (CUDA / "sm80.so").read_bytes()
    site = _site(tmp_path, {"demo/good.so": good, "demo/missing.so": None, "demo/cut.so": good[:700],
                            "demo/loop.so": None, "demo/folder.so": None, "demo/empty.so": b"",
                            "demo/script.so": b"/* GNU ld script */ INPUT(libdemo.so.1)\n",
                            "demo/__init__.py": b""})
    os.symlink("loop.so", site / "demo" / "loop.so")  # a link to itself
    (site / "demo" / "folder.so").mkdir()
    audits = {a.path: a for a in audit_environment([str(site)], ["demo"], tmp_path / "cache")}
    assert set(audits) == {"demo/good.so", "demo/missing.so", "demo/cut.so", "demo/loop.so", "demo/folder.so",
                           "demo/empty.so", "demo/script.so"}
    assert audits["demo/good.so"].facts is not None
    assert "missing" in audits["demo/missing.so"].reason
    assert "truncated" in audits["demo/cut.so"].reason
    assert "symbolic links" in audits["demo/loop.so"].reason
    assert audits["demo/folder.so"].reason == "not a regular file"
    assert audits["demo/empty.so"].reason == "empty file"
    assert audits["demo/script.so"].facts is None and audits["demo/script.so"].reason is None
    for audit in audits.values():
        assert audit.reason is None or "\n" not in audit.reason
    findings = audit_findings(audits.values(), gpu_machine("rtx-3090"), "pip install demo")
    unknown = [f.msg for f in findings if f.status is Status.UNKNOWN]
    assert any(m.startswith("demo/cut.so: cannot be audited: truncated") for m in unknown)


def test_record_is_read_as_csv():
    assert parse_record('"a,b.so",sha256=x,1\nplain.so,,\n\n') == ["a,b.so", "plain.so"]


def test_cache_by_path_size_and_mtime(tmp_path):
    site = _site(tmp_path, {"demo/k.so": (CUDA / "sm80.so").read_bytes()})
    cache = tmp_path / "cache"
    first = audit_environment([str(site)], ["demo"], cache)
    assert (cache / CACHE_NAME).is_file()
    target = site / "demo" / "k.so"
    # Same size and mtime: the cached answer is used even though the bytes changed (what the key promises) ...
    stat = target.stat()
    target.write_bytes((CUDA / "sm90a.so").read_bytes())
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert audit_environment([str(site)], ["demo"], cache) == first
    # ... and a new mtime parses the file again.
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    again = audit_environment([str(site)], ["demo"], cache)
    assert {c.name for c in again[0].facts.device_code} == {"sm_90a"}


# -- judgements --


def _findings(facts: BinaryFacts, machine, path: str = "ext/k.so"):
    return audit_findings([FileAudit("ext", path, facts)], machine, "pip install ext")


def _status(facts: BinaryFacts, machine) -> Status:
    findings = _findings(facts, machine)
    return max((f.status for f in findings), key=lambda s: s.rank, default=Status.OK)


SM80_OUTCOMES = {  # an extension with sm_80 SASS only
    "rtx-2080-super": Status.UNSUPPORTED,  # 7.5 < 8.0
    "rtx-3090": Status.OK,  # 8.6 runs 8.0 SASS
    "h100-x86": Status.UNSUPPORTED,  # another major, no PTX
    "rtx-5090": Status.UNSUPPORTED,
    "gb10": Status.UNSUPPORTED,
    "jetson-orin-jp6": Status.CAVEATS,  # 8.7: sm_80 SASS on Orin is disputed (compat-facts §9)
}


def _machine(name: str):
    return recorded_machine(name) if (MACHINES / name).is_dir() else gpu_machine(name)


@pytest.mark.parametrize("name", sorted(SM80_OUTCOMES))
def test_sm80_only_extension_on_recorded_gpus(name):
    machine = _machine(name)
    facts = parse_file(CUDA / "sm80.so")
    arm = CUDA / "aarch64" / "sm80.so"
    if machine.arch == "aarch64":
        if not arm.is_file():
            pytest.skip("no aarch64 build of the sm_80 object (build.sh needs aarch64-linux-gnu-g++)")
        facts = parse_file(arm)
    findings = _findings(facts, machine)
    assert _status(facts, machine) is SM80_OUTCOMES[name], [f.msg for f in findings]
    if SM80_OUTCOMES[name] is Status.UNSUPPORTED:
        assert any("no SASS that runs on sm_" in f.msg and f.msg.startswith("ext/k.so") for f in findings)


def test_ptx_jits_forward_when_the_driver_is_new_enough():
    several = parse_file(CUDA / "several.so")
    assert _status(several, recorded_machine("h100-x86")) is Status.OK  # compute_90 PTX, ISA 9.0, driver 13.1
    assert _status(several, _machine("rtx-2080-super")) is Status.OK  # sm_75 SASS
    assert _status(several, _machine("rtx-3090")) is Status.OK  # sm_86 SASS
    ptx = parse_file(CUDA / "ptx120.so")
    assert _status(ptx, _machine("rtx-5090")) is Status.OK
    old_driver = replace(_machine("rtx-5090"), cuda_driver="12.8")
    findings = _findings(ptx, old_driver)
    assert any(f.status is Status.UNSUPPORTED and "CUDA 13" in f.msg for f in findings)  # also libcudart.so.13
    assert any("PTX needs CUDA 13.0 to JIT" in f.msg for f in findings)
    assert _status(ptx, replace(_machine("rtx-5090"), cuda_driver=None)) is Status.UNKNOWN


def test_arch_specific_code_runs_on_that_arch_only():
    sm90a = parse_file(CUDA / "sm90a.so")
    assert _status(sm90a, recorded_machine("h100-x86")) is Status.OK
    assert _status(sm90a, _machine("rtx-5090")) is Status.UNSUPPORTED
    # compute_120a PTX is for 12.0 alone; several.so's compute_90 PTX still JITs for 12.0
    several = parse_file(CUDA / "several.so")
    no_portable_ptx = replace(several, device_code=tuple(c for c in several.device_code if c.name != "compute_90"))
    assert _status(no_portable_ptx, _machine("rtx-5090")) is Status.OK
    gb10_like = replace(_machine("rtx-5090"), gpus=recorded_machine("gb10").gpus)  # 12.1 on an x86 host
    assert _status(no_portable_ptx, gb10_like) is Status.UNSUPPORTED


def test_cuda_runtime_newer_than_the_driver():
    machine = replace(_machine("rtx-3090"), cuda_driver="12.4")
    findings = _findings(parse_file(CUDA / "sm80.so"), machine)
    assert any(f.status is Status.UNSUPPORTED and "libcudart.so.13" in f.msg for f in findings)


def test_a_cuda13_build_on_the_recorded_gh200_with_driver_550():
    """A real CUDA 13 aarch64 library (bitsandbytes' cuda130) on GH200's driver 550 (CUDA 12.4): the runtime refuses."""
    from aidoctor.doctor.check.verdicts import evaluate
    from aidoctor.recipes import all_tools

    gh200 = replace(recorded_machine("gh200"), packages={"bitsandbytes": "0.50.2"})
    assert gh200.cuda_driver == "12.4"
    bnb = FileAudit("bitsandbytes", "bitsandbytes/libbitsandbytes_cuda130.so",
                    parse_recorded("bnb-aarch64-cuda130.slices.json"))
    findings = audit_findings([bnb], gh200, "pip install bitsandbytes")
    verdict = evaluate(all_tools()["bitsandbytes"], gh200, audit=findings)
    assert verdict.status is Status.UNSUPPORTED
    assert ("bitsandbytes/libbitsandbytes_cuda130.so: links the CUDA 13 runtime (libcudart.so.13); the driver "
            "supports CUDA 12.4 and refuses a newer major") in verdict.reasons
    assert "https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html" in verdict.sources


def test_foreign_cpu_and_newer_glibc_and_macos():
    h100 = recorded_machine("h100-x86")
    arm = parse_recorded("bnb-aarch64-cuda130.slices.json")
    [finding] = _findings(arm, h100, "bitsandbytes/libbitsandbytes_cuda130.so")
    assert finding.status is Status.UNSUPPORTED
    assert finding.msg == ("bitsandbytes/libbitsandbytes_cuda130.so: aarch64 code; this Python runs on x86_64 "
                           "and cannot load it")
    torch = parse_recorded("torch-2.13.0-cpu-libtorch_cpu.slices.json")
    old = replace(h100, glibc="2.27")
    assert any("needs glibc 2.28" in f.msg for f in _findings(torch, old))
    assert _status(torch, replace(h100, glibc="2.28")) is Status.OK
    dylib = parse_recorded("bnb-macos-arm64-cpu.slices.json")
    mac = load_profile("mac-studio-m4-max").machine
    assert _status(dylib, replace(mac, macos="14.1")) is Status.OK
    [finding] = _findings(dylib, replace(mac, macos="13.6"))
    assert finding.status is Status.UNSUPPORTED and "needs macOS 14.0" in finding.msg
    assert _status(dylib, h100) is Status.UNSUPPORTED  # a Mach-O file on Linux


def test_triton_ptxas_against_the_gpu():
    old = FileAudit("triton", "triton/backends/nvidia/bin/ptxas", parse_recorded("triton-3.6.0-ptxas.slices.json"))
    new = FileAudit("triton", "triton/backends/nvidia/bin/ptxas-blackwell",
                    parse_recorded("triton-3.6.0-ptxas-blackwell.slices.json"))
    gb10, thor = recorded_machine("gb10"), recorded_machine("jetson-thor")
    # triton 3.5's lone 12.8 ptxas fails on GB10; 3.6's 12.9 one fixes GB10, not Thor (compat-facts §9).
    # These ptxas are x86_64 executables (the wheel recorded here), so on these aarch64 machines the CPU
    # finding comes too; the ptxas judgement is the one about the version.
    def about_ptxas(files, machine):
        findings = audit_findings(files, machine, "pip install triton")
        assert any("x86_64 code; this Python runs on aarch64" in f.msg for f in findings)
        return [f for f in findings if "predates" in f.msg]

    assert gb10.cuda_toolkit == "13.0"  # its own ptxas knows sm_121: Triton can be pointed at it
    [finding] = about_ptxas([old], gb10)
    assert finding.status is Status.CAVEATS and "12.8.93, predates sm_121" in finding.msg
    assert finding.fix == "export TRITON_PTXAS_PATH=/usr/local/cuda/bin/ptxas"
    [finding] = about_ptxas([old], replace(gb10, cuda_toolkit=None))
    assert finding.status is Status.UNSUPPORTED and "no CUDA toolkit >= 12.9 here" in finding.msg
    assert about_ptxas([old, new], gb10) == []
    [finding] = about_ptxas([old, new], replace(thor, cuda_toolkit=None))
    assert finding.status is Status.UNSUPPORTED
    assert "12.9.86, predates sm_110" in finding.msg and finding.msg.startswith("triton/backends/nvidia/bin/ptxas-")


def test_alternatives_count_as_one():
    """bitsandbytes ships a library per CUDA release and loads one: one that works is enough."""
    sm80, several = parse_file(CUDA / "sm80.so"), parse_file(CUDA / "several.so")
    h100 = recorded_machine("h100-x86")
    both = [FileAudit("bnb", "bnb/lib_cuda118.so", sm80), FileAudit("bnb", "bnb/lib_cuda130.so", several)]
    assert audit_findings(both, h100, "x") == []
    [finding] = audit_findings([both[0], FileAudit("bnb", "bnb/lib_cuda121.so", sm80)], h100, "x")
    assert finding.msg.startswith("bnb/lib_cuda118.so (and 1 more file): has CUDA code for sm_80 only")


# -- end to end through `aidoctor check` --


def _venv(tmp_path: Path) -> tuple[Path, Path]:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    return venv / "bin" / "python", site


def _install_unpacked(site: Path, dist: str, version: str, files: dict[str, bytes]) -> None:
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "RECORD").write_text("".join(f"{p},,\n" for p in files) + f"{info.name}/RECORD,,\n")
    for path, content in files.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(content)


