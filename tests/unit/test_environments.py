"""The environments people train in: which Python is the target, what kind of environment it is, which pip
runs for it, and what a conda or --system-site-packages environment must keep.

The folders here are written with files only (a pyvenv.cfg, a bin/python symlink): nothing runs. The
pyvenv.cfg texts are the ones `uv venv` 0.13.9 and `python3 -m venv` (CPython 3.11.7) wrote on the
development VM; the conda-meta record follows the format conda writes for every package it links
(conda/models/records.py, PrefixRecord: name, version, build, channel, files relative to the prefix), trimmed to
a few files. No real conda environment could be made here (see tests/integration/test_environments.py).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from aidoctor.doctor.check.engine import Report
from aidoctor.doctor.probes.pyenv import target_python
from aidoctor.doctor.core.errors import BadInput, TargetPythonError
from aidoctor.doctor.install import envstate
from aidoctor.doctor.install.envstate import Dist, EnvState, parse_env_state
from aidoctor.doctor.install.pipcmd import HostPip, NoPip, PipRoute, PipVia, choose_pip
from aidoctor.doctor.install.plan import Action, Route
from aidoctor.doctor.probes import target_script
from aidoctor.doctor.probes.pyenv import parse_target_report
from aidoctor.doctor.probes.target import (
    EnvKind, Environment, choose_target, describe_environment, display_path,
)
from aidoctor.doctor.render.terminal import make_console, python_line, render_check

UV_CFG = ("home = /root/.pyenv/versions/3.11.7/bin\nimplementation = CPython\nuv = 0.13.9\nversion_info = 3.11.7\n"
          "include-system-site-packages = false\n")
VENV_SSP_CFG = ("home = /root/.pyenv/versions/3.11.7/bin\ninclude-system-site-packages = true\nversion = 3.11.7\n"
                "executable = /root/.pyenv/versions/3.11.7/bin/python3.11\n"
                "command = /root/.pyenv/versions/3.11.7/bin/python3 -m venv --system-site-packages /tmp/envt/ssp\n")


def venv(folder: Path, cfg: str = UV_CFG) -> Path:
    """A venv's layout: pyvenv.cfg and bin/python linking to the base interpreter, as venv and uv make it."""
    (folder / "bin").mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text(cfg)
    (folder / "bin" / "python").symlink_to(sys.executable)
    return folder / "bin" / "python"


# -- choosing the target: once, at the CLI boundary --


def test_a_relative_python_becomes_absolute_without_leaving_the_venv(tmp_path, monkeypatch):
    # today: kept relative, so a build running in its own folder failed "ds/bin/python: No such file or directory"
    python = venv(tmp_path / "ds")
    monkeypatch.chdir(tmp_path)
    chosen = choose_target("ds/bin/python", {})
    assert chosen == str(python)  # absolute() keeps bin/python; resolve() would give the base interpreter
    assert Path(chosen).is_absolute() and Path(chosen).resolve() != Path(chosen)


def test_a_venv_folder_means_its_interpreter(tmp_path, monkeypatch):
    # today: "--python .venv: not a Python interpreter (Permission denied)"
    python = venv(tmp_path / ".venv")
    monkeypatch.chdir(tmp_path)
    assert choose_target(".venv", {}) == str(python)
    assert choose_target(str(tmp_path / ".venv") + "/", {}) == str(python)


def test_a_folder_without_an_interpreter_is_a_usage_error(tmp_path):
    with pytest.raises(TargetPythonError, match="folder with no bin/python"):
        choose_target(str(tmp_path), {})


def test_a_link_outside_the_venv_is_followed_into_it(tmp_path):
    # Python finds its venv from pyvenv.cfg beside the path it was started by: ~/bin/trainpy -> .venv/bin/python
    # would start the base interpreter, outside the venv (checked with a real venv on the development VM).
    python = venv(tmp_path / "train" / ".venv")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "trainpy").symlink_to(python)
    assert choose_target(str(tmp_path / "bin" / "trainpy"), {}) == str(python)


