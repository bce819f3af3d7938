"""Putting an environment back: the one rollback, the journal a crash leaves behind, and `aidoctor repair`.

An install writes a journal before its first change to the target environment: the target Python, the snapshot
of the environment taken before (every distribution with its version and RECORD digest, torch's fingerprint), the
run folder with its backup, and aidoctor's process id. A finished install or a verified rollback removes it. A
journal whose process is gone is an install that was killed (kill -9, a power cut) half way: the next install into
that environment refuses to start, and `aidoctor repair` rolls the environment back to the snapshot with the same
`roll_back` an interrupted install uses.

Once a rollback begins it runs to the end: the first Ctrl-C (or SIGTERM) only says so, the next abandons it, and
the outcome says what is then still different and how to finish.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from ..core.errors import AidoctorError, Interrupted, PendingRepair
from ..core.jsonio import utc_timestamp, write_atomically
from ..core.paths import journals_dir
from ..core.system import System, process_alive, stop_children
from . import envstate
from .envstate import EnvState

JOURNAL_FORMAT = "aidoctor.journal/1"
UNINSTALL_TIMEOUT = 600.0


# -- the journal --


@dataclass(frozen=True)
class Journal:
    path: Path
    python: str
    pip: tuple[str, ...]  # how the install ran pip for the target (pipcmd.PipRoute.prefix): a repair does the same
    prefix: str  # the environment's sys.prefix: what the journal is keyed by
    pid: int
    started: str
    tool: str
    run_dir: str
    snapshot: EnvState
    entries: Mapping[str, list[str]] = field(default_factory=dict)  # envstate.list_entries before the first change
    backup_manifest: str | None = None  # set once the backup of what the install replaces is complete

    def to_json(self) -> dict:
        return {"format": JOURNAL_FORMAT, "python": self.python, "pip": list(self.pip), "prefix": self.prefix,
                "pid": self.pid,
                "started": self.started, "tool": self.tool, "run_dir": self.run_dir, "entries": dict(self.entries),
                "backup_manifest": self.backup_manifest, "snapshot": self.snapshot.to_json()}

    def owner_running(self) -> bool:
        """Whether the aidoctor that wrote it still runs (then it is an install in progress, not a crash)."""
        return self.pid != os.getpid() and process_alive(self.pid)


def journal_path(prefix: str) -> Path:
    key = hashlib.sha256(os.path.realpath(prefix).encode()).hexdigest()[:16]
    return journals_dir() / f"{key}.json"


def new_journal(python: str, pip: tuple[str, ...], tool: str, run_dir: Path, snapshot: EnvState) -> Journal:
    """Called right before the first change: the folders pip writes to are listed as they are now."""
    return Journal(journal_path(snapshot.prefix), python, tuple(pip), snapshot.prefix, os.getpid(), utc_timestamp(), tool,
                   str(run_dir), snapshot, envstate.list_entries(snapshot))


def write_journal(journal: Journal) -> None:
    write_atomically(journal.path, json.dumps(journal.to_json(), indent=1))


def parse_journal(path: Path, text: str) -> Journal:
    """Raises ValueError on anything but a journal of this format."""
    try:
        data = json.loads(text)
        if data.get("format") != JOURNAL_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {JOURNAL_FORMAT}")
        return Journal(path, str(data["python"]), tuple(str(a) for a in data["pip"]), str(data["prefix"]), int(data["pid"]), str(data["started"]),
                       str(data["tool"]), str(data["run_dir"]), envstate.state_from_json(data["snapshot"]),
                       {str(k): [str(n) for n in v] for k, v in dict(data.get("entries") or {}).items()},
                       data.get("backup_manifest"))
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a journal ({exc.__class__.__name__}: {exc})") from None


def find_journal(prefix: str) -> Journal | None:
    """The journal of an unfinished install into the environment at `prefix`, if there is one."""
    path = journal_path(prefix)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AidoctorError(f"cannot read the install journal {path}: {exc.strerror or exc}") from None
    try:
        return parse_journal(path, text)
    except ValueError as exc:
        raise AidoctorError(f"the install journal {path} is damaged ({exc}); nothing can be rolled back from it: "
                            f"check the environment with `pip check`, then delete {path}") from None


def remove_journal(journal: Journal) -> None:
    journal.path.unlink(missing_ok=True)


def repair_command(python: str) -> str:
    return f"aidoctor repair --python {python}"


def refuse_if_unfinished(python: str, state: EnvState) -> None:
    """Before an install changes anything: an earlier one into this environment must have finished."""
    journal = find_journal(state.prefix)
    if journal is None:
        return
    if journal.owner_running():
        raise PendingRepair(f"another aidoctor (pid {journal.pid}) is installing {journal.tool} into "
                            f"{state.prefix} since {journal.started}; wait for it to finish")
    raise PendingRepair(
        f"an install of {journal.tool} into {state.prefix} started {journal.started} did not finish (aidoctor pid "
        f"{journal.pid} is gone) and the environment may be half changed; put it back as it was with "
        f"`{repair_command(python)}` (add --dry-run to see what it would do), then install again")


# -- the rollback --


@dataclass(frozen=True)
class RollbackPlan:
    remove: tuple[str, ...]  # distributions pip uninstalls: added, or changed, since the snapshot
    restore: tuple[str, ...]  # distributions whose files come back from the backup
    drift: tuple[str, ...]  # how the environment differs from the snapshot now
    left_behind: tuple[str, ...] = ()  # new in site-packages or bin and owned by no distribution yet: removed

    @property
    def empty(self) -> bool:
        return not (self.remove or self.restore or self.left_behind)


def plan_rollback(before: EnvState, now: EnvState, restorable: list[str],
                  left_behind: list[Path] = ()) -> RollbackPlan:
    remove = tuple(envstate.removable(before, now))
    return RollbackPlan(remove, tuple(restorable), tuple(envstate.drift(before, now)),
                        tuple(str(p) for p in left_behind))


def _drift_with_files(before: EnvState, now: EnvState, entries: Mapping[str, list[str]]) -> tuple[str, ...]:
    """envstate.drift, plus every file or folder new in site-packages or bin since the snapshot."""
    return (*envstate.drift(before, now), *(f"{p} was left behind" for p in envstate.left_behind(entries)))


@dataclass(frozen=True)
class RollbackOutcome:
    python: str
    snapshot_size: int  # distributions in the snapshot
    drift: tuple[str, ...]  # what still differs from the snapshot afterwards, as far as it could be read
    problem: str | None = None  # what stood in the way (the environment unreadable, pip uninstall failed)
    abandoned: bool = False
    journal: Path | None = None  # kept when the environment is not back: it holds the snapshot to finish from

    @property
    def back(self) -> bool:
        return not self.drift and self.problem is None and not self.abandoned

    def summary(self) -> str:
        """The last line a user reads: whether the environment is back as it was, and if not, how to finish."""
        if self.back:
            return (f"rolled back: the environment is back as it was (verified: its {self.snapshot_size} "
                    "distributions, their versions and RECORDs, torch's files, and the names in site-packages and bin "
                    "match the snapshot taken before)")
        parts = ["rollback abandoned" if self.abandoned else "rollback incomplete"]
        if self.problem:
            parts.append(self.problem)
        if self.drift:
            parts.append(f"still different from before: {'; '.join(self.drift)}")
        elif self.abandoned or self.problem:
            parts.append("what is still different could not be read")
        finish = (f"the journal {self.journal} keeps the snapshot; finish with `{repair_command(self.python)}`"
                  if self.journal is not None else "no journal was written, so nothing had been changed yet")
        return f"the environment is NOT back as it was: {'; '.join(parts)}; {finish}"


def roll_back(system: System, python: str, pip: tuple[str, ...], before: EnvState, backup_manifest: Path | None,
              journal: Journal | None, shield: Shield | None = None) -> RollbackOutcome:
    """Put the environment back to `before`, verify it against `before`, and drop the journal when it is.

    Uninstalls whatever was added or changed since the snapshot, restores the backed-up files of what the
    install replaced, and compares a fresh snapshot with `before`. An `Interrupted` raised while it runs
    (the user abandoning it, see `Shield`) stops it; the outcome then says what is left.
    """
    kept = None if journal is None else journal.path
    entries = {} if journal is None else journal.entries  # no journal: nothing was changed
    checkpoint = shield.abandoned if shield is not None else lambda: None
    try:
        checkpoint()
        now = envstate.capture(system, python)
        checkpoint()
        plan = plan_rollback(before, now, envstate.backed_up(backup_manifest) if backup_manifest else [],
                             envstate.left_behind(entries))
        if plan.remove:
            result = system.run((*pip, "uninstall", "-y", *plan.remove), timeout=UNINSTALL_TIMEOUT)
            checkpoint()
            if not result.ok:
                raise AidoctorError(f"pip uninstall failed: {result.failure()}")
        if backup_manifest is not None:
            envstate.restore(backup_manifest)
        envstate.remove_left_behind(entries)
        checkpoint()
        final = now if plan.empty else envstate.capture(system, python)
    except Interrupted:
        return RollbackOutcome(python, len(before.dists), _drift_now(system, python, before, entries),
                               abandoned=True, journal=kept)
    except (OSError, AidoctorError) as exc:
        return RollbackOutcome(python, len(before.dists), _drift_now(system, python, before, entries),
                               problem=str(exc), journal=kept)
    finally:
        if shield is not None:
            shield.done = True
    drift = _drift_with_files(before, final, entries)
    if not drift and journal is not None:
        remove_journal(journal)
        kept = None
    return RollbackOutcome(python, len(before.dists), drift, journal=kept)


def _drift_now(system: System, python: str, before: EnvState, entries: Mapping[str, list[str]]) -> tuple[str, ...]:
    try:
        return _drift_with_files(before, envstate.capture(system, python), entries)
    except (Interrupted, OSError, AidoctorError):  # pressed yet again, or unreadable: the summary says so
        return ()


def say_now(text: str) -> None:
    """One line on stderr from inside a signal handler: os.write cannot re-enter a print in progress."""
    os.write(sys.stderr.fileno(), f"      {text}\n".encode())


class Shield:
    """What SIGINT and SIGTERM do during an install (install it with `system.interrupts_call`).

    While the steps run, a signal raises `Interrupted` and starts the cleanup. From then on (and for a repair,
    from the start) the first signal only says that the rollback is finishing; the next abandons it.
    The handler also records what it raised, because Python drops an exception raised while it runs a fork hook
    or a finalizer: `checkpoint` raises it again at the next safe point.
    """

    def __init__(self, cleaning: bool = False, notice: Callable[[str], None] = say_now) -> None:
        self.cleaning = cleaning
        self.notice = notice
        self.presses = 0
        self.interrupt: Interrupted | None = None  # the signal that stopped the steps
        self.abandon: Interrupted | None = None  # the signal that gave up the rollback
        self.done = False  # the rollback has its outcome: what is left is to say it

    def __call__(self, signum: int) -> None:
        if self.done:
            return
        if not self.cleaning:
            self.cleaning = True  # set here, not in the except clause: a second press may come before it runs
            self.interrupt = Interrupted(signum)
            raise self.interrupt
        self.presses += 1
        if self.presses == 1:
            self.notice("finishing rollback, press Ctrl-C again to abandon it")
            return
        self.abandon = Interrupted(signum)
        raise self.abandon

    def checkpoint(self) -> None:
        """Between steps: an interrupt whose exception was lost on the way still stops the install."""
        if self.interrupt is not None:
            raise self.interrupt

    def abandoned(self) -> None:
        """Between the parts of a rollback: raise if the user gave it up."""
        if self.abandon is not None:
            raise self.abandon


def stop_all_children() -> int:
    """Every child stopped, even if the user presses again meanwhile: nothing may write on during the rollback."""
    try:
        return stop_children()
    except Interrupted:
        return stop_children()


# -- aidoctor repair --


@dataclass(frozen=True)
class Repair:
    """What `aidoctor repair` found: the journal, and how it would roll the environment back."""

    journal: Journal
    plan: RollbackPlan
    python: str  # as given to repair: the journal's environment, however it is named now

    def describe(self) -> list[str]:
        j = self.journal
        lines = [f"journal {j.path}: an install of {j.tool} into {j.prefix} started {j.started} by aidoctor pid "
                 f"{j.pid}, which is no longer running; run folder {j.run_dir}"]
        if not self.plan.drift and not self.plan.left_behind:
            lines.append("the environment already matches the snapshot taken before that install")
        elif self.plan.drift:
            lines.append(f"different from the snapshot ({len(self.plan.drift)}): {'; '.join(self.plan.drift)}")
        if self.plan.remove:
            lines.append("uninstall: " + " ".join((*self.journal.pip, "uninstall", "-y", *self.plan.remove)))
        if self.plan.left_behind:
            lines.append(f"remove what the interrupted pip wrote before any RECORD named it "
                         f"({len(self.plan.left_behind)}): {', '.join(self.plan.left_behind)}")
        if self.plan.restore:
            lines.append(f"restore the backed-up files of {', '.join(self.plan.restore)} from "
                         f"{Path(j.backup_manifest).parent if j.backup_manifest else '?'}")
        lines.append(f"then compare the environment with the snapshot ({len(j.snapshot.dists)} distributions and "
                     f"torch's files) and, if they match, delete {j.path}")
        return lines


def inspect_repair(system: System, python: str) -> Repair | None:
    """The repair the environment of `python` needs, or None when no install into it was left unfinished."""
    now = envstate.capture(system, python)
    journal = find_journal(now.prefix)
    if journal is None:
        return None
    if journal.owner_running():
        raise PendingRepair(f"aidoctor pid {journal.pid} is still installing {journal.tool} into {now.prefix} "
                            f"(journal {journal.path}); wait for it to finish or stop it first")
    manifest = Path(journal.backup_manifest) if journal.backup_manifest else None
    restorable = envstate.backed_up(manifest) if manifest is not None and manifest.exists() else []
    plan = plan_rollback(journal.snapshot, now, restorable, envstate.left_behind(journal.entries))
    return Repair(journal, plan, python)


def repair(system: System, found: Repair, shield: Shield | None = None) -> RollbackOutcome:
    """Roll the environment back to the journal's snapshot; the journal goes once that is verified."""
    journal = found.journal
    manifest = Path(journal.backup_manifest) if journal.backup_manifest else None
    if manifest is not None and not manifest.exists():
        raise AidoctorError(f"the backup {manifest} named by {journal.path} is gone; the distributions the install "
                            f"replaced cannot be restored: reinstall them with pip, then delete {journal.path}")
    return roll_back(system, found.python, journal.pip, journal.snapshot, manifest, journal, shield)
