"""Rendering for people (rich) and machines (JSON). No decisions are made here.

Text from facts and rules goes through `Text(...)`, never through rich markup,
so a reason such as "mlx[cuda13]" or "[N/A]" prints as written.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ...recipes import module_path
from ..check.index import Offer
from ..check.profiles import Profile
from ..check.verdicts import Verdict, fixed_by_driver_update
from ..core.facts import Machine, ProbeStatus
from ..dsl.rules import Finding, Status
from ..dsl.tool import Tool
from ..probes.target import Environment, display_path

if TYPE_CHECKING:  # `fit` renders without loading the check engine
    from ..check.engine import Report

STYLE = {
    Status.OK: "green",
    Status.CAVEATS: "yellow",
    Status.BUILD: "cyan",
    Status.UNKNOWN: "magenta",
    Status.UNSUPPORTED: "red",
}


# Where neither COLUMNS nor any terminal says (a CI log, a file written by cron): the width terminals start at.
DEFAULT_WIDTH = 80
# Below this width the check table leaves out its "why" column and prints each why on its own line.
NARROW = 100


def output_width(environ: Mapping[str, str], terminal_columns: int | None) -> int:
    """COLUMNS when set (as `COLUMNS=200 aidoctor check | less`), else the width of the terminal the user
    sits at (stdout's, or when piped stderr's or stdin's), else DEFAULT_WIDTH."""
    columns = environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return terminal_columns or DEFAULT_WIDTH


def _terminal_columns() -> int | None:
    for stream in (sys.stdout, sys.stderr, sys.stdin):
        try:
            return os.get_terminal_size(stream.fileno()).columns or None
        except (OSError, ValueError, AttributeError):
            continue
    return None


class _NoTrailingSpaces(io.TextIOBase):
    """A stream that drops the spaces rich pads table cells with at the end of each line (before any
    closing colour codes), so copied and piped output has none."""

    _TRAILING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)(?=\n)")

    def __init__(self, stream) -> None:
        self.stream = stream
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        complete, newline, self.pending = self.pending.rpartition("\n")
        if newline:
            self.stream.write(self._TRAILING.sub(r"\1", complete + newline))
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.stream.write(self.pending.rstrip(" "))
            self.pending = ""
        self.stream.flush()

    @property
    def encoding(self) -> str | None:  # rich picks its characters by it
        return getattr(self.stream, "encoding", None)

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    return make_console(_NoTrailingSpaces(stream), output_width(os.environ, _terminal_columns()), terminal)


def make_console(stream, width: int, color: bool) -> Console:
    return Console(file=stream, width=width, highlight=False, soft_wrap=False,
                   color_system="auto" if color else None, force_terminal=color or None)


def print_json(data: dict) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def status_text(status: Status) -> Text:
    return Text(status.value, style=STYLE[status])


def where(environment: Environment) -> str:
    """`at .venv (uv venv)`: the environment's folder as typed here, and its kind (terminal only: a path is an
    identifier in reports)."""
    home = os.environ.get("HOME")
    path = display_path(environment.prefix, Path.cwd(), Path(home) if home else None)
    return f"at {path} ({environment.label()})"


def python_line(machine: Machine, environment: Environment | None = None) -> str:
    """`Python 3.11.2 at .venv (venv)`, or just the version for a profile or facts file."""
    python = f"Python {machine.python}" if machine.python else f"Python unknown: {machine.unknown.get('python', '?')}"
    return python + (f" {where(environment)}" if environment is not None else "")


