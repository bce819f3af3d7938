"""The tests of test_audit.py that start processes or read real files through aidoctor: here, not in tests/unit."""

from __future__ import annotations


import os
import subprocess
import sys
from dataclasses import replace

import pytest

from aidoctor.doctor.audit.cuda import Variant
from aidoctor.doctor.audit.environment import EnvironmentAudit
from aidoctor.doctor.audit.scope import Scope
from aidoctor.doctor.dsl.rules import Status

from ..unit.test_audit import COMPILED, CUDA, _cuobjdump, _install_unpacked, _venv, parse_file, recorded_machine


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_fatbin_parser_agrees_with_cuobjdump(name):
    tool = _cuobjdump()
    if tool is None:
        pytest.skip("no cuobjdump (pip install nvidia-cuda-cuobjdump, in the test extra on Linux)")
    result = subprocess.run([tool, "--list-elf", "--list-ptx", str(CUDA / name)], capture_output=True, text=True,
                            timeout=60)
    listed = set()
    for line in result.stdout.splitlines():  # "ELF file    1: sm80.1.sm_80.cubin", "PTX file    1: x.1.sm_90.ptx"
        arch, kind = line.rsplit(".", 2)[-2:]
        listed.add(arch if kind == "cubin" else arch.replace("sm_", "compute_"))
    ours = {code.name.removesuffix("f") if code.variant is Variant.FAMILY and not code.ptx else code.name
            for code in parse_file(CUDA / name).device_code}  # cuobjdump prints a family cubin without its f
    assert listed == ours


def test_check_reports_an_sm80_extension_in_the_verdict(tmp_path):
    from aidoctor.doctor.check.engine import CheckRequest, judge, run_check
    from aidoctor.doctor.check.index import Index
    from aidoctor.recipes import all_tools

    python, site = _venv(tmp_path)
    _install_unpacked(site, "flash-attn", "2.8.3", {"flash_attn_2_cuda.cpython-311-x86_64-linux-gnu.so":
                                                    (CUDA / "sm80.so").read_bytes()})
    report = run_check(CheckRequest(python=str(python), tools=("flash-attn",), offline=True,
                                    cache_dir=tmp_path / "cache"))
    assert report.audit is not None and report.audit.scope is Scope.TOOLS
    [audited] = report.audit.files
    assert audited.path == "flash_attn_2_cuda.cpython-311-x86_64-linux-gnu.so"
    data = report.to_json()
    assert data["audit"]["files"][0]["facts"]["device_code"][0]["name"] == "sm_80"
    # The same environment judged for a recorded H100: the extension has no kernel for it
    h100 = replace(recorded_machine("h100-x86"), packages=report.machine.packages)
    [verdict] = judge(h100, [all_tools()["flash-attn"]], Index(tmp_path / "cache", offline=True), report.audit)
    assert verdict.status is Status.UNSUPPORTED
    assert any(r.startswith("flash_attn_2_cuda.cpython-311-x86_64-linux-gnu.so: has CUDA code for sm_80 only")
               for r in verdict.reasons)
    off = run_check(CheckRequest(python=str(python), tools=("flash-attn",), offline=True,
                                 cache_dir=tmp_path / "cache", audit=Scope.OFF))
    assert off.audit is None and off.to_json()["audit"] is None


def test_audit_all_reaches_distributions_no_tool_names(tmp_path):
    from aidoctor.doctor.check.engine import CheckRequest, run_check

    python, site = _venv(tmp_path)
    _install_unpacked(site, "someext", "0.1", {"someext/_k.so": (CUDA / "sm90a.so").read_bytes()})
    tools = run_check(CheckRequest(python=str(python), tools=("torch",), offline=True, cache_dir=tmp_path / "c"))
    assert tools.audit is not None and tools.audit.files == ()
    every = run_check(CheckRequest(python=str(python), tools=("torch",), offline=True, cache_dir=tmp_path / "c",
                                   audit=Scope.ALL))
    assert [a.path for a in every.audit.files] == ["someext/_k.so"]
    assert isinstance(every.audit, EnvironmentAudit)


def test_check_names_a_foreign_cpu_extension_in_the_verdict(tmp_path):
    """The nvcc-built sm_80 extension of the other CPU, installed into a venv here: the verdict names the file."""
    import platform

    from aidoctor.doctor.check.engine import CheckRequest, run_check

    foreign = {"x86_64": ("aarch64/sm80.so", "aarch64"), "aarch64": ("sm80.so", "x86_64")}.get(platform.machine())
    if foreign is None:
        pytest.skip(f"no foreign build for {platform.machine()}")
    python, site = _venv(tmp_path)
    _install_unpacked(site, "flash-attn", "2.8.3", {"flash_attn_2_cuda.so": (CUDA / foreign[0]).read_bytes()})
    report = run_check(CheckRequest(python=str(python), tools=("flash-attn",), offline=True,
                                    cache_dir=tmp_path / "cache"))
    [verdict] = report.verdicts
    assert verdict.status is Status.UNSUPPORTED
    assert (f"flash_attn_2_cuda.so: {foreign[1]} code; this Python runs on {platform.machine()} and cannot load "
            "it") in verdict.reasons
    reinstall = "pip install --force-reinstall --no-cache-dir --no-deps flash-attn==2.8.3"
    assert [f.fix for f in report.audit.findings("flash-attn", report.machine)] == [reinstall]
    # Without a GPU a reinstall would not lift "needs an NVIDIA GPU", so the verdict offers no fix.
    assert verdict.fixes == (() if not report.machine.gpus else (reinstall,))


@pytest.mark.network
def test_foreign_arch_wheel_in_a_venv_is_unsupported(tmp_path):
    """bitsandbytes' real aarch64 wheel, unpacked by pip into an x86_64 venv (or the reverse on an arm64 host)."""
    import platform

    from aidoctor.doctor.check.engine import CheckRequest, run_check

    python, site = _venv(tmp_path)
    foreign = "manylinux_2_24_aarch64" if platform.machine() == "x86_64" else "manylinux_2_24_x86_64"
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--only-binary=:all:",
                    "--platform", foreign, "--target", str(site), "bitsandbytes==0.50.2"],
                   check=True, timeout=600, env=env)
    report = run_check(CheckRequest(python=str(python), tools=("bitsandbytes",), offline=True,
                                    cache_dir=tmp_path / "cache"))
    [verdict] = report.verdicts
    assert verdict.installed == "0.50.2" and verdict.status is Status.UNSUPPORTED
    assert any(r.startswith("bitsandbytes/libbitsandbytes_") and "code; this Python runs on" in r
               for r in verdict.reasons), verdict.reasons
    assert report.exit_code == 1