def test_a_link_to_a_plain_interpreter_stays_as_given(tmp_path):
    (tmp_path / "base" / "bin").mkdir(parents=True)
    (tmp_path / "base" / "bin" / "python3").write_text("")  # a base interpreter: no pyvenv.cfg near it
    (tmp_path / "py").symlink_to(tmp_path / "base" / "bin" / "python3")
    assert choose_target(str(tmp_path / "py"), {}) == str(tmp_path / "py")


def test_a_command_name_is_left_to_path():
    assert choose_target("python3.12", {}) == "python3.12"


def test_the_active_venv_then_conda_env(tmp_path):
    python = venv(tmp_path / "v")
    conda = tmp_path / "miniforge3" / "envs" / "train"
    (conda / "bin").mkdir(parents=True)
    (conda / "conda-meta").mkdir()
    (conda / "bin" / "python").symlink_to(sys.executable)
    assert choose_target(None, {"VIRTUAL_ENV": str(tmp_path / "v"), "CONDA_PREFIX": str(conda)}) == str(python)
    assert choose_target(None, {"CONDA_PREFIX": str(conda)}) == str(conda / "bin" / "python")


def test_a_removed_active_venv_is_an_error_not_another_python(tmp_path):
    # today: target_python (before: default_python) fell back to python3 on PATH in silence
    with pytest.raises(BadInput, match=r"VIRTUAL_ENV is .*gone, which has no bin/python .*deactivate it"):
        target_python(None, {"VIRTUAL_ENV": str(tmp_path / "gone")})


# -- naming the environment --


@pytest.mark.parametrize("prefix, base, cfg, conda, root, label", [
    ("/w/.venv", "/usr", UV_CFG, False, False, "uv venv"),
    ("/w/ssp", "/usr", VENV_SSP_CFG, False, False, "venv, system site-packages"),
    ("/w/v", "/usr", "home = /usr/bin\nvirtualenv = 20.26.6\n", False, False, "virtualenv"),
    ("/opt/miniforge3/envs/train", "/opt/miniforge3/envs/train", None, True, False, "conda env train"),
    ("/opt/miniforge3", "/opt/miniforge3", None, True, True, "conda env base"),
    ("/usr", "/usr", None, False, False, "no virtual environment"),
], ids=["uv", "system-site-packages", "virtualenv", "conda-named", "conda-base", "system"])
def test_the_environment_kind(prefix, base, cfg, conda, root, label):
    assert describe_environment(prefix, base, cfg, conda, root).label() == label


def test_the_path_is_shown_as_typed_here():
    assert display_path("/home/ana/train/.venv", Path("/home/ana/train"), Path("/home/ana")) == ".venv"
    assert display_path("/home/ana/other/.venv", Path("/home/ana/train"), Path("/home/ana")) == "~/other/.venv"
    assert display_path("/opt/env", Path("/home/ana"), Path("/home/ana")) == "/opt/env"


def test_the_target_report_carries_the_environment_as_an_identifier():
    report = {"python": "3.11.7", "prefix": "/w/.venv", "base_prefix": "/usr", "conda": False,
              "conda_root": False, "pyvenv_cfg": UV_CFG, "packages": {}, "requires": {}, "errors": {}}
    part = parse_target_report(json.dumps(report))
    assert Environment.from_json(part.identifiers["environment"]) == Environment("/w/.venv", EnvKind.UV_VENV)


def test_the_check_header_names_the_environment_and_the_json_does_not(tmp_path, monkeypatch):
    from aidoctor.doctor.check.profiles import load

    monkeypatch.chdir(tmp_path)
    machine = load("graviton").machine
    environment = Environment(str(tmp_path / ".venv"), EnvKind.UV_VENV)
    assert python_line(machine, environment) == f"Python {machine.python} at .venv (uv venv)"
    report = Report("this machine", machine, (), environment=environment)
    import io

    stream = io.StringIO()
    render_check(report, make_console(stream, 120, False))
    assert f"Python {machine.python} at .venv (uv venv)" in stream.getvalue()
    assert str(tmp_path) not in json.dumps(report.to_json())


# -- which pip runs for the target --

HOST = HostPip("/home/ana/.local/share/pipx/venvs/aidoctor/bin/python", "25.3", ">=3.9")


