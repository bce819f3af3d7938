"""The pure parts of putting an environment back: its drift from a snapshot, the rollback plan, the journal's file,
what Ctrl-C does once a rollback has begun, and the last line a user reads. The real thing, with pip, signals and
kill -9, is tests/integration/test_interrupts.py."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from aidoctor.doctor.core.errors import Interrupted, PendingRepair
from aidoctor.doctor.install import recovery
from aidoctor.doctor.install.envstate import Dist, EnvState, drift

SITE = "/home/u/train/.venv/lib/python3.11/site-packages"


def dist(name: str, version: str, record: str, fingerprint: str | None = None) -> Dist:
    return Dist(name, version, f"{SITE}/{name}-{version}.dist-info", record, fingerprint, ("numpy>=1.17",))


def state(*dists: Dist) -> EnvState:
    return EnvState("/home/u/train/.venv", "/usr", False, SITE, True, "cp311", {d.name: d for d in dists})


TORCH = dist("torch", "2.13.0+cpu", "r-torch", "f-torch")
BEFORE = state(TORCH, dist("filelock", "3.20.0", "r-filelock"), dist("numpy", "2.3.0", "r-numpy-old"))


def test_drift_names_every_difference_and_nothing_when_equal():
    assert drift(BEFORE, BEFORE) == []
    after = state(dist("torch", "2.13.0+cpu", "r-torch", "f-torch-touched"), dist("numpy", "2.4.6", "r-numpy"),
                  dist("accelerate", "1.15.0", "r-acc"))
    assert drift(BEFORE, after) == [
        "accelerate 1.15.0 was added", "filelock 3.20.0 was removed", "numpy is 2.4.6, was 2.3.0",
        "torch 2.13.0+cpu's files changed"]


def test_the_rollback_plan_uninstalls_what_was_added_or_changed_and_restores_the_backup():
    now = state(TORCH, dist("filelock", "3.20.0", "r-filelock"), dist("numpy", "2.4.6", "r-numpy"),
                dist("accelerate", "1.15.0", "r-acc"))
    plan = recovery.plan_rollback(BEFORE, now, ["numpy"])
    assert (plan.remove, plan.restore) == (("accelerate", "numpy"), ("numpy",))
    assert plan.drift == ("accelerate 1.15.0 was added", "numpy is 2.4.6, was 2.3.0")
    assert recovery.plan_rollback(BEFORE, BEFORE, []).empty


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("AIDOCTOR_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_a_journal_reads_back_as_it_was_written(cache):
    journal = recovery.new_journal("/home/u/train/.venv/bin/python", ("/home/u/train/.venv/bin/python", "-m", "pip"),
                                   "accelerate", Path("/c/runs/a-1"), BEFORE)
    journal = recovery.Journal(**{**journal.__dict__, "backup_manifest": "/c/runs/a-1/backup/manifest.json"})
    recovery.write_journal(journal)
    assert journal.path.parent == cache / "journals"
    assert recovery.find_journal(BEFORE.prefix) == journal
    recovery.remove_journal(journal)
    assert recovery.find_journal(BEFORE.prefix) is None


def test_a_damaged_journal_is_one_error_that_says_what_to_do(cache):
    path = recovery.journal_path(BEFORE.prefix)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": "something/9"}))
    with pytest.raises(Exception, match="is damaged .*pip check.*delete"):
        recovery.find_journal(BEFORE.prefix)


def _journal_of(pid: int) -> recovery.Journal:
    journal = recovery.new_journal("/home/u/train/.venv/bin/python", ("/home/u/train/.venv/bin/python", "-m", "pip"),
                                   "accelerate", Path("/c/runs/a-1"), BEFORE)
    return recovery.Journal(**{**journal.__dict__, "pid": pid})


def test_an_install_left_by_a_dead_aidoctor_is_refused_until_repaired(cache):
    recovery.write_journal(_journal_of(2**31 - 1))  # above any pid_max: no such process
    with pytest.raises(PendingRepair, match="did not finish .*`aidoctor repair --python py` .*--dry-run"):
        recovery.refuse_if_unfinished("py", BEFORE)


def test_an_install_in_progress_is_refused_as_such(cache):
    recovery.write_journal(_journal_of(os.getppid()))  # alive: the process that started these tests
    with pytest.raises(PendingRepair, match=f"another aidoctor \\(pid {os.getppid()}\\) is installing"):
        recovery.refuse_if_unfinished("py", BEFORE)


def test_without_a_journal_an_install_may_go_ahead(cache):
    recovery.refuse_if_unfinished("py", BEFORE)


def test_ctrl_c_stops_the_steps_then_warns_once_then_abandons_the_rollback():
    said = []
    shield = recovery.Shield(notice=said.append)
    with pytest.raises(Interrupted) as first:
        shield(signal.SIGINT)
    assert first.value.exit_code == 130 and shield.cleaning
    shield(signal.SIGINT)  # the rollback goes on
    assert said == ["finishing rollback, press Ctrl-C again to abandon it"]
    with pytest.raises(Interrupted):
        shield(signal.SIGINT)
    with pytest.raises(Interrupted):  # raised again at the next safe point, had Python dropped it on the way
        shield.abandoned()
    shield.done = True
    shield(signal.SIGINT)  # the outcome is known: nothing left to interrupt


def test_an_interrupt_lost_on_the_way_still_stops_the_steps():
    shield = recovery.Shield()
    shield.checkpoint()
    with pytest.raises(Interrupted):
        shield(signal.SIGTERM)
    with pytest.raises(Interrupted) as again:
        shield.checkpoint()
    assert again.value.exit_code == 143


def test_the_last_line_says_whether_the_environment_is_back_and_how_to_finish():
    back = recovery.RollbackOutcome("/v/bin/python", 11, ())
    assert back.back and back.summary().startswith("rolled back: the environment is back as it was (verified: its 11")
    left = recovery.RollbackOutcome("/v/bin/python", 11, ("numpy 2.4.6 was added",), abandoned=True,
                                    journal=Path("/c/journals/ab.json"))
    assert not left.back
    assert left.summary() == (
        "the environment is NOT back as it was: rollback abandoned; still different from before: numpy 2.4.6 was "
        "added; the journal /c/journals/ab.json keeps the snapshot; "
        "finish with `aidoctor repair --python /v/bin/python`")


def test_what_a_killed_pip_wrote_before_any_record_is_found_and_removed_and_nothing_else(tmp_path):
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / "torch").mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    env = EnvState(str(tmp_path), "/usr", False, str(site), True, "cp311", {})
    entries = recovery.envstate.list_entries(env)
    # pip, killed half way: a package's files without their dist-info, a console script, and the stash folder
    # it moved an older version into.
    (site / "numpy" / "core").mkdir(parents=True)
    (site / "numpy" / "core" / "multiarray.py").write_text("")
    (site / "~umpy").mkdir()
    (tmp_path / "bin" / "accelerate").write_text("")
    found = recovery.envstate.left_behind(entries)
    assert found == [site / "numpy", site / "~umpy", tmp_path / "bin" / "accelerate"]
    plan = recovery.plan_rollback(env, env, [], found)
    assert plan.left_behind == tuple(str(p) for p in found) and not plan.empty
    recovery.envstate.remove_left_behind(entries)
    assert recovery.envstate.list_entries(env) == entries
    assert (site / "torch").is_dir() and (tmp_path / "bin" / "python").exists()
