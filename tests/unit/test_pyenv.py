"""The target-Python probe: its report parser, the script it runs, and real interpreters.

The arch-list scanner runs on verbatim excerpts of libtorch_python.so from PyPI
torch wheels (tests/fixtures/torch/README.md names each wheel and offset). The
real-venv tests are in tests/integration/test_pyenv_live.py, with torch as pip
picks it on the machine (tests/torch_provider.py).
"""

from __future__ import annotations

import ast
import json
import os
import sys
import time
from pathlib import Path

import pytest

from aidoctor.doctor.core.facts import FactState, TorchBuild
from aidoctor.doctor.probes import pyenv
from aidoctor.doctor.probes.collect import OWNED

FIXTURES = Path(__file__).parents[1] / "fixtures" / "torch"

# What each excerpt holds, as read with `grep -a` from the whole library (README.md).
ARCH_LISTS = {
    "2.15.0-cu132-x86_64": ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"),
    "2.15.0-cu132-aarch64": ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120"),
    "2.14.0-cu130-x86_64": ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"),
    "2.14.0-cu130-aarch64": ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120"),
    "2.10.0-cu128-x86_64": ("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"),
    "2.9.1-cu128-x86_64": ("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"),
    "2.7.0-cu126-x86_64": ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"),
    "1.13.1-cu117-x86_64": ("sm_37", "sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86"),
}
VERSIONS = {  # torch/version.py: (__version__, cuda, git_version prefix)
    "2.15.0-cu132-x86_64": ("2.15.0+cu132", "13.2", "d0f2af8b"),
    "2.15.0-cu132-aarch64": ("2.15.0+cu132", "13.2", "d0f2af8b"),
    "2.14.0-cu130-x86_64": ("2.14.0+cu130", "13.0", "08187d9e"),
    "2.14.0-cu130-aarch64": ("2.14.0+cu130", "13.0", "08187d9e"),
    "2.10.0-cu128-x86_64": ("2.10.0+cu128", "12.8", "449b1768"),
    "2.9.1-cu128-x86_64": ("2.9.1+cu128", "12.8", "5811a8d7"),
    "2.7.0-cu126-x86_64": ("2.7.0+cu126", "12.6", "13417947"),
    "1.13.1-cu117-x86_64": ("1.13.1+cu117", "11.7", "49444c3e"),  # `cuda = '11.7'`, no annotation
    "2.13.0-cpu-x86_64": ("2.13.0+cpu", None, "cf30153c"),
}
DECOY = b"\x00sm_50 sm_52 sm_60 sm_61 sm_70 sm_72 sm_75 sm_80 sm_86 sm_87 sm_89 sm_90\x00"


@pytest.fixture(scope="module")
def script():
    """The functions of the script the target runs, without running it."""
    namespace = {"__name__": "aidoctor_test"}
    exec(compile(pyenv.SOURCE, "<aidoctor>", "exec"), namespace)
    return namespace


def excerpt(build: str) -> bytes:
    return (FIXTURES / f"{build}.libtorch_python.excerpt").read_bytes()


# ---------------------------------------------------------------- the script itself


def test_the_probe_owns_what_the_orchestrator_says():
    assert pyenv.FACTS == OWNED["python"]


def test_the_script_is_stdlib_only_ascii_and_python_3_8_syntax():
    tree = ast.parse(pyenv.SOURCE, feature_version=(3, 8))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
    assert "torch" not in imported
    assert pyenv.SCRIPT.isascii()
    ast.parse(pyenv.SCRIPT, feature_version=(3, 8))


@pytest.mark.parametrize("build", sorted(VERSIONS))
def test_version_py_of_real_wheels(script, build):
    text = (FIXTURES / f"{build}.version.txt").read_text()
    version, cuda, git = VERSIONS[build]
    assert script["assigned"](text, "__version__") == version
    assert script["assigned"](text, "cuda") == cuda
    assert script["assigned"](text, "git_version").startswith(git)
    assert script["assigned"](text, "hip") is None


