"""The build runner: progress from [n/N] lines, retry at half the jobs after an OOM kill, resume, logs.

The builds are real (`pip wheel --no-build-isolation` of a package with a C
extension, compiled by gcc); only the out-of-memory kill is induced, by the
fixture's setup.py (see tests/fixtures/oomtest/setup.py for why).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from aidoctor.doctor.install.build import (
    BuildFailed, Log, compile_wheel, halved, is_compiler_run, killed_for_memory, parse_progress, prepare_source,
)
from aidoctor.doctor.install.plan import Step
from aidoctor.doctor.core.system import CommandResult, LiveSystem

FIXTURE = Path(__file__).parent / "fixtures" / "oomtest"


class Recorder:
    def __init__(self) -> None:
        self.infos: list[str] = []
        self.progress_seen: list[tuple[int, int]] = []

    def info(self, text: str) -> None:
        self.infos.append(text)

    def progress(self, done: int, total: int) -> None:
        self.progress_seen.append((done, total))


def test_parse_progress_reads_ninja_lines_only():
    assert parse_progress("[12/96] /usr/local/cuda/bin/nvcc -c flash_fwd.cu") == (12, 96)
    assert parse_progress("  [3/3] c++ -shared ...") == (3, 3)
    assert parse_progress("[ 42%] Building CUDA object") is None
    assert parse_progress("copying build/lib/x.py") is None


@pytest.mark.parametrize("line, expected", [
    ("  g++ -Wsign-compare -DNDEBUG -g -fwrapv -O3 -Wall -fPIC -Icsrc/includes -c csrc/adam/cpu_adam.cpp", True),
    ("x86_64-linux-gnu-gcc -pthread -c src/squares.c -o build/temp/squares.o", True),
    ("/usr/local/cuda/bin/nvcc -gencode arch=compute_120,code=sm_120 -c flash_fwd.cu", True),
    ("  copying deepspeed/ops/adam/cpu_adam.py -> build/lib/deepspeed/ops/adam", False),
    ("gcc: fatal error: Killed signal terminated program cc1", False),
])
def test_compiler_runs_are_counted_when_there_is_no_ninja_total(line, expected):
    assert is_compiler_run(line) is expected


@pytest.mark.parametrize("returncode, tail, expected", [
    (137, "", True),
    (-9, "", True),
    (1, "c++: fatal error: Killed signal terminated program cc1plus", True),
    (1, "nvcc error   : 'cicc' died due to signal 9 (Kill signal)", True),
    (1, "error: expected ';' before '}' token", False),
])
def test_killed_for_memory(returncode, tail, expected):
    assert killed_for_memory(CommandResult(("pip",), returncode, tail), tail) is expected


def test_halved_jobs_down_to_one():
    assert halved({"MAX_JOBS": "8", "CMAKE_BUILD_PARALLEL_LEVEL": "8"}) == {"MAX_JOBS": "4",
                                                                             "CMAKE_BUILD_PARALLEL_LEVEL": "4"}
    assert halved({"MAX_JOBS": "3"}) == {"MAX_JOBS": "1"}
    assert halved({"MAX_JOBS": "1"}) is None


@pytest.fixture(scope="module")
def build_python(tmp_path_factory):
    """A venv with a setuptools that builds wheels by itself (no `wheel` package needed)."""
    env = tmp_path_factory.mktemp("buildenv")
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "setuptools>=70.1"], check=True, timeout=300)
    return python


def _sdist(tmp_path: Path) -> Path:
    archive = tmp_path / "oomtest-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(FIXTURE, arcname="oomtest-1.0", filter=lambda info: None if "__pycache__" in info.name else info)
    return archive


def _steps(python: Path, build_dir: Path, sdist: Path) -> tuple[Step, Step]:
    source = Step("source", "fetch", "test", (sys.executable, "-c",
                                              f"import shutil; shutil.copy({str(sdist)!r}, {str(build_dir / 'sdist')!r})"))
    build = Step("build", "build", "test", (str(python), "-m", "pip", "wheel", "-v", "--no-deps",
                                            "--no-build-isolation", "--wheel-dir", str(build_dir / "dist"),
                                            str(build_dir / "src")))
    return source, build


@pytest.mark.network
def test_oom_kill_is_retried_with_half_the_jobs_and_the_wheel_really_builds(build_python, tmp_path):
    build_dir = tmp_path / "build"
    source, build = _steps(build_python, build_dir, _sdist(tmp_path))
    log = Log(build_dir / "build.log")
    archive, resumed = prepare_source(LiveSystem(), source, build_dir, log, 60)
    assert (archive.name, resumed) == ("oomtest-1.0.tar.gz", False)
    recorder = Recorder()
    env = {**_base_env(), "MAX_JOBS": "8", "OOMTEST_JOBS_THAT_FIT": "2"}
    wheel, attempts = compile_wheel(LiveSystem(), build, build_dir, env, log, recorder, 300)
    log.close()
    assert attempts == ("MAX_JOBS=8: killed for memory", "MAX_JOBS=4: killed for memory", "MAX_JOBS=2: built")
    assert wheel.name.startswith("oomtest-1.0-cp") and wheel.suffix == ".whl"
    assert (1, 2) in recorder.progress_seen and (2, 2) in recorder.progress_seen
    assert any("retrying with MAX_JOBS=4" in line for line in recorder.infos)
    text = (build_dir / "build.log").read_text()
    assert "Killed signal terminated program" in text and "[2/2] linking squares" in text

    # The wheel holds a compiled extension that works.
    target = tmp_path / "site"
    subprocess.run([str(build_python), "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    str(wheel)], check=True)
    out = subprocess.run([str(build_python), "-c", "import oomtest_squares; print(oomtest_squares.square(12))"],
                         env={"PYTHONPATH": str(target)}, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "144"


@pytest.mark.network
def test_a_build_that_cannot_fit_even_one_job_fails_with_the_log_path(build_python, tmp_path):
    build_dir = tmp_path / "build"
    source, build = _steps(build_python, build_dir, _sdist(tmp_path))
    log = Log(build_dir / "build.log")
    prepare_source(LiveSystem(), source, build_dir, log, 60)
    env = {**_base_env(), "MAX_JOBS": "2", "OOMTEST_JOBS_THAT_FIT": "0"}
    with pytest.raises(BuildFailed, match=r"out of memory even with MAX_JOBS=1.*build\.log"):
        compile_wheel(LiveSystem(), build, build_dir, env, log, Recorder(), 300)


@pytest.mark.network
def test_an_interrupted_build_resumes_with_its_source_and_objects(build_python, tmp_path):
    build_dir = tmp_path / "build"
    sdist = _sdist(tmp_path)
    source, build = _steps(build_python, build_dir, sdist)
    log = Log(build_dir / "build.log")
    prepare_source(LiveSystem(), source, build_dir, log, 60)
    compile_wheel(LiveSystem(), build, build_dir, {**_base_env(), "MAX_JOBS": "1"}, log, Recorder(), 300)
    objects = list((build_dir / "src" / "build").rglob("*.o"))
    assert objects, "setuptools keeps its objects in the source tree's build/"
    # The next run finds the unpacked source (and those objects) instead of fetching and unpacking again.
    sdist.unlink()
    archive, resumed = prepare_source(LiveSystem(), source, build_dir, log, 60)
    assert resumed and archive.name == "oomtest-1.0.tar.gz"
    assert all(o.exists() for o in objects)


def test_unpacking_refuses_paths_outside_the_tree(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    payload = tmp_path / "payload"
    payload.write_text("x")
    with tarfile.open(evil, "w:gz") as tf:
        tf.add(payload, arcname="../../escaped")
    build_dir = tmp_path / "build"
    (build_dir / "sdist").mkdir(parents=True)
    shutil.copy(evil, build_dir / "sdist")
    log = Log(build_dir / "build.log")
    with pytest.raises(tarfile.TarError):
        prepare_source(LiveSystem(), Step("source", "", "", ("true",)), build_dir, log, 10)
    assert not (tmp_path / "escaped").exists()


def _base_env() -> dict[str, str]:
    import os

    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
