"""The build runner: progress from [n/N] lines, retry at half the jobs after an OOM kill, resume, logs.

The builds are real (`pip wheel --no-build-isolation` of a package with a C
extension, compiled by gcc); only the out-of-memory kill is induced, by the
fixture's setup.py (see tests/fixtures/oomtest/setup.py for why).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from aidoctor.doctor.core.system import LiveSystem
from aidoctor.doctor.install.build import BuildFailed, Log, compile_wheel, prepare_source
from aidoctor.doctor.install.plan import Step

FIXTURE = Path(__file__).parents[1] / "fixtures" / "oomtest"


class Recorder:
    def __init__(self) -> None:
        self.infos: list[str] = []
        self.progress_seen: list[tuple[int, int]] = []

    def info(self, text: str) -> None:
        self.infos.append(text)

    def progress(self, done: int, total: int) -> None:
        self.progress_seen.append((done, total))

def _base_env() -> dict[str, str]:
    import os

    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}


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


@pytest.fixture(scope="module")
def build_python(tmp_path_factory):
    """A venv with a setuptools that builds wheels by itself (no `wheel` package needed)."""
    env = tmp_path_factory.mktemp("buildenv")
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "setuptools>=70.1"], check=True, timeout=300)
    return python


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