def test_metadata_headers_stop_at_the_description(script):
    text = ("Metadata-Version: 2.4\nName: Unsloth_Zoo\nVersion: 2026.10.9\nLicense: line one\n"
            "        |  Requires-Dist: not-a-header\nrequires-dist: torch>=2.4\n"
            "Requires-Dist: triton; platform_system == \"Linux\"\n\n# Unsloth Zoo\nRequires-Dist: in-the-readme\n")
    assert script["headers"](text) == ("Unsloth_Zoo", "2026.10.9",
                                       ["torch>=2.4", 'triton; platform_system == "Linux"'])
    assert script["canonical"]("Unsloth_Zoo") == "unsloth-zoo"
    assert script["canonical"]("flash_attn_3") == "flash-attn-3"


# ---------------------------------------------------------------- the arch-list scanner


@pytest.mark.parametrize("build", sorted(ARCH_LISTS))
def test_arch_string_in_each_real_excerpt(script, build, tmp_path):
    data = excerpt(build)
    assert tuple(script["longest_arch_string"](data, [(0, len(data))]).decode().split()) == ARCH_LISTS[build]
    path = tmp_path / "libtorch_python.so"
    path.write_bytes(data)
    assert tuple(script["scan_arch_list"](str(path))) == ARCH_LISTS[build]


def test_the_string_need_not_follow_a_nul(script):
    # 2.9.1 keeps it right after another literal: "...std::string ipc_hsm_70 sm_75 ..."
    data = excerpt("2.9.1-cu128-x86_64")
    assert b"ipc_hsm_70 sm_75" in data
    assert script["longest_arch_string"](data, [(0, len(data))]).startswith(b"sm_70 ")


def test_a_big_file_that_is_not_elf_is_scanned_whole_through_mmap(script, tmp_path):
    junk = bytes(range(256)) * 16384  # 4 MiB with "sm_" nowhere in it
    path = tmp_path / "torch_python.dll"
    path.write_bytes(junk + b"sm_8\x00compute_\x00" + excerpt("2.15.0-cu132-aarch64") + junk)
    started = time.perf_counter()
    assert tuple(script["scan_arch_list"](str(path))) == ARCH_LISTS["2.15.0-cu132-aarch64"]
    assert time.perf_counter() - started < 0.5


def test_ptx_entries_and_arch_suffixes_are_kept(script, tmp_path):
    path = tmp_path / "lib.so"
    path.write_bytes(b"\x00\x01compute_87 sm_87 sm_90a sm_120f compute_120\x00\x00")
    assert script["scan_arch_list"](str(path)) == ["compute_87", "sm_87", "sm_90a", "sm_120f", "compute_120"]
    path.write_bytes(b"\x00sm_87\x00")  # a Jetson build for one GPU
    assert script["scan_arch_list"](str(path)) == ["sm_87"]
    path.write_bytes(b"\x00sm_count\x00compute_capability\x00sm_87 \x00")  # no arch string in here
    assert script["scan_arch_list"](str(path)) is None
    path.write_bytes(b"")  # mmap refuses empty files
    assert script["scan_arch_list"](str(path)) is None


def elf(before: bytes, rodata: bytes, bits: int, order: str) -> bytes:
    """A minimal ELF file: header, `before`, a .rodata section holding `rodata`, .shstrtab, section headers."""
    import struct

    names = b"\x00.rodata\x00.shstrtab\x00"
    header_size, entry_size = (64, 64) if bits == 64 else (52, 40)
    rodata_at = header_size + len(before)
    names_at = rodata_at + len(rodata)
    table_at = names_at + len(names)
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1 if order == "<" else 2, 1]) + bytes(9)
    word = "Q" if bits == 64 else "I"
    header = ident + struct.pack(f"{order}HHI{word}{word}{word}IHHHHHH", 3, 62, 1, 0, 0, table_at, 0,
                                 header_size, 0, 0, entry_size, 3, 2)

    def section(name: int, kind: int, offset: int, size: int) -> bytes:
        return struct.pack(f"{order}II{word}{word}{word}{word}II{word}{word}", name, kind, 0, 0, offset, size,
                           0, 0, 1, 0)

    table = section(0, 0, 0, 0) + section(1, 1, rodata_at, len(rodata)) + section(9, 3, names_at, len(names))
    return header + before + rodata + names + table


