"""The build runner's pure parts: progress from [n/N] lines, compiler runs, OOM kills, halved jobs, unpacking."""

from __future__ import annotations

import shutil
import tarfile

import pytest

from aidoctor.doctor.install.build import (
    Log, halved, is_compiler_run, killed_for_memory, parse_progress, prepare_source,
)
from aidoctor.doctor.install.plan import Step
from aidoctor.doctor.core.system import CommandResult, LiveSystem


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


