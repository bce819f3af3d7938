"""The children aidoctor starts: an interrupt stops each with its whole process group before it reaches the caller."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from aidoctor.doctor.core.system import LiveSystem


def _signal_main_thread_once_running(signum: int, running, limit: float = 30) -> threading.Thread:
    """Send `signum` to the main thread as soon as `running()` is true: as a terminal's Ctrl-C reaches a command
    that has started. A fixed delay raced the child's start on a loaded machine, and a signal sent to the process
    may be taken by another thread, which leaves the main thread asleep in its wait."""
    def send() -> None:
        deadline = time.monotonic() + limit
        while not running() and time.monotonic() < deadline:
            time.sleep(0.02)
        signal.pthread_kill(threading.main_thread().ident, signum)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_ctrl_c_while_a_command_runs_stops_its_whole_group_before_the_interrupt_is_raised(tmp_path):
    pid_file = tmp_path / "pid"
    # The shell leads its own group; the background sleep is a grandchild that would outlive a plain kill.
    script = f"echo $$ > {pid_file}; sleep 60 & sleep 60"
    # A foreground Ctrl-C: Python's KeyboardInterrupt handler. A shell gives a background job (`.ci/run &`)
    # SIGINT ignored, and Python then installs no handler, so it is put in place here for the test's duration.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _signal_main_thread_once_running(signal.SIGINT, lambda: pid_file.exists() and pid_file.read_text().strip())
        with pytest.raises(KeyboardInterrupt):
            LiveSystem().run(["sh", "-c", script], timeout=30)
    finally:
        signal.signal(signal.SIGINT, previous)
    pgid = int(pid_file.read_text())
    assert _group_gone(pgid), "a process of the interrupted command is still running"
    from aidoctor.doctor.core.system import stop_children

    assert stop_children() == 0  # nothing left for the cleanup to stop


def test_sigterm_is_raised_like_ctrl_c_instead_of_ending_the_process(tmp_path):
    from aidoctor.doctor.core.errors import Interrupted
    from aidoctor.doctor.core.system import interrupts_raise

    from aidoctor.doctor.core import system

    _signal_main_thread_once_running(signal.SIGTERM, lambda: bool(system._live))
    started = time.monotonic()
    with interrupts_raise(), pytest.raises(Interrupted) as raised:
        LiveSystem().run(["sleep", "30"], timeout=30)
    assert raised.value.exit_code == 143 and time.monotonic() - started < 10