def machine_lines(machine: Machine, environment: Environment | None = None) -> list[Text]:
    def join(parts: Iterable[str | None]) -> str:
        return " · ".join(p for p in parts if p)

    lines = [join([f"{machine.os or '?'} {machine.arch or '?'}", machine.distro,
                   machine.macos and f"macOS {machine.macos}", machine.kernel and f"kernel {machine.kernel}",
                   machine.glibc and f"glibc {machine.glibc}"])]
    cpu = machine.cpu
    memory = f"{machine.memory_gb:g} GB memory" if machine.memory_gb else None
    if machine.unified_memory and memory:
        memory += " (unified: CPU and GPU share it)"
    if machine.memory_bandwidth_gbs:
        memory = f"{memory or 'memory'} at {machine.memory_bandwidth_gbs:g} GB/s"
    if cpu is not None:
        features = ", ".join(cpu.features or ())
        lines.append(join([f"CPU {cpu.model or '?'}" + (f" × {cpu.cores}" if cpu.cores else "")
                           + (f" ({features})" if features else ""), memory]))
    elif memory:
        lines.append(memory)
    if machine.gpus is None:
        lines.append(f"GPU unknown: {machine.unknown.get('gpus', 'not reported')}")
    elif not machine.gpus:
        lines.append("GPU none" + (f" ({machine.unknown['nvidia_driver']})" if "nvidia_driver" in machine.unknown else ""))
    for gpu in machine.gpus or ():
        detail = [gpu.compute_capability and f"compute capability {gpu.compute_capability}",
                  gpu.memory_gb and f"{gpu.memory_gb:g} GB" + (" shared" if gpu.memory_shared else "")]
        if gpu.vendor == "nvidia":
            detail += [machine.nvidia_driver and f"driver {machine.nvidia_driver}",
                       machine.cuda_driver and f"supports CUDA {machine.cuda_driver}"]
        if gpu.vendor == "apple" and machine.apple:
            detail += [machine.apple.gpu_cores and f"{machine.apple.gpu_cores} GPU cores",
                       machine.apple.mps is not None and ("MPS usable" if machine.apple.mps else "MPS not usable")]
        lines.append(f"GPU {gpu.name or '?'}" + (f" ({join(d for d in detail if d)})" if any(detail) else ""))
    if machine.cuda_toolkit or machine.os == "linux":
        lines.append(f"CUDA toolkit {machine.cuda_toolkit}" + (f" at {machine.cuda_home}" if machine.cuda_home else "")
                     if machine.cuda_toolkit else f"CUDA toolkit: {machine.unknown.get('cuda_toolkit', 'unknown')}")
    board = machine.jetson
    if board and not isinstance(board, bool):
        lines.append(join([board.module, board.l4t and f"L4T {board.l4t}", board.jetpack and f"JetPack {board.jetpack}",
                           board.soc]))
    python = python_line(machine, environment)
    if machine.python_translated:
        python += " (x86_64, translated by Rosetta 2)"
    build = machine.torch_build
    if build is not None:
        python += f" · torch {build.version}" + (f" (CUDA {build.cuda}" if build.cuda else " (no CUDA")
        python += f", {' '.join(build.arch_list)})" if build.arch_list else ")"
    lines.append(python)
    deep = machine.deep
    if deep:
        kernel = deep.get("kernel") or {}
        if kernel.get("ok"):
            lines.append(f"--deep: a {kernel.get('device')} kernel ran and matched the CPU result")
        else:
            lines.append(f"--deep: {kernel.get('error') or deep.get('error')}")
    return [Text(line) for line in lines if line]


def render_check(report: Report, out: Console) -> None:
    out.print(Text(f"aidoctor check · {report.subject}", style="bold"))
    for line in machine_lines(report.machine, report.environment):
        out.print(Text("  ") + line, soft_wrap=True)  # the terminal wraps it, no newline is added
    problems = [run for run in report.machine.probes if run.status is not ProbeStatus.OK]
    for run in problems:
        out.print(Text(f"  probe {run.name}: {run.status.value}" + (f" ({run.reason})" if run.reason else ""),
                       style="magenta"))
    if report.index_unreachable:
        out.print(Text(f"  package index unreachable: {report.index_unreachable}", style="magenta"), soft_wrap=True)
    out.print()
    _verdict_table(report.verdicts, out)
    to_fix = [(v, _fix_lines(v)) for v in report.verdicts if v.status is not Status.OK and _fix_lines(v)]
    if to_fix:
        out.print(Text("How to fix", style="bold"))
        for verdict, lines in to_fix:
            out.print(Text("  ") + Text(verdict.tool, style="bold") + Text(":"))
            for line in lines:
                # One line each, never wrapped by us: a command cut by a newline runs cut when pasted.
                out.print(Text(f"    {line}"), soft_wrap=True)
    if report.audit is not None:
        others = report.other_audit_findings()
        out.print(Text(f"Binary audit ({report.audit.scope.value}): {len(report.audit.files)} files in "
                       f"{len(report.audit.dists)} distributions read" + (", other findings:" if others else "")))
        for dist, finding in others:
            out.print(Text(f"  {dist} ") + status_text(finding.status) + Text(f" {finding.msg}"))
    counts = {s: sum(v.status is s for v in report.verdicts) for s in Status}
    summary = " · ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    out.print()
    out.print(Text(summary + ".  `aidoctor explain TOOL` shows the rules behind a verdict; --json for machines."))