@pytest.mark.parametrize("bits, order", [(64, "<"), (32, ">")])
def test_in_an_elf_file_only_rodata_is_read(script, tmp_path, bits, order):
    real = excerpt("2.15.0-cu132-x86_64")
    path = tmp_path / "libtorch_python.so"
    before = DECOY + bytes(4096)  # a longer list, outside .rodata
    path.write_bytes(elf(before, real, bits, order))
    start = (64 if bits == 64 else 52) + len(before)
    assert script["rodata"](path.read_bytes()) == [(start, start + len(real))]
    assert tuple(script["scan_arch_list"](str(path))) == ARCH_LISTS["2.15.0-cu132-x86_64"]
    # Nothing in .rodata: the whole file is searched after all.
    path.write_bytes(elf(DECOY, bytes(64), bits, order))
    assert script["scan_arch_list"](str(path))[-1] == "sm_90"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs an ELF interpreter")
def test_rodata_of_a_real_elf_file(script):
    spans = script["rodata"](Path(os.path.realpath(sys.executable)).read_bytes())
    assert spans and all(start < end for start, end in spans)


# ---------------------------------------------------------------- parsing recorded reports

# Recorded on this host from a venv with the CPU torch wheel, transformers, trl
# and peft; packages and requires trimmed to a few entries.
LINUX_CPU_TORCH = (
    '{"python": "3.11.7", "implementation": "CPython", "executable": "/tmp/bigvenv/bin/python", '
    '"virtualenv": true, "machine": "x86_64", "platform": "linux", "glibc": "2.36", "translated": false, '
    '"packages": {"torch": "2.13.0+cpu", "transformers": "5.23.0", "trl": "1.16.0", "peft": "0.21.2", '
    '"huggingface-hub": "2.4.0"}, "requires": {"torch": ["filelock", "typing-extensions>=4.10.0", '
    '"setuptools>=77.0.3", "sympy>=1.13.3", "networkx>=2.5.1", "jinja2", "fsspec>=0.8.5", '
    '"optree>=0.13.0; extra == \\"optree\\"", "opt-einsum>=3.3; extra == \\"opt-einsum\\"", '
    '"pyyaml; extra == \\"pyyaml\\""]}, "torch": {"cuda": null, "hip": null, '
    '"git_version": "cf30153c4c131c8164ee7798e5022d810682e2cb", "version": "2.13.0+cpu", "arch_list": null}, '
    '"errors": {}}'
)
# Written by hand in the same shape: an x86_64 Python under Rosetta 2 (there is no Mac to record on),
# and an aarch64 CUDA build whose arch list came from its libtorch_python.so.
MAC_ROSETTA = (
    '{"python": "3.12.8", "implementation": "CPython", "executable": "/Users/alice/venv/bin/python", '
    '"virtualenv": true, "machine": "x86_64", "platform": "darwin", "glibc": null, "translated": true, '
    '"packages": {"mlx-lm": "0.32.2"}, "requires": {"mlx-lm": ["mlx>=0.32.4; platform_system == \\"Darwin\\""]}, '
    '"torch": null, "errors": {}}'
)
GH200_CUDA_TORCH = (
    '{"python": "3.12.3", "executable": "/home/bob/.venv/bin/python", "glibc": "2.39", "translated": false, '
    '"packages": {"torch": "2.15.0"}, "requires": {"torch": []}, "torch": {"version": "2.15.0+cu132", '
    '"cuda": "13.2", "hip": null, "git_version": "d0f2af8b66b20da4baa50644c0cd3f887a2eae2e", '
    '"arch_list": ["sm_80", "sm_90", "sm_100", "sm_110", "sm_120"]}, "errors": {}}'
)


