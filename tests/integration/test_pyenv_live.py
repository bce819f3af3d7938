"""The target-Python probe run for real: fresh venvs, torch as pip picks it, interpreters that hang or are not Python."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aidoctor.doctor.check.engine import CheckRequest, probe_machine
from aidoctor.doctor.core.facts import FactState
from aidoctor.doctor.core.facts import TorchBuild
from aidoctor.doctor.core.system import LiveSystem
from aidoctor.doctor.probes import pyenv

from ..unit.test_pyenv import ARCH_LISTS, DECOY, FIXTURES, elf, excerpt


def make_venv(where: Path) -> tuple[Path, Path]:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    return python, site


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    return make_venv(tmp_path_factory.mktemp("target") / "venv")


@pytest.fixture(scope="module")
def torch_venv(provided_torch):
    return provided_torch.python  # the probes only read it


def add_dist(site: Path, name: str, version: str, requires: tuple[str, ...] = (), body: str = "") -> None:
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (folder / "METADATA").write_text("\n".join(lines) + "\n\n" + body)


def fake(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_a_fresh_venv(venv, tmp_path, monkeypatch):
    python, site = venv
    add_dist(site, "unsloth", "2026.10.9",
             ("unsloth_zoo>=2026.10.9", "torch<2.15,>=2.4", 'xformers; platform_machine == "x86_64"'),
             body="# Unsloth\n\nRequires-Dist: not-this\n" * 200)
    add_dist(site, "flash_attn_3", "3.0.0b1", ("torch",))
    add_dist(site, "Some_Lib", "1.0")
    shadow = tmp_path / "shadow"  # on PYTHONPATH, so first on sys.path: its unsloth wins, as for import
    add_dist(shadow, "unsloth", "2026.11.1", ("torch>=2.15",))
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "torch").mkdir()  # a torch checkout in aidoctor's working directory is not the target's torch
    (tmp_path / "torch" / "__init__.py").write_text("")

    part = pyenv.probe(LiveSystem(), 10, python=str(python))
    assert part.unknown == {}
    assert part.facts["python"] == ".".join(map(str, sys.version_info[:3]))
    assert part.facts["packages"]["unsloth"] == "2026.11.1"
    assert part.facts["requires"]["unsloth"] == ("torch>=2.15",)
    assert part.facts["packages"]["flash-attn-3"] == "3.0.0b1" and part.facts["requires"]["flash-attn-3"] == ("torch",)
    assert part.facts["packages"]["some-lib"] == "1.0" and part.facts["requires"]["some-lib"] == ()
    assert "torch_build" not in part.facts and "torch_build" not in part.unknown
    assert part.facts["python_translated"] is False
    assert part.identifiers["target_python"]["virtualenv"] is True
    assert Path(part.identifiers["target_python"]["executable"]).parent == python.parent
    if sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION"):
        assert part.facts["glibc"] == os.confstr("CS_GNU_LIBC_VERSION").split()[1]
    assert pyenv.check_interpreter(LiveSystem(), str(python), 10) is None
    # The check keeps the Requires-Dist of the watched tools only.
    machine = probe_machine(CheckRequest(python=str(python), timeout=10), LiveSystem())
    assert machine.requires["unsloth"] == ("torch>=2.15",) and "some-lib" not in machine.requires


def test_a_torch_that_must_not_be_imported(venv, tmp_path):
    """A fake CUDA torch whose __init__ raises: its build is still read, from files only."""
    python, site = venv
    torch = site / "torch"
    (torch / "lib").mkdir(parents=True)
    (torch / "__init__.py").write_text("raise ImportError('aidoctor imported torch')\n")
    (torch / "version.py").write_bytes((FIXTURES / "2.15.0-cu132-aarch64.version.txt").read_bytes())
    (torch / "lib" / "libtorch_python.so").write_bytes(
        elf(DECOY + bytes(1 << 20), excerpt("2.15.0-cu132-aarch64"), 64, "<"))
    add_dist(site, "torch", "2.15.0", ("filelock", 'cuda-toolkit[cublas]==13.2.*; platform_system == "Linux"'))
    try:
        part = pyenv.probe(LiveSystem(), 10, python=str(python))
    finally:
        shutil.rmtree(torch)
        shutil.rmtree(site / "torch-2.15.0.dist-info")
    assert part.unknown == {}
    assert part.facts["torch_build"] == TorchBuild(version="2.15.0+cu132", cuda="13.2",
                                                   arch_list=ARCH_LISTS["2.15.0-cu132-aarch64"])
    assert part.facts["packages"]["torch"] == "2.15.0"
    assert part.facts["requires"]["torch"][1].startswith("cuda-toolkit[cublas]")


def test_the_aidoctor_interpreter_is_quick():
    started = time.perf_counter()
    part = pyenv.probe(LiveSystem(), 10, python=sys.executable)
    assert time.perf_counter() - started < 1.0
    assert part.unknown == {} and part.facts["packages"]["pytest"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX executables")
def test_interpreters_that_cannot_be_inspected(tmp_path):
    system = LiveSystem()
    cases = {
        str(tmp_path / "nowhere" / "python"): "does not exist",
        "/bin/true": "not a Python interpreter (it printed no report)",
        "/bin/echo": "not a Python interpreter (it printed no report)",
        str(tmp_path): "not a Python interpreter (Permission denied)",
        fake(tmp_path, "broken", "echo 'Python path configuration:' >&2\n"
                                 "echo 'Fatal Python error: init_fs_encoding: failed to get the Python codec' >&2\n"
                                 "exit 1\n"):
            "not a Python interpreter (exited with 1: "
            "Fatal Python error: init_fs_encoding: failed to get the Python codec)",
        fake(tmp_path, "old", f"PYTHONPATH={tmp_path / 'old-site'} exec {sys.executable} \"$@\"\n"):
            "unsupported Python 3.7.9; aidoctor inspects Python >= 3.8",
    }
    (tmp_path / "old-site").mkdir()
    (tmp_path / "old-site" / "sitecustomize.py").write_text("import sys\nsys.version_info = (3, 7, 9, 'final', 0)\n")
    plain = tmp_path / "plain"
    plain.write_text("print('hi')\n")  # not executable
    cases[str(plain)] = "not a Python interpreter (Permission denied)"
    for python, reason in cases.items():
        part = pyenv.probe(system, 5, python=python)
        assert part.unknown == {key: reason for key in pyenv.FACTS}, python
        assert not part.facts
        assert pyenv.interpreter_error(part) == reason
        assert part.states == {key: FactState.BAD_TARGET for key in pyenv.FACTS}, python
        assert pyenv.check_interpreter(system, python, 5) == reason
        assert str(tmp_path) not in reason  # reasons hold no paths


@pytest.mark.skipif(os.name == "nt", reason="POSIX executables")
def test_a_script_failure_is_no_usage_error(tmp_path):
    python = fake(tmp_path, "python", "echo 'Traceback (most recent call last):' >&2\necho 'ValueError: boom' >&2\n"
                                      "exit 1\n")
    part = pyenv.probe(LiveSystem(), 5, python=python)
    assert part.unknown["packages"] == "the inspection script failed in the target Python: ValueError: boom"
    assert pyenv.interpreter_error(part) is None
    assert part.state("packages") is FactState.UNKNOWN


@pytest.mark.skipif(os.name == "nt", reason="POSIX executables")
def test_a_hanging_interpreter_is_given_up_after_the_timeout(tmp_path):
    python = fake(tmp_path, "python3", "sleep 600\n")  # a child holding the pipes: the whole group is killed
    started = time.monotonic()
    part = pyenv.probe(LiveSystem(), 1, python=python)
    assert time.monotonic() - started < 2.5
    assert part.unknown == {key: "the target Python did not answer within 1 s" for key in pyenv.FACTS}
    assert part.states == {key: FactState.TIMED_OUT for key in pyenv.FACTS}
    assert pyenv.interpreter_error(part) is None
    assert pyenv.check_interpreter(LiveSystem(), python, 1) is None  # slow is not wrong


def test_the_real_torch_wheel(torch_venv, provided_torch):
    started = time.perf_counter()
    part = pyenv.probe(LiveSystem(), 10, python=str(torch_venv))
    elapsed = time.perf_counter() - started
    assert part.unknown == {}
    # what torch itself says once imported (a CUDA build's arch list, none for a CPU build) is what the probe read
    assert part.facts["torch_build"] == TorchBuild(version=provided_torch.version, cuda=provided_torch.cuda,
                                                   arch_list=provided_torch.arch_list)
    assert part.facts["packages"]["torch"] == provided_torch.version
    unconditional = {r for r in provided_torch.requires if ";" not in r}  # from the wheel's own METADATA
    assert unconditional and unconditional <= set(part.facts["requires"]["torch"])
    assert elapsed < 1.0  # `import torch` alone takes seconds


@pytest.mark.parametrize("mode", [["report"], ["env-state", "torch,triton", "nvidia-"]])
def test_the_script_imports_no_torch(torch_venv, provided_torch, mode):
    result = subprocess.run([str(torch_venv), "-X", "importtime", "-c", pyenv.SCRIPT, *mode],
                            capture_output=True, text=True, check=True)
    modules = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
               if line.startswith("import time:")]
    assert "importlib.metadata" not in modules  # 19 ms on its own: the script walks sys.path instead
    assert not [m for m in modules if m.split(".")[0] == "torch"]
    if mode == ["report"]:
        assert json.loads(result.stdout)["torch"]["version"] == provided_torch.version
    else:
        assert json.loads(result.stdout)["dists"]["torch"]["version"] == provided_torch.version


def test_this_pythons_c_library_and_build(venv):
    python, _ = venv
    part = pyenv.probe(LiveSystem(), 10, python=str(python))
    glibc = os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else None
    if sys.platform.startswith("linux") and glibc and glibc.startswith("glibc "):
        assert (part.facts["libc"], part.facts["glibc"]) == ("glibc", glibc.split()[1])
    import sysconfig
    freethreaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    assert part.facts["python_build"] == ("freethreaded" if freethreaded else "default")


@pytest.mark.skipif(shutil.which("musl-gcc") is None, reason="needs musl-gcc (Debian: apt-get install musl-tools)")
def test_musl_version_of_a_real_musl_executable(tmp_path):
    """A program linked against musl, asked as pip asks a musl Python: its PT_INTERP loader, run bare."""
    (tmp_path / "hello.c").write_text("int main(void){return 0;}\n")
    subprocess.run(["musl-gcc", "-o", str(tmp_path / "hello"), str(tmp_path / "hello.c")], check=True, timeout=60)
    namespace = {"__name__": "aidoctor_test"}
    exec(compile(pyenv.SOURCE, "<aidoctor>", "exec"), namespace)
    loader = subprocess.run([namespace["elf_interpreter"]((tmp_path / "hello").read_bytes())],
                            capture_output=True, text=True, timeout=10).stderr
    expected = loader.split("Version ", 1)[1].split()[0]
    assert namespace["musl_version"](str(tmp_path / "hello")) == expected
    assert namespace["musl_version"](os.path.realpath(sys.executable)) is None  # a glibc Python