def _verdict_table(verdicts: Iterable[Verdict], out: Console) -> None:
    """tool, status, installed and why; narrower than NARROW columns, each why on its own line below its row
    (in 80 columns the why column was a sliver of 38, and the table twice as long)."""
    rows = []
    for verdict in verdicts:
        why = verdict.reasons[0] if verdict.reasons else ""
        if len(verdict.reasons) > 1:
            why += f" (+{len(verdict.reasons) - 1} more)"
        rows.append((verdict.tool, verdict.status, verdict.installed or "-", why))
    if out.width < NARROW:
        tool_width = max([len("tool"), *(len(row[0]) for row in rows)])
        status_width = max(len(s.value) for s in Status)
        out.print(Text(f"{'tool':<{tool_width}}  {'status':<{status_width}}  installed", style="bold"))
        for tool, status, installed, why in rows:
            out.print(Text(f"{tool:<{tool_width}}  ") + status_text(status)
                      + Text(" " * (status_width - len(status.value)) + f"  {installed}"))
            out.print(Padding(Text(why, style="dim"), (0, 0, 0, 4)))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    table.add_column("tool", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("installed", no_wrap=True)
    table.add_column("why", overflow="fold")
    for tool, status, installed, why in rows:
        table.add_row(Text(tool), status_text(status), Text(installed), Text(why))
    out.print(table)


def _fix_lines(verdict: Verdict) -> list[str]:
    return [*verdict.fixes, *([f"alternative: {verdict.alternative}"] if verdict.alternative else [])]


def render_explain(tool: Tool, verdict: Verdict, subject: str, out: Console,
                   derived: Mapping[str, str] | None = None, target: str | None = None,
                   show_all: bool = False) -> None:
    """The rules behind one verdict: by default those that apply here (or may, or cannot be told), with a
    count of the rest; `show_all` lists every rule. A fix shows under a finding only when it is one of the
    verdict's own fixes, which come last, so no line offers what the verdict says would not help. `target`:
    the inspected Python's line (python_line) when a real environment was probed."""
    out.print(Text(f"{tool.id}", style="bold") + Text(f" on {subject}: ") + status_text(verdict.status))
    if target:
        out.print(Text(target), soft_wrap=True)
    out.print(Text(tool.summary))
    if tool.homepage:
        out.print(Text(tool.homepage))
    out.print(Text(f"installed: {verdict.installed or 'no'}"))
    if verdict.available is not None:
        out.print(Text(f"package index: {verdict.available.kind} {verdict.available.version or ''} "
                       f"({verdict.available.reason})"))
    if derived:
        out.print()
        out.print(Text("Facts derived from other facts before judging:", style="bold"))
        for fact, because in derived.items():
            out.print(Text(f"  {fact}: ") + Text(because, style="dim"))
    if verdict.undecided:
        out.print()
        out.print(Text(f"Unknown because {', '.join(sorted(verdict.undecided))} is missing and its value would "
                       "change the status; a missing fact that could not is listed under the rule as \"only if\".",
                       style=STYLE[Status.UNKNOWN]))
    out.print()
    fired = {id(f.rule): f for f in verdict.findings if f.rule is not None}
    shown = [rule for rule in tool.rules if show_all or id(rule) in fired]
    which = "" if show_all else f"{len(shown)} of {len(tool.rules)} apply here; "
    out.print(Text(f"Rules ({which}in the order declared in {module_path(tool)}):", style="bold"))
    for rule in shown:
        finding = fired.get(id(rule))
        if finding is None:
            mark = Text("  does not apply  ", style="dim")
        elif finding.status is Status.UNKNOWN:
            mark = Text("  cannot tell     ", style=STYLE[Status.UNKNOWN])
        elif finding.only_if:
            mark = Text("  MAY APPLY       ", style=STYLE[finding.status])
        else:
            mark = Text("  APPLIES         ", style=STYLE[finding.status])
        out.print(mark + Text(f"[{rule.status.value}] ") + Text(rule.msg))
        out.print(Text(f"                   when: {rule.when.text}", style="dim"))
        if finding is not None and finding.only_if:
            out.print(Text(f"                   only {finding.only_if} (a missing fact; the status is the same "
                           "either way)", style="dim"))
        fix = rule.fix if finding is None else finding.fix if finding.fix in verdict.fixes else None
        if fix:
            out.print(Text(f"                   fix:  {fix}", style="dim"), soft_wrap=True)
        out.print(Text(f"                   see:  {rule.source}", style="dim"))
    if len(shown) < len(tool.rules):
        hidden = len(tool.rules) - len(shown)
        out.print(Text(f"  {hidden} more rule{'s' if hidden != 1 else ''} do{'es' if hidden == 1 else ''} not apply "
                       "here; --all shows them", style="dim"))
    others = [f for f in verdict.findings if f.rule is None]
    if others:
        out.print()
        out.print(Text("From the package index and the installed metadata:", style="bold"))
        for finding in others:
            _print_finding(finding, verdict, out)
    lines = _fix_lines(verdict)
    if lines or verdict.status is not Status.OK:
        out.print()
        head = (f"How to {'get' if verdict.status is Status.OK else 'fix'} {tool.id} here:" if lines
                else f"No fix for {tool.id} here changes its verdict.")
        out.print(Text(head, style="bold"))
    for line in lines:
        out.print(Text(f"  {line}"), soft_wrap=True)


def _print_finding(finding: Finding, verdict: Verdict, out: Console) -> None:
    out.print(Text("  ") + status_text(finding.status) + Text(f"  {finding.msg}"))
    if finding.fix and finding.fix in verdict.fixes:
        out.print(Text(f"      fix: {finding.fix}", style="dim"), soft_wrap=True)
    if finding.source:
        out.print(Text(f"      see: {finding.source}", style="dim"))


PROFILE_COLUMNS = ("machine", "GPU memory", "system memory", "BF16 dense", "power", "GPU")


def render_profiles(profiles: Iterable[Profile], out: Console) -> None:
    """A table; narrower than NARROW columns, where seven columns would cut figures in two, one block each."""
    narrow = out.width < NARROW
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("profile", no_wrap=True)  # a name to type: never cut
    for column in PROFILE_COLUMNS:
        table.add_column(column)
    for profile in profiles:
        machine, hw = profile.machine, profile.hardware
        gpu = ", ".join(f"{g.name}" + (f" ({g.compute_capability})" if g.compute_capability else "")
                        for g in machine.gpus or ()) or "none"
        system = f"{hw.system_memory_gb:g} GB" + (f" at {hw.system_bandwidth_gbs:g} GB/s" if hw.system_bandwidth_gbs else "")
        if hw.kind.unified and hw.gpu_memory_gb:
            gpu_memory = f"shared: {hw.usable_gb:.0f} GB usable"
        else:
            gpu_memory = f"{hw.gpu_memory_gb:g} GB at {hw.gpu_bandwidth_gbs:g} GB/s" if hw.gpu_memory_gb else "none"
        cells = (profile.title, gpu_memory, system, f"{hw.bf16_dense_tflops:g} TFLOPS" if hw.bf16_dense_tflops else "?",
                 f"{hw.power_w:g} W" if hw.power_w else "?", gpu)
        if narrow:
            out.print(Text(profile.name, style="bold"))
            for column, cell in zip(PROFILE_COLUMNS, cells):
                out.print(Text(f"    {column}: {cell}"), soft_wrap=True)
        else:
            table.add_row(Text(profile.name), *(Text(cell) for cell in cells))
    if not narrow:
        out.print(table)
    out.print(Text("Each figure's source: the profile's hardware.sources (doctor/profiles/NAME.json); "
                   "`aidoctor fit MODEL --profile NAME --json` prints them."))


def render_compare(columns: list[tuple[Profile, tuple[Verdict, ...]]], out: Console) -> None:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_lines=False)
    table.add_column("")
    for profile, _ in columns:
        table.add_column(profile.name, overflow="fold")
    rows = {
        "memory": lambda p: f"{p.machine.memory_gb:g} GB" + (" unified" if p.machine.unified_memory else ""),
        "bandwidth": lambda p: f"{p.memory_bandwidth_gbs:g} GB/s",
        "GPU": lambda p: ", ".join(f"{g.name}" + (f" {g.compute_capability}" if g.compute_capability else "")
                                   for g in p.machine.gpus or ()) or "none",
        "software": lambda p: " ".join(x for x in (p.machine.distro or (p.machine.macos and f"macOS {p.machine.macos}"),
                                                   p.machine.cuda_driver and f"CUDA {p.machine.cuda_driver}",
                                                   p.machine.python and f"Python {p.machine.python}") if x),
    }
    for label, cell in rows.items():
        table.add_row(Text(label, style="bold"), *(Text(cell(profile)) for profile, _ in columns))
    table.add_section()
    for i, verdict in enumerate(columns[0][1]):
        cells = []
        for _, verdicts in columns:
            v = verdicts[i]
            cell = status_text(v.status) + Text(f"\n{how(v)}", style="dim")
            if fixed_by_driver_update(v):
                cell += Text("\nsoftware, not hardware: the recorded driver; a driver update fixes it", style="yellow")
            cells.append(cell)
        table.add_row(Text(verdict.tool, style="bold"), *cells)
    out.print(table)
    out.print(Text("ok/caveats: a wheel works as is · build: a source build or a wheel from outside the index · "
                   "`aidoctor check --profile NAME` gives every reason and fix."))


def how(verdict: Verdict) -> str:
    """A short 'how' for a comparison cell."""
    if verdict.status is Status.UNSUPPORTED:
        return f"use {verdict.alternative}" if verdict.alternative else _clip(verdict.reasons[0])
    if verdict.status is Status.BUILD:
        return _clip(verdict.reasons[0])
    available = verdict.available
    if available is not None and available.kind is Offer.WHEEL and verdict.status is Status.OK:
        return f"wheel {available.version}"
    return _clip(verdict.reasons[0]) if verdict.reasons else ""


def _clip(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
