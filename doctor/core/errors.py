"""Errors that end a command, each with its own exit code.

Defining them in one place keeps the exit codes documented and unique
(the pattern of cibuildwheel's errors.py). The CLI prints `str(error)` on
one line and exits with `error.exit_code`; nothing else may raise to the user.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

EXIT_OK = 0
EXIT_FINDINGS = 1  # a tool that is installed cannot work here, or a named tool is not usable
# The command ran and part of it failed: an install, build or smoke test (rolled back), a host not collected,
# a report file rejected, a wheel that fails verification. 1 as for a finding: the answer is "no", not "bad input".
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2  # bad usage or bad input: nothing was checked, installed or changed
EXIT_INTERNAL = 3  # a bug in aidoctor: reported in one line instead of a traceback
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as a shell reports it


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM while an install runs: raised like Ctrl-C so both get the same cleanup."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:  # as a shell reports a process ended by that signal: 130, 143
        return 128 + self.signum

    @property
    def what(self) -> str:
        return "Ctrl-C (SIGINT)" if self.signum == 2 else f"signal {self.signum} (SIGTERM)" if self.signum == 15 \
            else f"signal {self.signum}"


class AidoctorError(Exception):
    """A failure the user can act on; the message names the problem and what to do."""

    exit_code = EXIT_BAD_INPUT


class BadInput(AidoctorError):
    """A file, a name or an option value that aidoctor cannot use."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a misspelt `name` (`deepspeeed` -> `deepspeed`), or None when none is close."""
    import difflib  # only on this error path

    close = difflib.get_close_matches(name.lower(), list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown(kind: str, name: str, known: list[str], close_to: Iterable[str] | None, listed: str) -> str:
    guess = did_you_mean(name, known if close_to is None else close_to)
    if guess is not None:
        return f"unknown {kind} {name!r}; did you mean {guess}?"
    return f"unknown {kind} {name!r}; {listed}: {', '.join(known)}"


class UnknownTool(BadInput):
    """`close_to`: the spellings a typo is matched against (ids and aliases); the suggestion is one of them."""

    def __init__(self, name: str, known: list[str], close_to: Iterable[str] | None = None) -> None:
        super().__init__(_unknown("tool", name, known, close_to, "known tools"))


class UnknownProfile(BadInput):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(_unknown("profile", name, known, None, "built-in profiles"))


class FactsFileError(BadInput):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"facts file {path}: {problem}")


class MissingExtra(BadInput):
    """An optional dependency a command needs is not installed; the message names the pip command."""


class TargetPythonError(BadInput):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"--python {path}: {problem}")


# -- install --


class NoSuchRelease(BadInput):
    """TOOL==VERSION names a version the package index has no release of."""

    def __init__(self, dist: str, version: str, nearest: list[str]) -> None:
        near = f"; the nearest releases: {', '.join(nearest)}" if nearest else "; the index lists no release of it"
        super().__init__(f"{dist} {version} is not a release on the package index{near}")


class InstallFailed(AidoctorError):
    """The install ran and failed; the environment was rolled back."""

    exit_code = EXIT_FAILED


class BuildFailed(AidoctorError):
    """A source build failed, ran out of memory or time; the message names the log."""

    exit_code = EXIT_FAILED


class NotAnEnvironmentYouMayChange(BadInput):
    """The target Python is not a venv or conda environment, or not writable by this user."""


class TorchChangeNeeded(BadInput):
    """The install would replace torch, triton or the CUDA libraries and --allow-torch-change was not given."""


class InstallInterrupted(AidoctorError):
    """Ctrl-C or SIGTERM during an install; exit 128 + the signal (130 for Ctrl-C), as a shell reports it."""

    def __init__(self, interrupt: Interrupted, where: str) -> None:
        super().__init__(f"interrupted by {interrupt.what} {where}")
        self.exit_code = interrupt.exit_code  # type: ignore[misc]


class PendingRepair(BadInput):
    """An earlier install into this environment did not finish and was not rolled back (its journal is there)."""


class RolledBack(AidoctorError):
    """A failure or an interrupt after the environment may have changed, ending with how the rollback went
    (`outcome`: whether the environment is back as it was); it keeps its cause's exit code."""

    def __init__(self, cause: AidoctorError, outcome: str, log: Path) -> None:
        super().__init__(f"{cause} (log: {log}); {outcome}")
        self.cause = cause

    @property  # type: ignore[override]
    def exit_code(self) -> int:  # the cause's class decides: a refused torch change stays bad input
        return self.cause.exit_code


# -- the wheelhouse --


class WheelhouseError(AidoctorError):
    """The wheelhouse cannot be used or changed as asked."""


class TamperedWheel(WheelhouseError):
    """A stored wheel no longer has the bytes it was stored with."""

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        super().__init__(
            f"wheel {path} was altered after it was stored (sha256 {actual}, expected {expected}); "
            f"run `aidoctor wheels verify`, then remove it and rebuild or download it again"
        )
        self.path, self.expected, self.actual = path, expected, actual