def test_parse_a_recorded_linux_report():
    part = pyenv.parse_target_report(LINUX_CPU_TORCH)
    assert part.unknown == {"python_build": "the target Python did not report it"}  # recorded before that key
    assert part.facts["python"] == "3.11.7" and part.facts["glibc"] == "2.36"
    assert part.facts["python_translated"] is False
    assert part.facts["packages"]["torch"] == "2.13.0+cpu" and part.facts["packages"]["huggingface-hub"] == "2.4.0"
    assert part.facts["requires"]["torch"][0] == "filelock" and len(part.facts["requires"]["torch"]) == 10
    assert part.facts["torch_build"] == TorchBuild(version="2.13.0+cpu", cuda=None, arch_list=())  # CPU: none
    assert part.identifiers["target_python"]["executable"] == "/tmp/bigvenv/bin/python"
    assert part.identifiers["target_python"]["torch_git_version"].startswith("cf30153c")


def test_parse_a_mac_under_rosetta():
    part = pyenv.parse_target_report(MAC_ROSETTA)
    assert part.facts["python_translated"] is True
    assert part.facts["glibc"] is None and "glibc" not in part.unknown  # not applicable, not a failure
    assert "torch_build" not in part.facts and "torch_build" not in part.unknown  # torch is simply absent
    assert not any("alice" in reason for reason in part.unknown.values())


def test_parse_a_cuda_build():
    build = pyenv.parse_target_report(GH200_CUDA_TORCH).facts["torch_build"]
    assert build == TorchBuild(version="2.15.0+cu132", cuda="13.2",
                               arch_list=("sm_80", "sm_90", "sm_100", "sm_110", "sm_120"))
    rocm = json.loads(GH200_CUDA_TORCH)
    rocm["torch"].update(version="2.9.1+rocm6.4", cuda=None, hip="6.4.43484", arch_list=None)
    assert pyenv.parse_target_report(json.dumps(rocm)).facts["torch_build"].arch_list is None  # gfx targets: not read
    unread = json.loads(GH200_CUDA_TORCH)
    unread["torch"]["arch_list"] = None
    assert pyenv.parse_target_report(json.dumps(unread)).facts["torch_build"].arch_list is None


def test_parse_takes_the_last_json_line():
    part = pyenv.parse_target_report("sitecustomize: hello\n{not json either\n" + MAC_ROSETTA + "\n")
    assert part.facts["python"] == "3.12.8"


def test_parse_failures_of_parts_of_the_script():
    data = json.loads(LINUX_CPU_TORCH)
    data.update(packages=None, requires=None, torch=None, translated=None, glibc=None,
                errors={"packages": "PermissionError: [Errno 13]", "torch_build": "FileNotFoundError: version.py",
                        "glibc": "OSError: [Errno 22]"})
    part = pyenv.parse_target_report(json.dumps(data))
    assert part.facts["python"] == "3.11.7"
    assert part.unknown["packages"] == part.unknown["requires"] == (
        "the target Python could not tell: PermissionError: [Errno 13]")
    assert part.unknown["torch_build"] == "the target Python could not tell: FileNotFoundError: version.py"
    assert part.unknown["python_translated"] == "the target Python did not report it"
    assert part.unknown["glibc"] == "the target Python could not tell: OSError: [Errno 22]"
    assert pyenv.interpreter_error(part) is None


@pytest.mark.parametrize("text", ["", "hello\n", "[1, 2]\n", "-c import json, sys\n"])
def test_no_report_means_not_python(text):
    part = pyenv.parse_target_report(text)
    assert set(part.unknown) == set(pyenv.FACTS) and not part.facts
    assert pyenv.interpreter_error(part) == "not a Python interpreter (it printed no report)"
    assert set(part.states.values()) == {FactState.BAD_TARGET}


def test_an_old_python_is_named():
    part = pyenv.parse_target_report('{"python": "2.7.18", "too_old": true}\n')
    assert part.unknown["python"] == "unsupported Python 2.7.18; aidoctor inspects Python >= 3.8"
    assert pyenv.interpreter_error(part) == part.unknown["python"]
    assert part.state("python") is FactState.BAD_TARGET


# ---------------------------------------------------------------- real interpreters


# ---------------------------------------------------------------- the real CPU torch wheel




# ---------------------------------------------------------------- the C library and the Python build

LIBC = Path(__file__).parents[1] / "fixtures" / "libc"  # real bytes, SOURCE.md says where each came from

