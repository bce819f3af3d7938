"""The one boundary through which probes touch the machine.

Probes never call subprocess or open files themselves: they ask a `System`
for a command's output or a file's text. `LiveSystem` does it for real, with a
hard timeout on every command; `ReplaySystem` answers from recorded outputs
and a fake root tree, so tests run the same probes against a GB10 or a Mac
without owning one.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Protocol, Sequence

from .errors import Interrupted


@dataclass(frozen=True)
class CommandResult:
    """What one command did. `error` is set when it could not run or did not finish."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    error: str | None = None
    not_found: bool = False  # the command is not there: no such file

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0

    def failure(self) -> str:
        """One line saying why this command gave no usable output."""
        if self.timed_out:
            return self.error or f"{self.argv[0]} timed out"
        if self.error:
            return self.error
        detail = (self.stderr or self.stdout).strip().splitlines()
        tail = f": {detail[0][:200]}" if detail else ""
        return f"{self.argv[0]} exited with {self.returncode}{tail}"


@dataclass(frozen=True)
class Captured:
    """A command's raw stdout, capped, and its stderr tail."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: bytes = b""
    stderr: str = ""
    timed_out: bool = False
    overflow: bool = False  # stdout went past the cap and the command was killed
    error: str | None = None  # it could not be started


class System(Protocol):
    def run(self, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None,
            cwd: str | None = None) -> CommandResult: ...

    def read_text(self, path: str) -> str | None: ...

    def which(self, name: str) -> str | None: ...

    def environ(self) -> Mapping[str, str]: ...


class LiveSystem:
    """The real machine."""

    def run(self, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None,
            cwd: str | None = None) -> CommandResult:
        argv = tuple(argv)
        try:
            # A new session lets us kill the whole group: a hung nvidia-smi can
            # leave children holding the pipes, and communicate() would wait on them.
            proc = _start(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", env=None if env is None else dict(env), cwd=cwd)
        except FileNotFoundError:
            return CommandResult(argv, None, error=f"{argv[0]}: command not found", not_found=True)
        except OSError as exc:
            return CommandResult(argv, None, error=f"{argv[0]}: {exc.strerror or exc}")
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                stdout, stderr = proc.communicate(timeout=1)
            except subprocess.TimeoutExpired:
                stdout, stderr = "", ""
            return CommandResult(
                argv, None, stdout, stderr, timed_out=True, error=f"{argv[0]} did not answer within {timeout:g} s"
            )
        except BaseException:
            _stop_group(proc)  # Ctrl-C or SIGTERM: the child stops before whatever cleans up after it runs
            raise
        finally:
            _forget(proc)
        return CommandResult(argv, proc.returncode, stdout, stderr)

    def stream(self, argv: Sequence[str], timeout: float, on_line: Callable[[str], None],
               env: Mapping[str, str] | None = None, cwd: str | None = None) -> CommandResult:
        """Run a long command (a build), handing each output line to `on_line` as it comes.

        stdout and stderr are merged, as a compiler's log interleaves them; the
        result keeps only the last 200 lines, since the caller logs the rest.
        """
        argv = tuple(argv)
        try:
            proc = _start(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", env=None if env is None else dict(env), cwd=cwd, bufsize=1)
        except OSError as exc:
            return CommandResult(argv, None, error=f"{argv[0]}: {exc.strerror or exc}")
        deadline = time.monotonic() + timeout
        # A timer kills the group at the deadline: readline() blocks, so the loop cannot check the clock itself.
        timer = threading.Timer(timeout, _kill_group, (proc,))
        timer.start()
        tail: collections.deque[str] = collections.deque(maxlen=200)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                tail.append(line)
                on_line(line.rstrip("\n"))
            returncode = proc.wait()
        except BaseException:
            _stop_group(proc)  # Ctrl-C: leave no compiler running; the build directory keeps what finished
            raise
        finally:
            timer.cancel()
            _forget(proc)
        if time.monotonic() >= deadline:
            return CommandResult(argv, None, "".join(tail), timed_out=True,
                                 error=f"{argv[0]} did not finish within {timeout:g} s")
        return CommandResult(argv, returncode, "".join(tail))

    def capture(self, argv: Sequence[str], timeout: float, max_bytes: int, stdin: bytes = b"",
                cancel: threading.Event | None = None) -> Captured:
        """Run a command whose output is untrusted (an ssh to another machine): feed it `stdin`, keep at most
        `max_bytes` of stdout and the last 64 KiB of stderr, and kill its group at the deadline, at the cap,
        or when `cancel` is set (Ctrl-C reaches only the main thread; this runs in a worker)."""
        argv = tuple(argv)
        try:
            proc = _start(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            return Captured(argv, None, error=f"{argv[0]}: {exc.strerror or exc}")
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        stdout = bytearray()
        stderr: collections.deque[bytes] = collections.deque()
        overflow = threading.Event()

        def feed() -> None:
            try:
                proc.stdin.write(stdin)
                proc.stdin.close()
            except OSError:  # the remote end quit early; its exit status says why
                pass

        def read_stdout() -> None:
            while chunk := proc.stdout.read1(1 << 16):
                stdout.extend(chunk)
                if len(stdout) > max_bytes:
                    overflow.set()
                    _kill_group(proc)
                    return

        def read_stderr() -> None:
            kept = 0
            while chunk := proc.stderr.read1(1 << 14):
                stderr.append(chunk)
                kept += len(chunk)
                while kept > 1 << 16 and len(stderr) > 1:
                    kept -= len(stderr.popleft())

        threads = [threading.Thread(target=f, daemon=True) for f in (feed, read_stdout, read_stderr)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        returncode: int | None = None
        timed_out = False
        try:
            while returncode is None:
                try:
                    returncode = proc.wait(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
                        _kill_group(proc)
                        proc.wait()
                        timed_out = True
                        break
        finally:
            if proc.poll() is None:  # Ctrl-C while waiting
                _kill_group(proc)
            _forget(proc)
        for thread in threads:
            thread.join(timeout=2)  # a grandchild holding the pipes must not hold us
        return Captured(argv, returncode, bytes(stdout[:max_bytes + 1]), b"".join(stderr).decode("utf-8", "replace"),
                        timed_out=timed_out, overflow=overflow.is_set())

    def read_text(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read(1 << 20)
        except OSError:
            return None

    def which(self, name: str) -> str | None:
        return shutil.which(name)

    def environ(self) -> Mapping[str, str]:
        return os.environ


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()


# -- the children: each in its own session, tracked until reaped, stopped on an interrupt or a failure --

# A new session keeps a terminal's Ctrl-C from reaching pip in the middle of writing a file: aidoctor decides
# when its children stop (stop_children), and in which order relative to the rollback.
_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()
STOP_GRACE = 3.0  # seconds between SIGTERM and SIGKILL: pip or a compiler exits well within it


_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


# Set while an install or a repair has the signal handlers (_handling): its children are set up to die with aidoctor.
# Other commands keep the faster spawn without a preexec function (about 3 ms less per child here).
_guarding = False


def _start(argv: tuple[str, ...], **options) -> subprocess.Popen:
    if not _guarding:
        proc = subprocess.Popen(argv, start_new_session=True, **options)
        with _live_lock:
            _live.add(proc)
        return proc
    # Ctrl-C waits while the child is forked: Python drops an exception raised in its fork hooks, and the child
    # must be tracked before an interrupt looks for it. The child unblocks the signals before exec (_child_setup).
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        proc = subprocess.Popen(argv, start_new_session=True, preexec_fn=_child_setup(), **options)
        with _live_lock:
            _live.add(proc)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return proc


def _forget(proc: subprocess.Popen) -> None:
    with _live_lock:
        _live.discard(proc)


@functools.cache
def _child_setup() -> Callable[[], None]:
    """Run in the child before exec: let it receive SIGINT and SIGTERM again, and on Linux die with aidoctor.

    PR_SET_PDEATHSIG (prctl(2)) sends the child SIGTERM when aidoctor dies, even by kill -9, so no pip writes on
    after it; it follows the thread that started the child, and every child here is waited for by that thread.
    Elsewhere the install's journal is what a crash leaves to repair.
    """
    prctl = None
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            prctl = None
    parent = os.getpid()

    def set_up() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)
        if prctl is not None:
            prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before the call: nothing would signal this child
                os._exit(1)

    return set_up


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member changed user (setuid): it exists
        return True
    return True


def _stop_group(proc: subprocess.Popen, grace: float = STOP_GRACE) -> None:
    """SIGTERM to the child's whole group, up to `grace` seconds for it to exit, then SIGKILL; reaps the child."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        except PermissionError:
            proc.send_signal(sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader: a zombie still counts as a member of its group
            if not _group_alive(proc.pid):
                return
            time.sleep(0.02)
    proc.poll()


def stop_children(grace: float = STOP_GRACE) -> int:
    """Stop every child still running, each with its whole process group (SIGTERM, `grace`, SIGKILL).

    Called on an interrupt or a failure before anything is undone, so nothing aidoctor started writes on
    while the rollback reads and repairs. Returns how many were stopped.
    """
    with _live_lock:
        running = [proc for proc in _live if proc.poll() is None]
    for proc in running:
        _stop_group(proc, grace)
    return len(running)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (a journal's owner), without signalling it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise `Interrupted` in the main thread.

    Python's default SIGTERM ends the process with no cleanup at all: children left running, nothing rolled back.
    """
    def raise_interrupted(signum: int, frame) -> None:
        raise Interrupted(signum)

    with _handling(raise_interrupted):
        yield


@contextlib.contextmanager
def interrupts_call(on_signal: Callable[[int], None]) -> Iterator[None]:
    """Within: SIGINT and SIGTERM call `on_signal(signum)` instead of raising; it may raise to give up.

    For work that must finish once begun (a rollback): the children are in their own sessions, so a terminal's
    Ctrl-C reaches only aidoctor, and aidoctor decides.
    """
    with _handling(lambda signum, frame: on_signal(signum)):
        yield


@contextlib.contextmanager
def _handling(handler: Callable) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in _INTERRUPTS}
    unraisable = sys.unraisablehook

    def quiet_about_interrupts(info) -> None:
        # Raised where Python cannot pass it on (a finalizer, a fork hook): the handler's owner keeps it and
        # raises it again at its next checkpoint, so it is no traceback for the user.
        if not isinstance(info.exc_value, Interrupted):
            unraisable(info)

    global _guarding
    guarding, _guarding = _guarding, True
    sys.unraisablehook = quiet_about_interrupts
    try:
        yield
    finally:
        _guarding = guarding
        sys.unraisablehook = unraisable
        for sig, old in previous.items():
            signal.signal(sig, old)


class ReplaySystem:
    """Answers from a recorded machine: a fake root tree plus recorded commands.

    A machine folder holds `root/` (files such as `root/proc/cpuinfo`) and
    `commands.json`: a list of `{"argv": [...], "stdout": ..., "returncode": 0}`,
    or `{"argv": [...], "hang": true}` for a command that never answers. A
    command that was not recorded behaves as "command not found", so a probe
    that asks for something unexpected shows up as unknown, never as a fact.
    """

    def __init__(self, machine_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.root = machine_dir / "root"
        commands_file = machine_dir / "commands.json"
        entries = json.loads(commands_file.read_text()) if commands_file.exists() else []
        self.commands = {tuple(entry["argv"]): entry for entry in entries}
        self.env = dict(env or {})
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None,
            cwd: str | None = None) -> CommandResult:
        argv = tuple(argv)
        self.calls.append(argv)
        entry = self.commands.get(argv)
        if entry is None:
            return CommandResult(argv, None, error=f"{argv[0]}: command not found", not_found=True)
        if entry.get("hang"):
            time.sleep(timeout)
            return CommandResult(argv, None, timed_out=True, error=f"{argv[0]} did not answer within {timeout:g} s")
        return CommandResult(argv, entry.get("returncode", 0), entry.get("stdout", ""), entry.get("stderr", ""))

    def read_text(self, path: str) -> str | None:
        target = self.root / path.lstrip("/")
        try:
            return target.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def which(self, name: str) -> str | None:
        for argv in self.commands:
            if argv[0] == name or Path(argv[0]).name == name:
                return argv[0]
        return None

    def environ(self) -> Mapping[str, str]:
        return self.env
