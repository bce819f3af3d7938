"""The children aidoctor starts: an interrupt stops each with its whole process group before it reaches the caller."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from aidoctor.doctor.core.system import LiveSystem


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
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        LiveSystem().run(["sh", "-c", script], timeout=30)
    pgid = int(pid_file.read_text())
    assert _group_gone(pgid), "a process of the interrupted command is still running"
    from aidoctor.doctor.core.system import stop_children

    assert stop_children() == 0  # nothing left for the cleanup to stop


def test_sigterm_is_raised_like_ctrl_c_instead_of_ending_the_process(tmp_path):
    from aidoctor.doctor.core.errors import Interrupted
    from aidoctor.doctor.core.system import interrupts_raise

    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    with interrupts_raise(), pytest.raises(Interrupted) as raised:
        LiveSystem().run(["sleep", "30"], timeout=30)
    assert raised.value.exit_code == 143 and time.monotonic() - started < 10
