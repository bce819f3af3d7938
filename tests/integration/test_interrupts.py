"""Ctrl-C, SIGTERM and kill -9 during a real `aidoctor install`: the environment ends as it was, and says so.

A real install of accelerate (16 wheels, its smoke test trains in the target Python) into a copy of a venv that
holds torch as pip picks it here (tests/torch_provider.py), from a wheelhouse filled once per module from the package index (then the index is made
unreachable, so each case installs as a user's second machine would). The test signals aidoctor the way a terminal
does, after the header of the step it aims at has appeared on aidoctor's output, and then checks what a user would:
the exit code, the last line, `pip freeze`, `pip check`, torch's fingerprint and every distribution's RECORD
against before, and that no process of this run is left.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aidoctor.doctor.core.system import LiveSystem
from aidoctor.doctor.install import envstate

from ..torch_provider import relocate

pytestmark = pytest.mark.network  # the wheelhouse is filled from the package index once

AIDOCTOR = Path(sys.executable).parent / "aidoctor"
NO_NETWORK = {"PIP_CONFIG_FILE": "/dev/null", "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
              "AIDOCTOR_INDEX_URL": "http://127.0.0.1:9/pypi"}
STEPS = 9  # the wheelhouse route's steps for accelerate, checked against the plan in `seeded`
INSTALL_STEP = 7  # "Install from the wheelhouse only"
TIMEOUT = 300


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def template(provided_torch) -> Path:
    """A venv with torch as pip picks it here (tests/torch_provider.py): the user's working environment."""
    return provided_torch.template


def _copy(source: str, dest: str) -> None:
    # torch, triton and the CUDA libraries are never written by an install (pinned, and their fingerprint is
    # checked): a hard link costs nothing; every other file is a real copy the case may change.
    if any(f"/site-packages/{name}/" in source for name in ("torch", "triton", "nvidia")):
        os.link(source, dest)
    else:
        shutil.copy2(source, dest)


def clone(template: Path, where: Path) -> Path:
    shutil.copytree(template, where, symlinks=True, copy_function=_copy)
    relocate(where, template)  # its scripts and pyvenv.cfg name the copy
    return where / "bin" / "python"


@pytest.fixture
def target(template, tmp_path) -> Path:
    return clone(template, tmp_path / "env")


def _env(cache: Path, home: Path, offline: bool = True) -> dict:
    env = {**os.environ, "AIDOCTOR_CACHE_DIR": str(cache), "HOME": str(home), "COLUMNS": "200",
           **(NO_NETWORK if offline else {})}
    env.pop("VIRTUAL_ENV", None)
    return env