def test_the_targets_own_pip_first():
    route = choose_pip("/w/.venv/bin/python", "3.11.7", True, False, HOST, "/usr/bin/uv", False)
    assert route.prefix == ("/w/.venv/bin/python", "-m", "pip")


def test_without_pip_aidoctors_pip_acts_on_the_target():
    route = choose_pip("/w/.venv/bin/python", "3.11.7", False, False, HOST, "/usr/bin/uv", False)
    assert route.via is PipVia.HOST
    assert route.argv("uninstall", "-y", "peft") == (HOST.python, "-m", "pip", "--python", "/w/.venv/bin/python",
                                                     "uninstall", "-y", "peft")


@pytest.mark.parametrize("host", [None, HostPip("/x/python", "22.2", None), HostPip("/x/python", "25.3", ">=3.12")],
                         ids=["no-pip", "before-22.3", "target-too-old"])
def test_uv_runs_pip_when_aidoctors_pip_cannot(host):
    route = choose_pip("/w/.venv/bin/python", "3.11.7", False, False, host, "/usr/bin/uv", True)
    assert route.via is PipVia.UV
    assert route.prefix == ("/usr/bin/uv", "tool", "run", "--offline", "--from", "pip", "pip", "--python",
                            "/w/.venv/bin/python")


def test_bootstrap_only_with_consent_and_otherwise_a_refusal_that_says_what_to_do():
    route = choose_pip("/w/.venv/bin/python", "3.11.7", False, True, None, None, False)
    assert route.via is PipVia.BOOTSTRAP
    refused = choose_pip("/w/.venv/bin/python", "3.11.7", False, False, None, None, False)
    assert isinstance(refused, NoPip)
    assert "--bootstrap-pip" in refused.fix and "uv" in refused.fix


def plan(route, state_dists=None, **request):
    from tests.unit.test_plan import PATHS, environment, wheel  # noqa: F401 - the planner's own fixtures
    from aidoctor.doctor.check.verdicts import evaluate
    from aidoctor.doctor.install.plan import InstallRequest, make_plan
    from aidoctor.recipes import all_tools, watched_dists

    tool = all_tools()["peft"]
    machine, state = environment("graviton")
    if state_dists is not None:
        state = replace(state, dists=state_dists)
    available = wheel("0.21.2", "peft-0.21.2-py3-none-any.whl")
    verdict = evaluate(tool, machine, available, watched_dists())
    return make_plan(InstallRequest("peft", python="/w/.venv/bin/python", **request), tool, machine, verdict,
                     available, [], state, PATHS, route)


def test_every_pip_command_of_the_plan_goes_through_the_chosen_route():
    # today: `python -m pip ...` whatever the target held; a uv venv failed at step 2, "No module named pip"
    route = choose_pip("/w/.venv/bin/python", "3.11.7", False, False, HOST, None, False)
    planned = plan(route)
    commands = [s.argv for s in planned.steps if s.argv]
    assert commands and all(argv[:5] == route.prefix for argv in commands)
    assert planned.to_json()["pip"]["via"] == "host pip"


def test_a_target_without_pip_and_no_way_to_run_one_is_refused_at_plan_time():
    planned = plan(NoPip("/w/.venv/bin/python has no pip", "rerun with --bootstrap-pip"))
    assert planned.route is Route.IMPOSSIBLE and planned.alternative == "rerun with --bootstrap-pip"


def test_bootstrap_puts_pip_in_first():
    route = choose_pip("/w/.venv/bin/python", "3.11.7", False, True, None, None, False)
    planned = plan(route, bootstrap_pip=True)
    assert [s.action for s in planned.steps][:2] == [Action.PIN, Action.BOOTSTRAP_PIP]
    assert planned.steps[1].argv == ("/w/.venv/bin/python", "-m", "ensurepip")


# -- conda's torch and a system site-packages base --

CONDA_TORCH = Dist("torch", "2.5.1", "/opt/mf/envs/t/lib/python3.11/site-packages/torch-2.5.1.dist-info", "r" * 64,
                   "f" * 64, installer="conda")


def test_conda_torch_stays_pinned_even_with_allow_torch_change():
    route = PipRoute(PipVia.TARGET, ("/w/bin/python", "-m", "pip"), "the target's own pip")
    planned = plan(route, {"torch": CONDA_TORCH}, allow_torch_change=True)
    assert planned.steps[0].detail[0] == "torch==2.5.1"
    assert any("installed by conda" in note for note in planned.notes)


