"""The probes on this host, for real: `uname` run as a process, and a hanging nvidia-smi killed with its children."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from aidoctor.doctor.core.facts import ProbeStatus
from aidoctor.doctor.core.system import LiveSystem
from aidoctor.doctor.probes.collect import Options, collect
from aidoctor.doctor.probes.host import parse_uname

from ..unit.test_probe_machines import run_status


@pytest.mark.skipif(not hasattr(os, "uname"), reason="no uname on this host")
def test_parse_uname_on_this_host():
    out = subprocess.run(["uname", "-s", "-r", "-m"], capture_output=True, text=True, check=True).stdout
    here = os.uname()
    arch = {"arm64": "aarch64", "amd64": "x86_64"}.get(here.machine, here.machine)
    assert parse_uname(out) == {"os": here.sysname.lower(), "kernel": here.release, "arch": arch}


@pytest.mark.skipif(sys.platform != "linux", reason="the nvidia probes run on Linux only")
def test_a_hanging_nvidia_smi_on_this_host(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\nsleep 600\n")  # a child that keeps the pipes open: the whole group must be killed
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    started = time.monotonic()
    m = collect(LiveSystem(), Options(python=sys.executable, timeout=1.0, budget=5.0))
    assert time.monotonic() - started < 4.0
    assert run_status(m, "nvidia-smi") is ProbeStatus.TIMEOUT
    assert m.gpus is None and "did not answer" in m.unknown["gpus"]
