"""Every error that ends a command and its exit code, in one place (core/errors.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aidoctor.doctor.core import errors
from aidoctor.doctor.core.errors import (BuildFailed, InstallFailed, InstallInterrupted, Interrupted,
                                         NotAnEnvironmentYouMayChange, RolledBack, TamperedWheel, TorchChangeNeeded,
                                         WheelhouseError)


@pytest.mark.parametrize("error, code", [
    (InstallFailed("the smoke test failed"), 1),
    (BuildFailed("the build failed"), 1),
    (TorchChangeNeeded("would replace torch"), 2),
    (NotAnEnvironmentYouMayChange("not a venv"), 2),
    (WheelhouseError("cannot be written"), 2),
    (TamperedWheel(Path("/wh/a.whl"), "aa", "bb"), 2),
])
def test_exit_codes_are_the_documented_ones(error, code):
    # README: 1 the install or its smoke test failed; 2 bad input or refused (... a tampered wheel, a torch change)
    assert error.exit_code == code


@pytest.mark.parametrize("cause", [InstallFailed("the smoke test failed"), TorchChangeNeeded("would replace torch")])
def test_a_rolled_back_failure_keeps_its_causes_exit_code_and_says_how_the_rollback_went(cause):
    done = RolledBack(cause, "rolled back: the environment is back as it was", Path("/runs/x/install.log"))
    assert (str(done), done.exit_code) == (
        f"{cause} (log: /runs/x/install.log); rolled back: the environment is back as it was", cause.exit_code)
    assert type(cause).exit_code == cause.exit_code  # the class was not changed on the way


@pytest.mark.parametrize("signum, code, named", [(2, 130, "Ctrl-C (SIGINT)"), (15, 143, "SIGTERM")])
def test_an_interrupted_install_exits_as_a_shell_reports_that_signal(signum, code, named):
    cause = InstallInterrupted(Interrupted(signum), "at step 7/9 (Install from the wheelhouse only)")
    assert cause.exit_code == code and named in str(cause)
    assert RolledBack(cause, "rolled back", Path("/r/install.log")).exit_code == code
    assert errors.EXIT_INTERRUPTED == 130


def test_exit_codes_are_distinct_where_they_must_be():
    assert (errors.EXIT_OK, errors.EXIT_FINDINGS, errors.EXIT_BAD_INPUT, errors.EXIT_INTERNAL) == (0, 1, 2, 3)
    assert errors.EXIT_FAILED == errors.EXIT_FINDINGS  # README: 1 for a finding and for a failed install alike