def test_the_target_script_finds_conda_packages_from_conda_meta(tmp_path, monkeypatch):
    prefix = tmp_path / "envs" / "t"
    dist_info = prefix / "lib" / "python3.11" / "site-packages" / "torch-2.5.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "INSTALLER").write_text("pip\n")  # a pip-built conda package that kept pip's word
    record = {"name": "pytorch", "version": "2.5.1", "build": "cpu_mkl_py311_h0a2d57b_108", "build_number": 108,
              "channel": "https://conda.anaconda.org/conda-forge/linux-64", "subdir": "linux-64",
              "fn": "pytorch-2.5.1-cpu_mkl_py311_h0a2d57b_108.conda", "requested_spec": "pytorch",
              "files": ["lib/python3.11/site-packages/torch-2.5.1.dist-info/INSTALLER",
                        "lib/python3.11/site-packages/torch-2.5.1.dist-info/METADATA",
                        "lib/python3.11/site-packages/torch/__init__.py"]}
    monkeypatch.setattr(target_script.sys, "prefix", str(prefix))
    assert target_script.installer(str(dist_info), [json.dumps(record)]) == "conda"
    assert target_script.installer(str(dist_info), []) == "pip"
    (dist_info / "INSTALLER").write_text("conda\n")  # what conda-build writes (conda/conda-build@f914e7b)
    assert target_script.installer(str(dist_info), []) == "conda"


def state_json(**torch) -> str:
    return json.dumps({"prefix": "/w/ssp", "base_prefix": "/usr", "conda": False, "purelib": "/w/ssp/lib",
                       "writable": True, "python_tag": "cp311", "dists": {
                           "torch": {"name": "torch", "version": "2.15.0", "dist_info": "/usr/lib/torch.dist-info",
                                     "record_sha256": "r", "fingerprint": "f", "installer": "pip", **torch},
                           "attrs": {"name": "attrs", "version": "23.1.0", "dist_info": "/usr/lib/attrs.dist-info",
                                     "record_sha256": "a", "in_env": False}}})


def test_a_system_site_packages_torch_is_seen_and_pinned():
    state = parse_env_state(state_json(in_env=False))
    assert state.pins() == ["torch==2.15.0"] and not state.dists["torch"].in_env


def test_a_rollback_never_removes_or_restores_a_base_distribution(tmp_path):
    before = parse_env_state(state_json(in_env=False))
    # pip installed attrs 25.3.0 into the venv over the base's 23.1.0, and a new package
    after = replace(before, dists={**before.dists,
                                   "attrs": Dist("attrs", "25.3.0", "/w/ssp/lib/attrs.dist-info", "b"),
                                   "peft": Dist("peft", "0.21.2", "/w/ssp/lib/peft.dist-info", "p")})
    assert sorted(envstate.removable(before, after)) == ["attrs", "peft"]
    base_only = replace(after, dists={**after.dists, "attrs": replace(before.dists["attrs"], version="9")})
    assert envstate.removable(before, base_only) == ["peft"]
    manifest = envstate.backup(before, ["attrs"], tmp_path / "backup")
    assert json.loads(manifest.read_text()) == {}  # pip leaves the base's attrs where it is: nothing to put back


def test_the_env_state_script_says_which_distributions_lie_outside_the_environment(tmp_path):
    inside = tmp_path / "venv" / "lib" / "x.dist-info"
    inside.mkdir(parents=True)
    assert target_script.inside(str(inside), str(tmp_path / "venv"))
    assert not target_script.inside(str(inside), str(tmp_path / "ven"))
    os.symlink(tmp_path / "venv", tmp_path / "link")
    assert target_script.inside(str(tmp_path / "link" / "lib" / "x.dist-info"), str(tmp_path / "venv"))


def test_an_old_state_without_the_new_fields_reads_as_inside_and_not_conda():
    state = parse_env_state(state_json())
    assert state.dists["attrs"].in_env is False and state.dists["torch"].in_env is True
    assert EnvState.conda_pins(state) == []
