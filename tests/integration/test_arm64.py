"""aidoctor on a real aarch64 userland: a Debian arm64 root run under qemu-user (testbed/arm64.sh).

The bed needs root and `testbed/arm64.sh setup` once; without it these tests skip, and with
AIDOCTOR_REQUIRE_ARM64=1 (as .ci/run sets) they fail instead. pip and aidoctor reach the real
PyPI from inside the root.

Step timings on a 2-core x86_64 VM (other jobs sharing the cores), Debian 12 arm64 root
(Python 3.11.2) under qemu 7.2:
  python3 -m venv in the root:                                  9-15 s
  pip install of aidoctor + its dependencies (cold pip cache):  36 s
  the arm64_venv fixture (copy, venv, pip install):             43-76 s
  aidoctor check --json, index answers live from PyPI:          6-14 s
  the whole module:                                             60-100 s
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator, Sequence

import pytest
from ..beds import require

REPO = Path(__file__).resolve().parents[2]
TESTBED = REPO / "testbed" / "arm64.sh"
SETUP_HINT = "no arm64 test bed: run `sudo testbed/arm64.sh setup` (needs qemu-user-static and debootstrap)"
# qemu runs every arm64 instruction in software: give each step minutes, not seconds.
VENV_TIMEOUT = 600
PIP_TIMEOUT = 1800
CHECK_TIMEOUT = 600

pytestmark = [pytest.mark.arm64, pytest.mark.network]


def _bed_ready() -> bool:
    return subprocess.run(["bash", str(TESTBED), "check"], capture_output=True, timeout=60).returncode == 0


require("arm64", None if _bed_ready() else SETUP_HINT)


def run_in_bed(*command: str, binds: Sequence[tuple[Path, str]] = (),
               timeout: float = 600) -> subprocess.CompletedProcess:
    """Run COMMAND inside the arm64 root; each bind is (host dir, absolute dir in the root)."""
    bind_args = [arg for host_dir, bed_dir in binds for arg in ("--bind", f"{host_dir}:{bed_dir}")]
    return subprocess.run(["bash", str(TESTBED), "run", *bind_args, "--", *command],
                          capture_output=True, text=True, timeout=timeout)


def succeeded(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{result.args} exited {result.returncode}\n{output}"
    return result


@dataclass(frozen=True)
class Arm64Venv:
    python: str  # the venv's interpreter, as a path inside the arm64 root
    run: Callable[..., subprocess.CompletedProcess]  # run_in_bed: runs a command in the bed


def _copy_of_the_repo(destination: Path) -> Path:
    """A throwaway copy to build from: pip builds in the source tree, and the checkout is shared."""
    ignored = [line.strip().strip("/") for line in (REPO / ".gitignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    shutil.copytree(REPO, destination, ignore=shutil.ignore_patterns(".git", *ignored))
    return destination


@pytest.fixture(scope="session")
def arm64_venv(tmp_path_factory) -> Iterator[Arm64Venv]:
    """aidoctor pip-installed (not editable) from this checkout into a fresh venv inside the arm64 root."""
    workdir = f"/opt/aidoctor-test-{uuid.uuid4().hex[:12]}"
    venv, source = f"{workdir}/venv", f"{workdir}/src"
    host_source = _copy_of_the_repo(tmp_path_factory.mktemp("arm64") / "src")
    try:
        succeeded(run_in_bed("python3", "-m", "venv", venv, timeout=VENV_TIMEOUT))
        succeeded(run_in_bed(f"{venv}/bin/pip", "install", "--quiet", source,
                             binds=[(host_source, source)], timeout=PIP_TIMEOUT))
        yield Arm64Venv(python=f"{venv}/bin/python", run=run_in_bed)
    finally:
        run_in_bed("rm", "-rf", workdir, timeout=VENV_TIMEOUT)


def test_the_bed_python_is_aarch64():
    result = succeeded(run_in_bed("python3", "-c", "import platform; print(platform.machine())"))
    assert result.stdout.strip() == "aarch64"


def test_aidoctor_check_sees_aarch64_linux_and_an_aarch64_torch_wheel(arm64_venv):
    venv_bin = PurePosixPath(arm64_venv.python).parent
    # An empty cache so the torch answer comes live from PyPI, as a user's first run gets it.
    cache = venv_bin.parent / "aidoctor-cache"
    result = succeeded(arm64_venv.run("env", f"AIDOCTOR_CACHE_DIR={cache}", f"{venv_bin}/aidoctor", "check",
                                      "--json", "--python", arm64_venv.python, "--timeout", "120",
                                      timeout=CHECK_TIMEOUT))
    report = json.loads(result.stdout)
    facts = report["facts"]
    assert (facts["os"], facts["arch"]) == ("linux", "aarch64")
    torch = next(v for v in report["verdicts"] if v["tool"] == "torch")
    available = torch["available"]
    python_tag = "cp" + "".join(facts["python"].split(".")[:2])
    assert available["kind"] == "wheel", torch
    assert available["filename"].endswith("aarch64.whl"), available
    assert f"-{python_tag}-" in available["filename"], available


# torch 2.10.0 is the newest whose aarch64 wheel on PyPI is a CPU build (146 MB); from 2.11 the aarch64
# wheels are CUDA 13 builds that pull ~3 GB of cuda-toolkit packages (checked by reading their METADATA).
ARM64_CPU_TORCH = "torch==2.10.0"


def test_install_bitsandbytes_takes_the_real_aarch64_wheel_and_its_cpu_smoke_test_passes(arm64_venv):
    venv_bin = PurePosixPath(arm64_venv.python).parent
    work = venv_bin.parent.parent
    target = f"{work}/train-env"
    succeeded(arm64_venv.run("python3", "-m", "venv", target, timeout=VENV_TIMEOUT))
    succeeded(arm64_venv.run(f"{target}/bin/pip", "install", "--quiet", ARM64_CPU_TORCH, timeout=PIP_TIMEOUT))
    result = arm64_venv.run("env", f"AIDOCTOR_CACHE_DIR={work}/cache", f"{venv_bin}/aidoctor", "install",
                            "bitsandbytes", "--python", f"{target}/bin/python", "--wheelhouse", f"{work}/wheelhouse",
                            "--timeout", "120", timeout=PIP_TIMEOUT)
    succeeded(result)
    assert "by index" in result.stdout and "manylinux_2_24_aarch64.whl" in result.stdout
    assert "smoke test for bitsandbytes on cpu: passed" in result.stdout
    listed = succeeded(arm64_venv.run(f"{venv_bin}/aidoctor", "wheels", "list", "--json", "--wheelhouse",
                                      f"{work}/wheelhouse"))
    wheels = {w["project"]: w for w in json.loads(listed.stdout)["wheels"]}
    assert wheels["bitsandbytes"]["filename"].endswith("aarch64.whl")
    assert wheels["bitsandbytes"]["smoke"]["passed"] is True
    assert "torch" not in wheels  # the installed torch was pinned, never fetched again
