"""The environments people have, for real: `uv venv` (no pip inside), `python3 -m venv --system-site-packages`,
relative, linked and folder `--python` paths, a removed active venv.

uv comes from the `test` extra (PyPI's uv wheel). Conda could not be tried: no conda, mamba or micromamba
installs from PyPI, Debian or npm, the only registries this project's machines reach, and conda-forge itself
is not reachable, so a conda env is tested as a layout in tests/unit/test_environments.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aidoctor.doctor.core.system import LiveSystem
from aidoctor.doctor.install import envstate
from aidoctor.doctor.install.pipcmd import PipVia, choose_pip, host_pip


AIDOCTOR = Path(sys.executable).parent / "aidoctor"
PY = ".".join(map(str, sys.version_info[:3]))  # the uv venvs below are made from this interpreter
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")


def run(*argv, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    full = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}  # the test's own venv is not the target
    full.update(env or {})
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd, env=full, timeout=timeout)


@pytest.fixture
def uv_venv(tmp_path) -> Path:
    if UV is None:
        pytest.fail("uv is missing: install the test extra (pip install -e '.[test]')")
    env = tmp_path / "uvenv"
    subprocess.run([UV, "venv", "-q", "--python", sys.executable, str(env)], check=True, timeout=120)
    assert not (env / "bin" / "pip").exists()
    return env


@pytest.mark.network
def test_a_uv_venv_is_named_and_planned_through_aidoctors_pip(uv_venv, tmp_path):
    # today: the plan said `python -m pip ...` and the install died at step 2 "No module named pip"
    result = run(AIDOCTOR, "install", "peft", "--dry-run", "--json", "--python", uv_venv,
                 env={"AIDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    plan = json.loads(result.stdout)
    assert plan["route"] == "index" and plan["pip"]["via"] == "host pip", result.stderr
    prefix = ["-m", "pip", "--python", str(uv_venv / "bin" / "python")]
    commands = [step["argv"] for step in plan["steps"] if step["argv"]]
    assert len(commands) >= 4 and all(argv[1:5] == prefix for argv in commands)
    assert all(Path(argv[0]).parent == AIDOCTOR.parent for argv in commands)  # the Python aidoctor runs in
    header = run(AIDOCTOR, "check", "--offline", "--tool", "peft", "--python", "uvenv", cwd=tmp_path)
    assert "at uvenv (uv venv)" in header.stdout, header.stdout + header.stderr


@pytest.mark.network
def test_aidoctors_pip_and_uvs_pip_install_into_a_uv_venv_and_uninstall_again(uv_venv):
    target = str(uv_venv / "bin" / "python")
    before = envstate.capture(LiveSystem(), target)
    host = choose_pip(target, PY, False, False, host_pip(), None, False)
    assert host.via is PipVia.HOST
    installed = run(*host.argv("install", "-q", "six"), env={"PIP_CONFIG_FILE": "/dev/null"})
    assert installed.returncode == 0, installed.stderr
    assert run(target, "-c", "import six").returncode == 0
    after = envstate.capture(LiveSystem(), target)
    assert envstate.removable(before, after) == ["six"]
    assert run(*host.argv("uninstall", "-y", "six")).returncode == 0
    uv = choose_pip(target, PY, False, False, None, UV, False)
    assert uv.via is PipVia.UV
    report = uv_venv / "report.json"
    resolved = run(*uv.argv("install", "--dry-run", "--quiet", "--report", report, "six"),
                   env={"PIP_CONFIG_FILE": "/dev/null"})
    assert resolved.returncode == 0, resolved.stderr
    assert [i["metadata"]["name"] for i in json.loads(report.read_text())["install"]] == ["six"]
    assert envstate.differences(before, envstate.capture(LiveSystem(), target)) == ([], [])


def test_bootstrapping_pip_into_a_uv_venv_is_undone_by_the_rollback(uv_venv):
    target = str(uv_venv / "bin" / "python")
    before = envstate.capture(LiveSystem(), target)
    bootstrap = choose_pip(target, PY, False, True, None, None, False)
    assert run(target, "-m", "ensurepip").returncode == 0
    after = envstate.capture(LiveSystem(), target)
    added = envstate.removable(before, after)
    assert "pip" in added  # and setuptools where ensurepip still bundles it (Python <= 3.11)
    assert run(*bootstrap.argv("uninstall", "-y", *added)).returncode == 0
    assert envstate.differences(before, envstate.capture(LiveSystem(), target)) == ([], [])


def test_a_system_site_packages_venv_sees_the_base_and_a_rollback_leaves_it(tmp_path):
    env = tmp_path / "ssp"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env)], check=True,
                   timeout=120, cwd=tmp_path)
    base = run(sys.executable, "-I", "-c", "import sys; print(sys.base_prefix)").stdout.strip()
    base_python = Path(base) / "bin" / "python3"
    if not run(base_python, "-c", "import pip").returncode == 0:
        pytest.skip(f"the base Python {base_python} has no pip to see from the venv")
    state = envstate.capture(LiveSystem(), str(env / "bin" / "python"))
    assert "pip" in state.dists and not state.dists["pip"].in_env  # the base's, seen through system site-packages
    assert envstate.removable(state, state) == []
    manifest = envstate.backup(state, ["pip"], tmp_path / "backup")
    assert json.loads(manifest.read_text()) == {}
    header = run(AIDOCTOR, "check", "--offline", "--tool", "peft", "--python", "ssp/bin/python", cwd=tmp_path)
    assert "at ssp (venv, system site-packages)" in header.stdout, header.stdout + header.stderr


def test_relative_linked_and_folder_paths_and_a_removed_active_venv(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "ds")], check=True, timeout=120)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "trainpy").symlink_to(tmp_path / "ds" / "bin" / "python")
    for given in ("ds/bin/python", "ds", "./ds/", "bin/trainpy"):
        result = run(AIDOCTOR, "check", "--offline", "--tool", "peft", "--python", given, cwd=tmp_path)
        assert result.returncode == 0, (given, result.stderr)
        assert "at ds (venv)" in result.stdout, (given, result.stdout)
    explained = run(AIDOCTOR, "explain", "peft", "--offline", "--python", "ds", cwd=tmp_path)
    assert "at ds (venv)" in explained.stdout, explained.stdout + explained.stderr
    gone = run(AIDOCTOR, "check", "--offline", env={"VIRTUAL_ENV": str(tmp_path / "removed")})
    assert gone.returncode == 2
    assert gone.stderr.strip().count("\n") == 0 and "VIRTUAL_ENV" in gone.stderr


@pytest.mark.network
def test_peft_installs_into_a_uv_venv_with_torch_and_its_smoke_test_learns(uv_venv, tmp_path, provided_torch):
    subprocess.run([UV, "pip", "install", "-q", "--python", str(uv_venv / "bin" / "python"),
                    str(provided_torch.wheel)],
                   check=True, timeout=900)
    before = envstate.capture(LiveSystem(), str(uv_venv / "bin" / "python"))
    result = run(AIDOCTOR, "install", "peft", "--python", uv_venv, "--wheelhouse", tmp_path / "wh",
                 env={"AIDOCTOR_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(uv venv)" in result.stdout and "pip: the target has no pip" in result.stdout
    assert "smoke test for peft on cpu: passed" in result.stdout
    after = envstate.capture(LiveSystem(), str(uv_venv / "bin" / "python"))
    assert envstate.changed_protected(before, after) == [] and after.version("peft") is not None
    assert "pip" not in after.dists  # nothing was bootstrapped: aidoctor's pip did the work


@pytest.mark.network
def test_a_relative_python_is_planned_absolute_for_the_build_that_runs_elsewhere(tmp_path):
    # today: the source build ran `ds/bin/python -m pip wheel ...` in its build folder and failed
    # "ds/bin/python: No such file or directory" (a real deepspeed build from `--python ds/bin/python` passed after)
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "ds")], check=True, timeout=120)
    result = run(AIDOCTOR, "install", "deepspeed", "--dry-run", "--json", "--python", "ds/bin/python", cwd=tmp_path,
                 env={"AIDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    plan = json.loads(result.stdout)
    assert plan["route"] == "build", result.stdout + result.stderr
    build = next(step for step in plan["steps"] if step["action"] == "build")
    assert build["argv"][0] == str(tmp_path / "ds" / "bin" / "python")
