"""Live progress on the terminal: an install's steps and compile bar, a fleet collect's hosts."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from .matrix import visible

if TYPE_CHECKING:
    from ..fleet.collect import Outcome, Target
    from ..install.plan import Step


class ConsoleReporter:
    """Step headings, info lines, and a progress bar driven by the compiler's [n/N] lines."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self._progress: Progress | None = None
        self._task = None

    def step(self, number: int, total: int, step: Step) -> None:
        self._stop_progress()
        self.out.print(Text(f"[{number}/{total}] {step.title}", style="bold"))

    def info(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(Text(f"      {text}"))
        else:
            self.out.print(Text(f"      {text}"))

    def progress(self, done: int, total: int) -> None:
        """total 0: the build gives no total (no ninja), so the bar counts compiler runs."""
        if self._progress is None:
            self._progress = Progress(TextColumn("      compiling"), BarColumn(), TaskProgressColumn(),
                                      TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                      console=self.out, transient=False)
            self._progress.start()
            self._task = self._progress.add_task("build", total=total or None)
        self._progress.update(self._task, completed=done, total=total or None)

    def close(self) -> None:
        self._stop_progress()

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class CollectProgress:
    """A live line of hosts done, failed, running and pending, with one line per host as it finishes."""

    def __init__(self, out: Console, total: int) -> None:
        self.out, self.total = out, total
        self.done = self.failed = self.running = 0
        self._lock = threading.Lock()
        self._progress = None
        if out.is_terminal:
            self._progress = Progress(TextColumn("collect"), BarColumn(), TextColumn("{task.description}"),
                                      TimeElapsedColumn(), console=out, transient=True)
            self._task = self._progress.add_task(self._counts(), total=total)
            self._progress.start()

    def _counts(self) -> str:
        pending = self.total - self.done - self.failed - self.running
        return f"{self.done} done · {self.failed} failed · {self.running} running · {pending} pending"

    def started(self, target: Target) -> None:
        with self._lock:
            self.running += 1
            self._update()

    def finished(self, outcome: Outcome) -> None:
        with self._lock:
            self.running -= 1
            failure = outcome.failure
            if failure is None:
                self.done += 1
                line = Text(f"ok      {visible(outcome.target.name)} ({outcome.seconds:.1f} s)", style="green")
            else:
                self.failed += 1
                line = Text(f"{failure.problem:<11} {visible(outcome.target.name)}: {visible(failure.reason)}",
                            style="red")
            (self._progress.console if self._progress else self.out).print(line)
            self._update()

    def _update(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=self._counts(), completed=self.done + self.failed)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self.out.print(Text(f"{self.done} collected, {self.failed} failed"))