# Recorded on this host from a fresh venv (no pip) with the current script: the new keys.
LINUX_GLIBC_2026_12 = (
    '{"python": "3.11.7", "implementation": "cpython", "executable": "/tmp/index2/v/bin/python", '
    '"virtualenv": true, "machine": "x86_64", "platform": "linux", "path": [], "python_build": "default", '
    '"glibc": "2.36", "libc": "glibc", "musl": null, "translated": false, "packages": {}, "requires": {}, '
    '"torch": null, "errors": {}}'
)


def test_the_elf_interpreter_pip_reads_musl_from(script):
    assert script["elf_interpreter"]((LIBC / "musl-1.2.3-x86_64-dynamic.head").read_bytes()) == (
        "/lib/ld-musl-x86_64.so.1")
    assert script["elf_interpreter"]((LIBC / "glibc-2.36-x86_64-dynamic.head").read_bytes()) == (
        "/lib64/ld-linux-x86-64.so.2")


@pytest.mark.parametrize("name", ["armhf-static.elf", "s390x-static.elf"])  # ELF32 LE, ELF64 BE
def test_a_static_executable_names_no_interpreter(script, name):
    assert script["elf_interpreter"]((LIBC / name).read_bytes()) is None


def test_not_elf_names_no_interpreter(script):
    assert script["elf_interpreter"](b"#!/bin/sh\nexec python3 \"$@\"\n") is None


def test_musl_version_from_its_loaders_words(script):
    assert script["parse_musl_loader"]((LIBC / "musl-1.2.3-loader.stderr").read_text()) == "1.2.3"
    assert script["parse_musl_loader"]("musl libc (aarch64)\nVersion 1.2.5\nDynamic Program Loader\n") == "1.2.5"
    assert script["parse_musl_loader"]("ld.so: usage\n") is None  # not musl's loader


def test_parse_the_c_library_and_build():
    part = pyenv.parse_target_report(LINUX_GLIBC_2026_12)
    assert part.unknown == {}
    assert (part.facts["libc"], part.facts["glibc"], part.facts["musl"]) == ("glibc", "2.36", None)
    assert part.facts["python_build"] == "default"


def test_parse_a_musl_python():
    data = json.loads(LINUX_GLIBC_2026_12)
    data.update(glibc=None, libc="musl", musl="1.2.5", python_build="freethreaded")
    part = pyenv.parse_target_report(json.dumps(data))
    assert part.unknown == {}
    assert (part.facts["libc"], part.facts["glibc"], part.facts["musl"]) == ("musl", None, "1.2.5")
    assert part.facts["python_build"] == "freethreaded"


def test_a_musl_loader_that_gave_no_version_leaves_musl_unknown():
    data = json.loads(LINUX_GLIBC_2026_12)
    data.update(glibc=None, libc="musl", musl=None)
    part = pyenv.parse_target_report(json.dumps(data))
    assert part.facts["libc"] == "musl" and part.unknown["musl"] == "the musl loader did not print its version"


def test_a_failed_libc_probe_leaves_libc_and_musl_unknown():
    data = json.loads(LINUX_GLIBC_2026_12)
    data.update(glibc=None, libc=None, errors={"libc": "TimeoutExpired: Command '['/lib/ld-musl-x86_64.so.1']' "
                                                       "timed out after 2 seconds"})
    part = pyenv.parse_target_report(json.dumps(data))
    assert part.unknown["libc"].startswith("the target Python could not tell: TimeoutExpired")
    assert part.unknown["musl"] == part.unknown["libc"]


def test_a_report_from_an_older_script_has_no_python_build():
    part = pyenv.parse_target_report(LINUX_CPU_TORCH)
    assert part.unknown == {"python_build": "the target Python did not report it"}
    assert part.facts["libc"] is None


def test_a_linux_python_with_neither_glibc_nor_musl_leaves_libc_unknown():
    data = json.loads(LINUX_GLIBC_2026_12)
    data.update(glibc=None, libc=None)
    part = pyenv.parse_target_report(json.dumps(data))
    assert part.unknown["libc"].startswith("the target Python reports no glibc and names no musl loader")
    mac = pyenv.parse_target_report(MAC_ROSETTA)
    assert "libc" not in mac.unknown  # not a Linux question
