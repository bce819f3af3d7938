"""--deep: torch imported in the target Python, one kernel launched and checked against the CPU."""

from __future__ import annotations

import sys

import pytest

from aidoctor.doctor.probes.deep import kernel_failure, run
from aidoctor.doctor.core.system import LiveSystem


def test_no_torch_in_the_target():
    deep = run(LiveSystem(), sys.executable, timeout=60)
    if deep.get("torch_import"):
        pytest.skip("this interpreter has torch")
    assert "import torch failed" in deep["error"]


def test_a_hanging_target_costs_the_timeout(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexec sleep 600\n")
    fake.chmod(0o755)
    deep = run(LiveSystem(), str(fake), timeout=1)
    assert deep["torch_import"] is False and "did not answer within 1 s" in deep["error"]


def test_a_real_kernel_on_the_cpu(provided_torch):
    # no GPU here: a CUDA build from the index runs its kernel on the CPU just as a CPU build does
    deep = run(LiveSystem(), str(provided_torch.python), timeout=120)
    assert deep["torch_import"] is True and deep["torch"] == provided_torch.version
    assert deep["cuda_available"] is False
    assert deep["kernel"]["device"] == "cpu" and deep["kernel"]["ok"] is True
    assert deep["kernel"]["max_abs_error"] < 1e-4
    assert kernel_failure(deep) is None