@pytest.fixture(scope="module")
def seeded(template, cache, tmp_path_factory) -> Path:
    """The wheelhouse after one real install from the index: every case then installs from it alone."""
    work = tmp_path_factory.mktemp("seed")
    python = clone(template, work / "env")
    wheelhouse = work / "wh"
    done = subprocess.run([str(AIDOCTOR), "install", "accelerate", "--python", str(python),
                           "--wheelhouse", str(wheelhouse), "--no-smoke"], capture_output=True, text=True,
                          env=_env(cache, work, offline=False), timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    plan = subprocess.run([str(AIDOCTOR), "install", "accelerate", "--python", str(template / "bin" / "python"),
                           "--wheelhouse", str(wheelhouse), "--dry-run", "--json"], capture_output=True, text=True,
                          env=_env(cache, work), timeout=TIMEOUT)
    steps = json.loads(plan.stdout)["steps"]
    assert (json.loads(plan.stdout)["route"], len(steps)) == ("wheelhouse", STEPS), plan.stdout
    assert steps[INSTALL_STEP - 1]["title"] == "Install from the wheelhouse only"
    return wheelhouse


# -- what a user checks afterwards --


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PIP_CONFIG_FILE": "/dev/null"})


def snapshot(python: Path) -> dict:
    state = envstate.capture(LiveSystem(), str(python))
    return {"freeze": _pip(python, "freeze", "--all").stdout, "check": _pip(python, "check").returncode,
            "dists": {name: (d.version, d.record_sha256, d.fingerprint) for name, d in state.dists.items()},
            "torch": (state.dists["torch"].record_sha256, state.dists["torch"].fingerprint),
            "entries": entries_of(state)}


def entries_of(state: envstate.EnvState) -> dict[str, list[str]]:
    """What is in site-packages and bin, owned by a distribution or not (a killed pip leaves files no RECORD names)."""
    return {str(folder): sorted(os.listdir(folder)) for folder in (Path(state.purelib), Path(state.prefix) / "bin")}


def processes_using(env: Path) -> list[str]:
    """Every process whose command line names the environment (its python, its pip): none may outlive aidoctor."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(env) in cmdline:
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


def journals(cache: Path, python: Path) -> list[Path]:
    """The install journals left for this case's environment."""
    prefix = str(python.parent.parent)
    return [path for path in sorted((cache / "journals").glob("*.json"))
            if json.loads(path.read_text())["prefix"] == prefix]


class Install:
    """`aidoctor install accelerate` running, its output read line by line as a terminal shows it."""

    def __init__(self, python: Path, wheelhouse: Path, cache: Path, home: Path) -> None:
        self.proc = subprocess.Popen(
            [str(AIDOCTOR), "install", "accelerate", "--python", str(python), "--wheelhouse", str(wheelhouse)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(cache, home))
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()  # a hung aidoctor must fail the test, not hang it

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} within {timeout} s:\n" + "".join(self.lines)) from None
            if line is None:
                raise AssertionError(f"aidoctor ended before {text!r}:\n" + "".join(self.lines))
            self.lines.append(line)
            if text in line:
                return

    def signal(self, signum: int = signal.SIGINT) -> None:
        self.proc.send_signal(signum)

    def finish(self) -> tuple[int, str]:
        code = self.proc.wait(timeout=TIMEOUT)
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code, "".join(self.lines)


def wait_until_pip_writes(site_packages: Path, before: set[str], timeout: float = 60) -> str:
    """The first new entry pip puts into site-packages: pip is then in the middle of the install."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = {p.name for p in site_packages.iterdir()} - before
        if new:
            return sorted(new)[0]
        time.sleep(0.01)
    raise AssertionError("pip wrote nothing into site-packages")


def site_packages(python: Path) -> Path:
    return Path(envstate.capture(LiveSystem(), str(python)).purelib)


def install_until_pip_writes(target: Path, seeded: Path, cache: Path, home: Path) -> Install:
    """An install started and left running until pip has put its first new entry into site-packages."""
    packages = site_packages(target)
    present = {p.name for p in packages.iterdir()}
    install = Install(target, seeded, cache, home)
    install.wait_for(f"[{INSTALL_STEP}/{STEPS}]")
    wait_until_pip_writes(packages, present)
    return install


def assert_back_as_it_was(code: int, output: str, python: Path, before: dict, cache: Path, exit_code: int = 130):
    # What the environment is comes first, then what aidoctor says about it.
    assert processes_using(python.parent.parent) == [], output
    after = snapshot(python)
    assert after["freeze"] == before["freeze"], output
    assert after["check"] == before["check"] == 0, output
    assert after["torch"] == before["torch"], output
    assert after["dists"] == before["dists"], output
    assert after["entries"] == before["entries"], output
    assert journals(cache, python) == []
    last = output.strip().splitlines()[-1]
    assert code == exit_code, output
    assert "back as it was" in last and "NOT back" not in last, output
    assert "Traceback" not in output


# -- the cases --


@pytest.mark.parametrize("step", range(1, STEPS + 1))
def test_ctrl_c_at_each_step_leaves_the_environment_as_it_was(step, seeded, target, cache, tmp_path):
    before = snapshot(target)
    install = Install(target, seeded, cache, tmp_path)
    install.wait_for(f"[{step}/{STEPS}]")
    install.signal()
    code, output = install.finish()
    assert_back_as_it_was(code, output, target, before, cache)
    assert "interrupted by Ctrl-C (SIGINT) at step " in output, output


def test_ctrl_c_while_pip_is_writing_the_install(seeded, target, cache, tmp_path):
    before = snapshot(target)
    install = install_until_pip_writes(target, seeded, cache, tmp_path)
    assert journals(cache, target), "the journal must exist before pip changes anything"
    install.signal()
    code, output = install.finish()
    assert_back_as_it_was(code, output, target, before, cache)
    assert f"at step {INSTALL_STEP}/{STEPS}" in output, output


def test_sigterm_while_pip_resolves_stops_it_and_exits_143(seeded, target, cache, tmp_path):
    before = snapshot(target)
    install = Install(target, seeded, cache, tmp_path)
    install.wait_for(f"[2/{STEPS}]")
    time.sleep(0.5)  # pip is reading the wheelhouse by now
    install.signal(signal.SIGTERM)
    code, output = install.finish()
    assert_back_as_it_was(code, output, target, before, cache, exit_code=143)
    assert "interrupted by signal 15 (SIGTERM)" in output, output


def test_a_second_ctrl_c_does_not_stop_the_rollback(seeded, target, cache, tmp_path):
    before = snapshot(target)
    install = install_until_pip_writes(target, seeded, cache, tmp_path)
    install.signal()
    install.wait_for("rolling back")
    install.signal()
    code, output = install.finish()
    assert_back_as_it_was(code, output, target, before, cache)
    assert "finishing rollback, press Ctrl-C again to abandon it" in output, output


def test_a_third_ctrl_c_abandons_the_rollback_then_repair_finishes_it(seeded, target, cache, tmp_path):
    before = snapshot(target)
    install = install_until_pip_writes(target, seeded, cache, tmp_path)
    install.signal()
    install.wait_for("rolling back")
    install.signal()
    install.wait_for("finishing rollback")
    install.signal()
    code, output = install.finish()
    last = output.strip().splitlines()[-1]
    assert code == 130, output
    assert "NOT back as it was: rollback abandoned" in last, output
    (journal,) = journals(cache, target)
    assert str(journal) in last and f"aidoctor repair --python {target}" in last
    assert processes_using(target.parent.parent) == []
    repaired = subprocess.run([str(AIDOCTOR), "repair", "--python", str(target)], capture_output=True, text=True,
                              env=_env(cache, tmp_path), timeout=TIMEOUT)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "back as it was" in repaired.stdout.strip().splitlines()[-1]
    assert_back_as_it_was(0, repaired.stdout, target, before, cache, exit_code=0)


def test_kill_9_mid_install_leaves_a_journal_that_blocks_the_next_install_until_repaired(seeded, target, cache,
                                                                                         tmp_path):
    before = snapshot(target)
    install = install_until_pip_writes(target, seeded, cache, tmp_path)
    install.signal(signal.SIGKILL)
    install.finish()
    time.sleep(0.5)  # pip got SIGTERM as its parent died; give it the moment to go
    assert processes_using(target.parent.parent) == []
    (journal,) = journals(cache, target)
    assert snapshot(target)["entries"] != before["entries"]  # pip had begun: the environment is half changed

    refused = subprocess.run([str(AIDOCTOR), "install", "accelerate", "--python", str(target), "--wheelhouse",
                              str(seeded)], capture_output=True, text=True, env=_env(cache, tmp_path), timeout=TIMEOUT)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"aidoctor repair --python {target}" in refused.stderr and "did not finish" in refused.stderr

    dry = subprocess.run([str(AIDOCTOR), "repair", "--python", str(target), "--dry-run"], capture_output=True,
                         text=True, env=_env(cache, tmp_path), timeout=TIMEOUT)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert str(journal) in dry.stdout and "uninstall" in dry.stdout and journal.exists()

    repaired = subprocess.run([str(AIDOCTOR), "repair", "--python", str(target)], capture_output=True, text=True,
                              env=_env(cache, tmp_path), timeout=TIMEOUT)
    assert_back_as_it_was(repaired.returncode, repaired.stdout, target, before, cache, exit_code=0)

    again = subprocess.run([str(AIDOCTOR), "install", "accelerate", "--python", str(target), "--wheelhouse",
                            str(seeded), "--no-smoke"], capture_output=True, text=True, env=_env(cache, tmp_path),
                           timeout=TIMEOUT)
    assert again.returncode == 0, again.stdout + again.stderr
    assert snapshot(target)["check"] == 0 and journals(cache, target) == []
