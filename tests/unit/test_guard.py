"""The unit guard trips: a test here that starts a process or connects a socket fails, even when the code
under test swallows the refusal."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from aidoctor.doctor.core.system import LiveSystem

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("escape", [
    lambda: subprocess.run(["true"], check=False),
    lambda: os.posix_spawn("/bin/true", ["true"], os.environ),
    lambda: os.fork(),
    lambda: os.system("true"),
    lambda: socket.create_connection(("127.0.0.1", 9), timeout=1),
    lambda: socket.socket().connect(("127.0.0.1", 9)),
], ids=["subprocess", "posix_spawn", "fork", "system", "create_connection", "socket.connect"])
def test_each_escape_is_refused_before_it_happens(escape, unit_escapes):
    with pytest.raises(pytest.fail.Exception, match="a unit test tried to"):
        escape()
    assert len(unit_escapes) == 1
    unit_escapes.clear()  # this test expected the escape: it must not fail at the end of the call


def test_a_test_that_escapes_fails_even_when_the_code_swallows_the_refusal(pytester: pytest.Pytester):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_escapes="""
        import subprocess

        def test_pure():
            assert sorted([2, 1]) == [1, 2]

        def test_runs_a_process():
            subprocess.run(["true"])

        def test_swallows_the_refusal():
            try:
                subprocess.run(["true"])
            except BaseException:
                pass
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*test_swallows_the_refusal*", "*swallowed the refusal*"])


def test_the_system_boundary_turns_a_refused_command_into_a_failure_the_guard_still_sees(unit_escapes):
    """LiveSystem reports a command it could not run instead of raising; the guard remembers it anyway."""
    try:
        LiveSystem().run(["true"], timeout=1)
    except pytest.fail.Exception:
        pass
    assert unit_escapes and "start a process" in unit_escapes[0]
    unit_escapes.clear()
