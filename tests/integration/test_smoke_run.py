"""Smoke scripts run for real: in this interpreter without torch, and in a venv with torch as pip picks it (network)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aidoctor.doctor.core.system import LiveSystem
from aidoctor.doctor.install.smoke import build_script, load_script, parse_smoke_output, run_smoke

CPU_SCRIPTS = ("torch", "peft", "trl", "transformers", "accelerate", "bitsandbytes", "mlx", "mlx_lm")
TOOLS = ("peft", "trl", "transformers", "accelerate", "bitsandbytes", "mlx[cpu]", "mlx-lm")


@pytest.fixture(scope="session")
def smoke_venv(tmp_path_factory, provided_torch):
    """One venv for the session: a copy of the torch template, with the tools from PyPI."""
    where = tmp_path_factory.mktemp("smoke") / "venv"
    python = provided_torch.clone(where)
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--disable-pip-version-check", "-q"]
    # The one pin: the template's torch stays; a tool that wanted another torch must fail to resolve, not pull one in.
    constraints = where / "constraints.txt"
    constraints.write_text(f"torch=={provided_torch.version}\n")
    subprocess.run([*pip, "-c", str(constraints), *TOOLS], check=True, timeout=1800)
    return python


def test_a_real_run_without_torch():
    # aidoctor's own environment has no torch: the first check fails, and says why
    if any(Path(p, "torch").is_dir() for p in sys.path if p):
        pytest.skip("this interpreter has torch")
    result = run_smoke(LiveSystem(), sys.executable, "torch", timeout=60)
    assert (result.passed, result.failed) == (False, "device")
    assert result.cause.startswith("the target Python cannot import torch")


@pytest.mark.network
@pytest.mark.parametrize("name", CPU_SCRIPTS)
def test_the_script_passes_on_cpu(smoke_venv, name):
    started = time.perf_counter()
    result = run_smoke(LiveSystem(), str(smoke_venv), name, env={"AIDOCTOR_SMOKE_DEVICE": "cpu"}, timeout=600)
    assert result.passed, f"{result.failed}: {result.error}\n{result.cause}\n{result.tail}"
    assert result.device == "cpu" and result.tool == name.replace("_", "-")
    assert len(result.checks) >= 2 and all(c.ok for c in result.checks)
    assert any("loss" in (c.detail or "") and "->" in c.detail for c in result.checks)  # it trained, and said so
    assert result.versions[name.replace("_", "-")]
    print(f"{name}: {result.versions} in {time.perf_counter() - started:.1f} s")


@pytest.mark.network
@pytest.mark.parametrize("name, check", [("torch", "AdamW trains a tiny transformer"),
                                         ("peft", "LoRA trains a tiny Llama"),
                                         ("bitsandbytes", "NF4 Linear4bit base + LoRA adapter trains")])
def test_a_run_that_learns_nothing_fails(smoke_venv, name, check):
    result = run_smoke(LiveSystem(), str(smoke_venv), name,
                       env={"AIDOCTOR_SMOKE_DEVICE": "cpu", "AIDOCTOR_SMOKE_LR_SCALE": "0"}, timeout=600)
    assert not result.passed and result.failed == check
    assert "loss fell 0%" in result.error and result.cause.startswith("it runs but does not learn")


@pytest.mark.network
def test_a_killed_run_names_the_check_it_was_in(smoke_venv, tmp_path):
    script = tmp_path / "aidoctor_smoke_torch.py"
    script.write_text(build_script(load_script("torch")))
    proc = subprocess.Popen([str(smoke_venv), str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "AIDOCTOR_SMOKE_DEVICE": "cpu"})
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if '"begin": "AdamW trains a tiny transformer"' in line:
            proc.send_signal(signal.SIGKILL)  # as the out-of-memory killer would
            break
    seen.append(proc.stdout.read())
    proc.wait(timeout=60)
    result = parse_smoke_output("".join(seen), tool="torch", returncode=proc.returncode)
    assert (result.passed, result.failed) == (False, "AdamW trains a tiny transformer")
    assert result.error == "killed by SIGKILL"
    assert [c.name for c in result.checks] == ["device", "matmul vs float64"]
