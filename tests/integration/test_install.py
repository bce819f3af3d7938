"""`aidoctor install` end to end: the real command, the real package index, fresh virtual environments.

Each test copies a template venv holding torch as pip picks it here, runs the
installed `aidoctor` console script against it, and checks what a user
would: the exit code, the output, the wheelhouse, and that torch is still
byte-for-byte the same distribution. Everything runs for real: pip, the
downloads, the DeepSpeed source build and every smoke test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aidoctor.doctor.install import envstate
from aidoctor.doctor.core.system import LiveSystem
from aidoctor.wheels.store import Wheelhouse

pytestmark = pytest.mark.network

AIDOCTOR = Path(sys.executable).parent / "aidoctor"
# The package index made unreachable: pip's own configuration (extra indexes, find-links) is dropped too.
NO_NETWORK = {"PIP_CONFIG_FILE": "/dev/null", "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
              "AIDOCTOR_INDEX_URL": "http://127.0.0.1:9/pypi"}


@pytest.fixture
def target(provided_torch, tmp_path) -> Path:
    """A fresh copy of the torch template (the user's working torch): its python, as `--python` takes it."""
    return provided_torch.clone(tmp_path / "env")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def aidoctor(tmp_path, shared_cache):
    def run(*args: str, env: dict | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "AIDOCTOR_CACHE_DIR": str(shared_cache), "HOME": str(tmp_path), **(env or {})}
        full_env.pop("VIRTUAL_ENV", None)
        return subprocess.run([str(AIDOCTOR), *args], capture_output=True, text=True, env=full_env, timeout=timeout)

    return run


def state_of(python: Path) -> envstate.EnvState:
    return envstate.capture(LiveSystem(), str(python))


def test_peft_end_to_end_then_again_from_the_wheelhouse_alone(aidoctor, target, tmp_path):
    wheelhouse = tmp_path / "wh"
    before = state_of(target)
    result = aidoctor("install", "peft", "--python", str(target), "--wheelhouse", str(wheelhouse))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "by index" in result.stdout
    assert "smoke test for peft on cpu: passed" in result.stdout
    after = state_of(target)
    assert envstate.changed_protected(before, after) == []
    assert after.version("peft") is not None
    store = Wheelhouse(wheelhouse)
    (peft,) = store.find("peft")
    assert peft.provenance["smoke"]["passed"] is True
    assert peft.provenance["source"].startswith(("https://", "file://"))
    assert store.verify() == []

    # A second environment, the index unreachable: everything comes from the wheelhouse.
    fresh = tmp_path / "fresh"
    shutil.copytree(target.parent.parent, fresh, symlinks=True)
    subprocess.run([str(fresh / "bin" / "python"), "-m", "pip", "uninstall", "-q", "-y", "peft"], check=True)
    plan = aidoctor("install", "peft", "--python", str(fresh / "bin" / "python"), "--wheelhouse", str(wheelhouse),
                    "--dry-run", "--json", env=NO_NETWORK)
    assert json.loads(plan.stdout)["route"] == "wheelhouse", plan.stdout + plan.stderr
    again = aidoctor("install", "peft", "--python", str(fresh / "bin" / "python"), "--wheelhouse", str(wheelhouse),
                     env=NO_NETWORK)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "smoke test for peft on cpu: passed" in again.stdout


def test_trl_installs_and_its_sft_smoke_test_learns(aidoctor, target, tmp_path):
    result = aidoctor("install", "trl", "--python", str(target), "--wheelhouse", str(tmp_path / "wh"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke test for trl on cpu: passed" in result.stdout


def test_bitsandbytes_on_cpu_passes_its_4bit_smoke_test(aidoctor, target, tmp_path, provided_torch):
    result = aidoctor("install", "bitsandbytes", "--python", str(target), "--wheelhouse", str(tmp_path / "wh"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke test for bitsandbytes on cpu: passed" in result.stdout
    assert state_of(target).version("torch") == provided_torch.version


def test_mlx_on_cpu(aidoctor, target, tmp_path):
    result = aidoctor("install", "mlx", "--python", str(target), "--wheelhouse", str(tmp_path / "wh"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke test for mlx on cpu: passed" in result.stdout


def test_an_install_that_wants_another_torch_is_refused_and_torch_stays(aidoctor, target, tmp_path):
    before = state_of(target)
    result = aidoctor("install", "torch==2.15.0", "--python", str(target), "--wheelhouse", str(tmp_path / "wh"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--allow-torch-change" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert envstate.changed_protected(before, state_of(target)) == []


def test_a_smoke_test_that_does_not_learn_rolls_the_install_back(aidoctor, target, tmp_path):
    before = state_of(target)
    # A learning rate of zero: the model cannot learn, so the smoke test must fail and the install be undone.
    result = aidoctor("install", "peft", "--python", str(target), "--wheelhouse", str(tmp_path / "wh"),
                      env={"AIDOCTOR_SMOKE_LR_SCALE": "0"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "smoke test failed" in result.stderr and "rolled back" in result.stderr
    after = state_of(target)
    assert {n: d.version for n, d in after.dists.items()} == {n: d.version for n, d in before.dists.items()}
    assert envstate.changed_protected(before, after) == []
    # The wheel stays in the wheelhouse, marked as failed, so it is not taken next time.
    (peft,) = Wheelhouse(tmp_path / "wh").find("peft")
    assert peft.provenance["smoke"]["passed"] is False


def test_a_wheel_altered_in_the_wheelhouse_is_refused(aidoctor, target, tmp_path):
    wheelhouse = tmp_path / "wh"
    first = aidoctor("install", "peft", "--python", str(target), "--wheelhouse", str(wheelhouse), "--no-smoke")
    assert first.returncode == 0, first.stdout + first.stderr
    subprocess.run([str(target), "-m", "pip", "uninstall", "-q", "-y", "peft"], check=True)
    (peft,) = Wheelhouse(wheelhouse).find("peft")
    with open(peft.path, "ab") as handle:
        handle.write(b"tampered")
    before = state_of(target)
    result = aidoctor("install", "peft", "--python", str(target), "--wheelhouse", str(wheelhouse))
    assert result.returncode == 2, result.stdout + result.stderr
    assert peft.filename in result.stderr and "sha256" in result.stderr
    assert "Traceback" not in result.stderr
    assert state_of(target).version("peft") is None
    assert envstate.differences(before, state_of(target)) == ([], [])


def test_deepspeed_source_build_then_offline_reinstall_from_the_wheelhouse(aidoctor, target, tmp_path):
    wheelhouse = tmp_path / "wh"
    built = aidoctor("install", "deepspeed", "--python", str(target), "--wheelhouse", str(wheelhouse))
    assert built.returncode == 0, built.stdout + built.stderr
    assert "by build" in built.stdout
    assert "smoke test for deepspeed on cpu: passed" in built.stdout
    (wheel,) = Wheelhouse(wheelhouse).find("deepspeed")
    assert wheel.key_id and wheel.provenance["build_flags"]["DS_BUILD_CPU_ADAM"] == "1"
    # The op was compiled into the wheel by the build, not left to a JIT build at first use.
    assert any(name.startswith("deepspeed/ops/adam/cpu_adam_op") and name.endswith(".so")
               for name in zipfile.ZipFile(wheel.path).namelist())
    assert wheel.provenance["smoke"]["passed"] is True

    fresh = tmp_path / "fresh"
    shutil.copytree(target.parent.parent, fresh, symlinks=True)
    subprocess.run([str(fresh / "bin" / "python"), "-m", "pip", "uninstall", "-q", "-y", "deepspeed"], check=True)
    again = aidoctor("install", "deepspeed", "--python", str(fresh / "bin" / "python"),
                     "--wheelhouse", str(wheelhouse), env=NO_NETWORK)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "by wheelhouse" in again.stdout
    assert "smoke test for deepspeed on cpu: passed" in again.stdout


# -- bad input: one line, exit 2, nothing changed --


def test_unknown_tool(aidoctor, target):
    result = aidoctor("install", "flash-atten", "--python", str(target))
    assert result.returncode == 2 and "unknown tool 'flash-atten'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_tool_that_cannot_work_here(aidoctor, target, tmp_path):
    result = aidoctor("install", "xformers", "--python", str(target), "--wheelhouse", str(tmp_path / "wh"))
    assert result.returncode == 2
    assert "xformers cannot be installed here" in result.stderr and "instead:" in result.stderr
    plan = aidoctor("install", "xformers", "--python", str(target), "--wheelhouse", str(tmp_path / "wh"), "--dry-run")
    assert plan.returncode == 2 and "impossible" in plan.stdout and "instead:" in plan.stdout


def test_a_wheelhouse_that_is_not_writable(aidoctor, target):
    result = aidoctor("install", "peft", "--python", str(target), "--wheelhouse", "/proc/aidoctor-wheelhouse")
    assert result.returncode == 2 and "/proc/aidoctor-wheelhouse" in result.stderr and "--wheelhouse" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_python_that_is_not_a_virtual_environment(aidoctor, tmp_path):
    result = aidoctor("install", "peft", "--python", sys.executable if sys.prefix == sys.base_prefix
                      else str(Path(sys.base_prefix) / "bin" / "python3"), "--wheelhouse", str(tmp_path / "wh"))
    assert result.returncode == 2 and "not a virtual environment" in result.stderr


def test_no_network_and_an_empty_wheelhouse(aidoctor, target, tmp_path):
    before = state_of(target)
    result = aidoctor("install", "peft", "--python", str(target), "--wheelhouse", str(tmp_path / "wh"),
                      env=NO_NETWORK)
    assert result.returncode == 2, result.stdout + result.stderr
    # Either the index answer is not cached (the plan says so) or it is, and pip cannot download: both name the cause.
    assert ("package index cannot be read" in result.stderr or "cannot reach the package index" in result.stderr)
    assert "--wheelhouse" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert envstate.differences(before, state_of(target)) == ([], [])


def test_dry_run_prints_every_step_and_changes_nothing(aidoctor, target, tmp_path, provided_torch):
    before = state_of(target)
    result = aidoctor("install", "deepspeed", "--python", str(target), "--wheelhouse", str(tmp_path / "wh"),
                      "--dry-run")
    assert result.returncode == 0, result.stderr
    for expected in ("Plan for deepspeed", "build", "env DS_BUILD_CPU_ADAM=1", "--no-build-isolation",
                     f"torch=={provided_torch.version}", "why:", "smoke"):
        assert expected in result.stdout, expected
    assert envstate.differences(before, state_of(target)) == ([], [])
    assert not (tmp_path / "wh").exists() or not list((tmp_path / "wh").glob("*.whl"))


class RecordingSystem(LiveSystem):
    """The real system, remembering every command it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[tuple[str, ...]] = []

    def run(self, argv, timeout, env=None, cwd=None):
        self.ran.append(tuple(argv))
        return super().run(argv, timeout, env=env, cwd=cwd)


class QuietReporter:
    def step(self, number, total, step) -> None: ...

    def info(self, text) -> None: ...

    def progress(self, done, total) -> None: ...


def test_the_dry_run_argv_is_what_runs_with_each_marker_filled_in(target, tmp_path, monkeypatch):
    """One prepared plan: its --dry-run --json, then the real install; every command matches its step."""
    from aidoctor.doctor.install.argv import ResolvedWheels
    from aidoctor.doctor.install.plan import InstallRequest
    from aidoctor.doctor.install.run import execute, prepare

    monkeypatch.setenv("AIDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    wheelhouse = tmp_path / "wh"
    prepared = prepare(InstallRequest("peft", python=str(target), wheelhouse=wheelhouse, smoke=False, timeout=15))
    dry_run = prepared.plan.to_json()["steps"]  # what `install --dry-run --json` prints for this plan
    system = RecordingSystem()
    execute(prepared, QuietReporter(), system)

    executed = [argv for argv in system.ran if argv[1:3] == ("-m", "pip") and argv[3] != "uninstall"]
    planned = [step for step in dry_run if step["argv"]]
    # Every pip command that ran is a planned one, its marker (if any) filled with wheelhouse files.
    for argv in executed:
        fills = [filled for step in planned if (filled := _filled(step["argv"], argv)) is not None]
        assert fills, f"ran but not in the dry run: {argv}"
    # And the planned commands ran: resolve, fetch and install for peft from the index.
    ran = {step["action"]: [f for argv in executed if (f := _filled(step["argv"], argv)) is not None]
           for step in planned}
    assert len(ran["resolve"]) == len(ran["fetch"]) == len(ran["install"]) == 1
    assert ran["resolve"] == ran["fetch"] == [[]]  # no marker: exactly the dry run's argv
    (wheels,) = ran["install"]
    install = next(step for step in planned if step["action"] == "install")
    assert install["argv"][-1] == ResolvedWheels(wheelhouse).to_json()
    assert wheels and all(Path(a).parent == wheelhouse and a.endswith(".whl") for a in wheels)
    assert any(Path(a).name.startswith("peft-") for a in wheels)


def _filled(planned: list, argv: tuple[str, ...]) -> list[str] | None:
    """What the one marker in `planned` became in `argv` ([] without a marker), or None if `argv` is another command."""
    at = next((i for i, a in enumerate(planned) if not isinstance(a, str)), None)
    if at is None:
        return [] if list(argv) == planned else None
    tail = len(planned) - at - 1
    if list(argv[:at]) != planned[:at] or list(argv[len(argv) - tail:]) != planned[at + 1:] or len(argv) <= at + tail:
        return None
    return list(argv[at:len(argv) - tail])
