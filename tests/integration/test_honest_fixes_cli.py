"""Honest fixes end to end: the installed `aidoctor` against real venvs on this machine and the real index.

This development machine has no NVIDIA GPU, which is exactly where PyPI's torch (a CUDA build) is the wrong
build to take; the assertions that depend on that skip on a machine with one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


pytestmark = pytest.mark.network

AIDOCTOR = Path(sys.executable).parent / "aidoctor"
NO_GPU = shutil.which("nvidia-smi") is None


@pytest.fixture(scope="module")
def empty_env(tmp_path_factory) -> Path:
    env = tmp_path_factory.mktemp("empty") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=120)
    return env / "bin" / "python"


@pytest.fixture(scope="module")
def cpu_torch_env(provided_torch) -> Path:
    """The tests' torch, read only; these tests are about fixes beside a CPU build of torch."""
    if provided_torch.cuda is not None:
        pytest.skip(f"these tests need a CPU build of torch; pip picked {provided_torch.version} here")
    return provided_torch.python


def aidoctor(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "COLUMNS": "400"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run([str(AIDOCTOR), *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.skipif(not NO_GPU, reason="the CUDA torch suits a machine with an NVIDIA GPU")
def test_install_torch_into_an_empty_venv_on_a_gpu_less_box_names_the_cpu_build(empty_env, tmp_path):
    result = aidoctor("install", "torch", "--dry-run", "--python", str(empty_env), home=tmp_path)
    assert result.returncode == 0, result.stderr
    warning = next(line for line in result.stdout.splitlines() if line.strip().startswith("warning:"))
    assert "NVIDIA GPU cannot use" in warning
    assert warning.rstrip().endswith("--index-url https://download.pytorch.org/whl/cpu")
    peft = aidoctor("install", "peft", "--dry-run", "--python", str(empty_env), home=tmp_path)
    assert peft.returncode == 0, peft.stderr
    assert "warning: this environment has no torch, and pip would bring torch-" in peft.stdout
    assert "--index-url https://download.pytorch.org/whl/cpu" in peft.stdout


def test_a_version_that_does_not_exist_is_refused_with_the_nearest(empty_env, tmp_path):
    result = aidoctor("install", "peft==99.0", "--dry-run", "--python", str(empty_env), home=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "peft 99.0 is not a release on the package index; the nearest releases: " in line


@pytest.mark.skipif(not NO_GPU, reason="the verdicts asserted are those of a machine without a GPU")
def test_no_fix_on_a_cpu_torch_venv_contradicts_another_verdict(cpu_torch_env, tmp_path):
    result = aidoctor("check", "--json", "--python", str(cpu_torch_env), home=tmp_path)
    report = json.loads(result.stdout)
    verdicts = {v["tool"]: v for v in report["verdicts"]}
    vllm = verdicts["vllm"]
    assert vllm["status"] == "build"
    # PyPI's vllm is the CUDA build: neither `pip install vllm` nor `--no-deps vllm` may be offered
    assert all("+cpu" in fix or "VLLM_TARGET_DEVICE=cpu" in fix for fix in vllm["fixes"]), vllm["fixes"]
    assert verdicts["triton"]["alternative"] is None  # its alternatives are for macOS and Windows
    assert "MLX" not in (verdicts["liger-kernel"]["alternative"] or "")
    explained = aidoctor("explain", "vllm", "--python", str(cpu_torch_env), home=tmp_path)
    lines = explained.stdout.splitlines()
    assert "more rules do not apply here; --all shows them" in explained.stdout
    assert lines[-2] == "How to fix vllm here:" and "+cpu" in lines[-1]
    assert not any(line.strip() == "fix: pip install vllm" or "--no-deps vllm" in line for line in lines)
