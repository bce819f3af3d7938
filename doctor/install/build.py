"""Source builds: fetch and unpack the source once, compile with live progress, retry when memory runs out.

The build directory is keyed by the build key (doctor.plan), so the source
and the compiler's objects survive an interrupted build and the next run
resumes where it stopped (ninja and setuptools skip what is up to date).
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Callable, Mapping, Protocol

from ..core.errors import BuildFailed
from ..core.system import CommandResult
from .plan import Step

PROGRESS = re.compile(r"^\s*\[(\d+)/(\d+)\]")  # ninja's "[12/96] nvcc ..."; cmake's "[ 42%]" is not counted
# Without ninja (setuptools' own build_ext, as DeepSpeed uses) there is no total: count compiler runs instead.
COMPILER_RUN = re.compile(r"^\s*(\S*/)?([\w.-]+-)?(g\+\+|gcc|c\+\+|cc|clang\+\+|clang|nvcc)\s")
OOM_SIGNS = ("Killed", "killed signal", "died due to signal 9", "out of memory allocating", "Cannot allocate memory")


class Streamer(Protocol):
    def stream(self, argv, timeout: float, on_line: Callable[[str], None], env: Mapping[str, str] | None = None,
               cwd: str | None = None) -> CommandResult: ...


class BuildProgress(Protocol):
    def info(self, text: str) -> None: ...

    def progress(self, done: int, total: int) -> None: ...


def parse_progress(line: str) -> tuple[int, int] | None:
    match = PROGRESS.match(line)
    return (int(match.group(1)), int(match.group(2))) if match else None


def is_compiler_run(line: str) -> bool:
    return COMPILER_RUN.match(line) is not None


def killed_for_memory(result: CommandResult, log_tail: str) -> bool:
    """A compiler the kernel's OOM killer took: exit 137 / signal 9, or the compiler driver saying so."""
    if result.returncode in (137, -9):
        return True
    return any(sign in log_tail for sign in OOM_SIGNS)


def halved(env: Mapping[str, str]) -> dict[str, str] | None:
    """The same build environment with half the parallel jobs, or None when already at one."""
    jobs = int(env.get("MAX_JOBS", "1") or 1)
    if jobs <= 1:
        return None
    fewer = str(max(1, jobs // 2))
    out = dict(env, MAX_JOBS=fewer)
    if "CMAKE_BUILD_PARALLEL_LEVEL" in out:
        out["CMAKE_BUILD_PARALLEL_LEVEL"] = fewer
    return out


def prepare_source(system: Streamer, step: Step, build_dir: Path, log, timeout: float) -> tuple[Path, bool]:
    """Download the source once and unpack it into build_dir/src; True when an earlier build left it there."""
    src, archives = build_dir / "src", build_dir / "sdist"
    if (src / ".aidoctor-unpacked").exists():
        return _one_archive(archives), True
    archives.mkdir(parents=True, exist_ok=True)
    if not any(archives.iterdir()):
        result = system.stream(step.argv, timeout, log.write_line)
        if not result.ok:
            raise BuildFailed(f"could not fetch the source: {result.failure()} (log: {log.path})")
    archive = _one_archive(archives)
    if src.exists():
        shutil.rmtree(src)
    _unpack(archive, src)
    (src / ".aidoctor-unpacked").write_text(archive.name)
    return archive, False


def _one_archive(directory: Path) -> Path:
    archives = sorted(p for p in directory.iterdir() if p.name.endswith((".tar.gz", ".tar.bz2", ".zip")))
    if len(archives) != 1:
        raise BuildFailed(f"expected one source archive in {directory}, found {len(archives)}")
    return archives[0]


def _unpack(archive: Path, dest: Path) -> None:
    """Unpack, dropping the archive's single top-level directory (name-version/)."""
    staging = dest.with_name(dest.name + ".unpacking")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(staging)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(staging, filter="data")  # no absolute paths, links out of the tree, or device files
    entries = list(staging.iterdir())
    top = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
    top.rename(dest)
    if staging.exists():
        shutil.rmtree(staging)


def compile_wheel(system: Streamer, step: Step, build_dir: Path, env: Mapping[str, str], log,
                  reporter: BuildProgress, timeout: float) -> tuple[Path, tuple[str, ...]]:
    """Run the build step; on an out-of-memory kill, again with half the jobs. Returns the wheel and the attempts."""
    dist = build_dir / "dist"
    attempts: list[str] = []
    current: dict[str, str] | None = dict(env)
    while current is not None:
        for old in dist.glob("*.whl"):
            old.unlink()
        jobs = current.get("MAX_JOBS")
        reporter.info(f"compiling{f' with MAX_JOBS={jobs}' if jobs else ''}; full log: {log.path}")

        compiler_runs = 0

        def on_line(line: str) -> None:
            nonlocal compiler_runs
            log.write_line(line)
            done = parse_progress(line)
            if done:
                reporter.progress(*done)
            elif is_compiler_run(line):
                compiler_runs += 1
                reporter.progress(compiler_runs, 0)  # 0: the total is not known

        result = system.stream(step.argv, timeout, on_line, env=current, cwd=str(build_dir))
        wheels = sorted(dist.glob("*.whl"))
        if result.ok and len(wheels) == 1:
            attempts.append(f"MAX_JOBS={jobs or 'unset'}: built")
            return wheels[0], tuple(attempts)
        if result.timed_out:
            raise BuildFailed(f"the build did not finish within {timeout:g} s; run the install again to resume it "
                              f"(log: {log.path})")
        if killed_for_memory(result, result.stdout):
            attempts.append(f"MAX_JOBS={jobs}: killed for memory")
            current = halved(current)
            if current is not None:
                reporter.info(f"a compiler was killed for memory; retrying with MAX_JOBS={current['MAX_JOBS']}")
                continue
            raise BuildFailed(f"the build ran out of memory even with MAX_JOBS=1; free memory or add swap "
                              f"(log: {log.path})")
        raise BuildFailed(f"the build failed: {_last_error(result)} (full log: {log.path})")
    raise AssertionError("unreachable")


def _last_error(result: CommandResult) -> str:
    if result.error:
        return result.error
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [f"exit {result.returncode}"])[-1][:300]


class Log:
    """A build or install log file, appended line by line so a crash keeps what came before."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a", encoding="utf-8", errors="replace")
        self.write_line(f"-- {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}")

    def write_line(self, line: str) -> None:
        self._handle.write(line.rstrip("\n") + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
