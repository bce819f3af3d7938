"""The unit tests are pure: a test here that starts a real process or opens a network connection fails.

Pure means the parsers, rules, plans and renderers on recorded inputs (tests/machines, tests/fixtures) and a
`ReplaySystem`; anything that needs a venv, pip, a compiler, sshd, Docker or a browser belongs in
tests/integration/. The guard (cibuildwheel's unit_test pattern) replaces every way Python starts a process or
connects a socket with one that fails the test; it also remembers the attempt, so a test still fails when the
code under test catches the error and carries on (the System boundary turns failures into `unknown`).
"""

from __future__ import annotations

import _posixsubprocess
import os
import socket
import subprocess
from typing import Callable, Iterator

import pytest

# Every entry point to a new process: subprocess and multiprocessing end in _posixsubprocess.fork_exec,
# the rest are os's own.
PROCESS_CALLS = [(subprocess.Popen, "_execute_child"), (_posixsubprocess, "fork_exec")] + [
    (os, name) for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "popen", "execv", "execve",
                            "execvp", "execvpe", "execl", "execle", "execlp", "execlpe", "spawnv", "spawnve",
                            "spawnvp", "spawnvpe")
    if hasattr(os, name)]
NETWORK_CALLS = [(socket.socket, name) for name in ("connect", "connect_ex", "sendto")] + [
    (socket, "create_connection")]


def _refuse(what: str, escapes: list[str]) -> Callable[..., None]:
    def refused(*args: object, **kwargs: object) -> None:
        escapes.append(what)
        pytest.fail(f"a unit test tried to {what}: move it to tests/integration/ or use a recorded input",
                    pytrace=False)
    return refused


@pytest.fixture(autouse=True)
def unit_escapes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The guard: what this test tried to start or connect, each attempt refused."""
    escapes: list[str] = []
    for owner, name in PROCESS_CALLS:
        monkeypatch.setattr(owner, name, _refuse(f"start a process ({getattr(owner, '__name__', owner)}.{name})",
                                                 escapes))
    for owner, name in NETWORK_CALLS:
        monkeypatch.setattr(owner, name, _refuse(f"open a network connection (socket {name})", escapes))
    yield escapes


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield
    escapes = item.funcargs.get("unit_escapes") if hasattr(item, "funcargs") else None
    if escapes:
        pytest.fail(f"a unit test tried to {escapes[0]} (and the code under test swallowed the refusal)",
                    pytrace=False)
    return result
