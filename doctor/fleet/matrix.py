"""`aidoctor matrix`: many machines' reports merged into one tools-by-machines matrix.

Reports come from other machines and are untrusted. `load_inputs` reads files
and folders and rejects, one file at a time and with the reason, whatever is
not a report this aidoctor can read: too large, not UTF-8, malformed or
truncated JSON, another schema, wrong types. The rest merge.

`build_matrix` is pure: identical machines (same kind, same versions, same
verdicts) collapse into one column with a count, and the drift view lists what
differs between machines of one kind. Strings from reports stay raw here; each
renderer makes them literal for its own format.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ...recipes import all_tools
from ..check.engine import SCHEMA as REPORT_SCHEMA
from ..core.errors import BadInput
from ..core.facts import Machine
from ..dsl.rules import Status

SCHEMA = "aidoctor.matrix/1"
FAILURE_SCHEMA = "aidoctor.collect-failure/1"
MAX_REPORT_BYTES = 8 << 20  # a real report is 20-60 KB; this leaves room for every package of a large env
MAX_TEXT_CHARS = 20_000  # one reason, fix, label or version string
STATUSES = tuple(s.value for s in Status)
ABSENT = "absent"  # the report has no verdict for this tool (written by an older or newer aidoctor)


@dataclass(frozen=True)
class Cell:
    status: str  # a Status value, or ABSENT
    installed: str | None = None
    reasons: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    smoke: str | None = None  # "passed", or "failed: <check>: <error>" from the latest smoke test there


@dataclass(frozen=True)
class Member:
    """One machine's report, read and checked."""

    name: str  # the label, else "machine <hash>"
    source: str  # the file it came from, or "profile NAME"
    machine: Machine
    cells: Mapping[str, Cell]
    machine_id: str | None = None
    label: str | None = None
    aidoctor: str | None = None
    created_at: str | None = None
    profile: bool = False

    @property
    def kind(self) -> str:
        return machine_kind(self.machine)


@dataclass(frozen=True)
class Failure:
    """A machine that `fleet collect` could not get a report from."""

    name: str
    source: str
    via: str  # ssh, docker
    problem: str  # unreachable, timeout, garbage, failed
    reason: str


@dataclass(frozen=True)
class Rejected:
    source: str
    reason: str


@dataclass(frozen=True)
class Inputs:
    members: tuple[Member, ...] = ()
    failures: tuple[Failure, ...] = ()
    rejected: tuple[Rejected, ...] = ()


@dataclass(frozen=True)
class Aspect:
    """One thing machines of a kind may differ in, for the drift view and for telling machines apart."""

    name: str
    read: Callable[[Member], str | None]


def _torch_build(member: Member) -> str | None:
    build = member.machine.torch_build
    if build is None or build.version is None:
        return None
    return build.version + (f" (CUDA {build.cuda})" if build.cuda and "+cu" not in build.version else "")


def _jetpack(member: Member) -> str | None:
    jetson = member.machine.jetson
    if not hasattr(jetson, "l4t"):
        return None
    return " / ".join(p for p in (jetson.jetpack and f"JetPack {jetson.jetpack}", jetson.l4t and f"L4T {jetson.l4t}")
                      if p) or None


def _memory(member: Member) -> str | None:
    gb = member.machine.memory_gb
    return None if gb is None else f"{round(gb)} GB"


ASPECTS = (
    Aspect("OS", lambda m: m.machine.distro or (m.machine.macos and f"macOS {m.machine.macos}")),
    Aspect("kernel", lambda m: m.machine.kernel),
    Aspect("glibc", lambda m: m.machine.glibc),
    Aspect("JetPack", _jetpack),
    Aspect("NVIDIA driver", lambda m: m.machine.nvidia_driver),
    Aspect("CUDA driver", lambda m: m.machine.cuda_driver),
    Aspect("CUDA toolkit", lambda m: m.machine.cuda_toolkit),
    Aspect("Python", lambda m: m.machine.python),
    Aspect("torch build", _torch_build),
    Aspect("memory", _memory),
    Aspect("aidoctor", lambda m: m.aidoctor),
)


def machine_kind(machine: Machine) -> str:
    """What kind of machine this is, from its hardware: the GPU(s), else the board or chip, else the CPU."""
    what: str | None = None
    if hasattr(machine.jetson, "module") and machine.jetson.module:
        what = machine.jetson.module
    elif machine.apple is not None and machine.apple.chip:
        what = machine.apple.chip
    elif machine.gpus:
        names: dict[str, int] = {}
        for gpu in machine.gpus:
            names[gpu.name or "unknown GPU"] = names.get(gpu.name or "unknown GPU", 0) + 1
        what = " + ".join(f"{n}× {name}" if n > 1 else name for name, n in names.items())
    elif machine.cpu is not None and machine.cpu.model:
        what = machine.cpu.model + (", no GPU" if machine.gpus == () else "")
    platform = f"{machine.os or '?'} {machine.arch or '?'}"
    return f"{what} · {platform}" if what else platform


# -- reading reports -------------------------------------------------------------------------------------------


class NotAReport(Exception):
    """Why some bytes or a file are not a report this aidoctor can merge."""


def load_inputs(paths: Iterable[Path]) -> Inputs:
    """Read report files and folders of them (every *.json below a folder), keeping each file's fate."""
    members: list[Member] = []
    failures: list[Failure] = []
    rejected: list[Rejected] = []
    seen: dict[tuple, Cell] = {}  # verdicts already checked, shared by all the reports
    for path in _expand(paths, rejected):
        try:
            item = read_report(path, seen)
        except NotAReport as exc:
            rejected.append(Rejected(str(path), str(exc)))
            continue
        (failures if isinstance(item, Failure) else members).append(item)
    return Inputs(tuple(members), tuple(failures), tuple(rejected))


def _expand(paths: Iterable[Path], rejected: list[Rejected]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.json") if p.is_file())
            if not found:
                rejected.append(Rejected(str(path), "folder holds no *.json reports"))
            files += found
        elif path.exists():
            files.append(path)
        else:
            rejected.append(Rejected(str(path), "no such file or folder"))
    return list(dict.fromkeys(files))


def read_report(path: Path, seen: dict[tuple, Cell] | None = None) -> Member | Failure:
    try:
        size = os.stat(path).st_size
        if size > MAX_REPORT_BYTES:
            raise NotAReport(f"oversized: {size} bytes, more than the {MAX_REPORT_BYTES >> 20} MiB a report may have")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_REPORT_BYTES + 1)  # the file may grow between stat and read
    except OSError as exc:
        raise NotAReport(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_REPORT_BYTES:
        raise NotAReport(f"oversized: more than the {MAX_REPORT_BYTES >> 20} MiB a report may have")
    return parse_report(raw, str(path), seen)


def parse_report(raw: bytes, source: str, seen: dict[tuple, Cell] | None = None) -> Member | Failure:
    """A report (or a collect failure record) from its bytes; NotAReport says what is wrong with it."""
    return from_data(decode_json(raw), source, seen)


def decode_json(raw: bytes) -> dict:
    """The JSON object in `raw`; NotAReport names what stops it being one (truncation, encoding, nesting)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotAReport(f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise NotAReport("empty file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # A string or value cut off by the end of the file is what a truncated transfer looks like.
        truncated = not text[exc.pos:].strip() or exc.msg.startswith("Unterminated string")
        where = f"line {exc.lineno} column {exc.colno}"
        raise NotAReport(f"truncated JSON: it stops mid-value ({exc.msg} at {where})" if truncated
                         else f"malformed JSON: {exc.msg} at {where}") from None
    except RecursionError:
        raise NotAReport("malformed JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise NotAReport("not a report: the JSON is not an object")
    return data


def from_data(data: dict, source: str, seen: dict[tuple, Cell] | None = None) -> Member | Failure:
    """A decoded report or collect failure record, checked; `seen` shares checked verdicts between reports."""
    schema = data.get("schema")
    if schema == FAILURE_SCHEMA:
        return _failure(data, source)
    if schema != REPORT_SCHEMA:
        named = "no schema key" if schema is None else f"schema {_short(schema)}"
        raise NotAReport(f"{named}; this aidoctor reads {REPORT_SCHEMA} (write one with `aidoctor report`)")
    return _member(data, source, {} if seen is None else seen)


def _member(data: dict, source: str, seen: dict[tuple, Cell]) -> Member:
    machine = _machine(data.get("facts"))
    verdicts = data.get("verdicts")
    if not isinstance(verdicts, list):
        raise NotAReport("verdicts: expected a list")
    smoke = _smoke(data.get("smoke", {}))
    cells: dict[str, Cell] = {}
    for i, verdict in enumerate(verdicts):
        cell = _cell(verdict, f"verdicts[{i}]", smoke, seen)
        if verdict["tool"] in cells:
            raise NotAReport(f"verdicts[{i}]: a second verdict for {_short(verdict['tool'])}")
        cells[verdict["tool"]] = cell
    machine_id = _text(data, "machine_id", "report", optional=True)
    label = _text(data, "label", "report", optional=True)
    name = label or (f"machine {machine_id}" if machine_id else Path(source).stem)
    return Member(name, source, machine, cells, machine_id, label, _text(data, "aidoctor", "report", optional=True),
                  _text(data, "created_at", "report", optional=True))


# The facts a matrix shows (kind, drift aspects). The rest (the package list, probe timings, what is unknown
# and why) stays in the report file: reading and checking it would be most of the cost of a large merge.
MATRIX_FACTS = ("os", "arch", "distro", "kernel", "glibc", "macos", "python", "memory_gb", "cpu", "gpus",
                "nvidia_driver", "cuda_driver", "cuda_toolkit", "jetson", "apple", "torch_build")


def _machine(facts: Any) -> Machine:
    if isinstance(facts, dict):
        facts = {key: facts[key] for key in MATRIX_FACTS if key in facts}
    try:
        return Machine.from_json(facts, where="facts")
    except BadInput as exc:
        raise NotAReport(str(exc)) from None


def _cell(verdict: Any, where: str, smoke: dict[str, str], seen: dict[tuple, Cell]) -> Cell:
    """The verdict as a cell. Machines of a fleet share most verdicts word for word, so each distinct one is
    checked once: a tuple equal to a checked one holds the same strings (no non-string equals a string)."""
    try:
        key = (verdict["tool"], verdict["status"], verdict.get("installed"), tuple(verdict.get("reasons", ())),
               tuple(verdict.get("fixes", ())), tuple(verdict.get("sources", ())))
        cell = seen.get(key)
    except (TypeError, KeyError):  # not an object, a missing key, a list where a string belongs
        cell = key = None
    if cell is None:
        cell = _checked_cell(verdict, where)
        if key is not None and len(seen) < 100_000:
            seen[key] = cell
    tool = verdict["tool"]
    return cell if tool not in smoke else dataclasses.replace(cell, smoke=smoke[tool])


def _checked_cell(verdict: Any, where: str) -> Cell:
    if not isinstance(verdict, dict):
        raise NotAReport(f"{where}: expected an object")
    tool = _text(verdict, "tool", where)
    status = verdict.get("status")
    if status not in STATUSES:
        raise NotAReport(f"{where}.status: {_short(status)} is not one of {', '.join(STATUSES)}")
    return Cell(status, _text(verdict, "installed", where, optional=True), _texts(verdict, "reasons", where),
                _texts(verdict, "fixes", where), _texts(verdict, "sources", where))


def _smoke(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise NotAReport("smoke: expected an object")
    out = {}
    for tool, result in value.items():
        if not isinstance(result, dict) or not isinstance(result.get("passed"), bool):
            raise NotAReport(f"smoke.{_short(tool)}: expected an object with passed true/false")
        if result["passed"]:
            out[tool] = "passed"
        else:
            failed = result.get("failed")
            error = result.get("error")
            detail = ": ".join(str(p) for p in (failed, error) if isinstance(p, str) and p)
            out[tool] = "failed" + (f": {detail[:MAX_TEXT_CHARS]}" if detail else "")
    return out


def _failure(data: dict, source: str) -> Failure:
    name = _text(data, "label", "record", optional=True) or _text(data, "target", "record")
    return Failure(name, source, _text(data, "via", "record"), _text(data, "problem", "record"),
                   _text(data, "reason", "record"))


def _text(data: dict, key: str, where: str, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise NotAReport(f"{where}.{key}: expected a string, got {_short(value)}")
    if len(value) > MAX_TEXT_CHARS:
        raise NotAReport(f"{where}.{key}: {len(value)} characters, more than {MAX_TEXT_CHARS}")
    return value


def _texts(data: dict, key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    # map() keeps the per-item checks in C: a 10,000-report merge checks over a million strings.
    if type(value) is not list or not set(map(type, value)) <= {str} or max(map(len, value), default=0) > MAX_TEXT_CHARS:
        raise NotAReport(f"{where}.{key}: expected a list of strings of at most {MAX_TEXT_CHARS} characters")
    return tuple(value)


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- merging ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """Identical machines: one column, their names and a count."""

    members: tuple[Member, ...]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def first(self) -> Member:
        return self.members[0]

    @property
    def title(self) -> str:
        names = [m.name for m in self.members]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return shown + (f" (×{len(names)})" if len(names) > 1 else "")

    def cell(self, tool: str) -> Cell:
        return self.first.cells.get(tool) or Cell(ABSENT)


@dataclass(frozen=True)
class Drift:
    """Machines of one kind that differ in one aspect: value -> the names of the machines with it."""

    kind: str
    aspect: str
    values: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Matrix:
    tools: tuple[str, ...]
    columns: tuple[Column, ...]
    drift: tuple[Drift, ...] = ()
    failures: tuple[Failure, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    superseded: tuple[Rejected, ...] = ()  # an older report of a machine that has a newer one here
    generated_by: str = ""

    @property
    def machines(self) -> int:
        return sum(c.count for c in self.columns)

    def to_json(self) -> dict:
        return {
            "schema": SCHEMA,
            "aidoctor": self.generated_by,
            "tools": list(self.tools),
            "columns": [{
                "title": c.title,
                "kind": c.first.kind,
                "count": c.count,
                "profile": c.first.profile,
                "machines": [{"name": m.name, "label": m.label, "machine_id": m.machine_id, "source": m.source,
                              "created_at": m.created_at, "aidoctor": m.aidoctor} for m in c.members],
                "facts": {a.name: a.read(c.first) for a in ASPECTS},
                "cells": {tool: _cell_json(c.cell(tool)) for tool in self.tools},
            } for c in self.columns],
            "drift": [{"kind": d.kind, "aspect": d.aspect,
                       "values": [{"value": v, "machines": list(names)} for v, names in d.values]} for d in self.drift],
            "failures": [{"name": f.name, "source": f.source, "via": f.via, "problem": f.problem, "reason": f.reason}
                         for f in self.failures],
            "rejected": [{"source": r.source, "reason": r.reason} for r in self.rejected],
            "superseded": [{"source": r.source, "reason": r.reason} for r in self.superseded],
        }


def _cell_json(cell: Cell) -> dict:
    return {"status": cell.status, "installed": cell.installed, "reasons": list(cell.reasons),
            "fixes": list(cell.fixes), "sources": list(cell.sources), "smoke": cell.smoke}


def _signature(member: Member) -> tuple:
    """Everything a column shows: members with equal signatures are interchangeable in the matrix."""
    return (member.profile, member.kind, tuple(a.read(member) for a in ASPECTS),
            tuple(sorted(member.cells.items())))


def build_matrix(inputs: Inputs, profiles: Iterable[Member] = (), generated_by: str = "") -> Matrix:
    members, superseded = _newest_per_machine(inputs.members)
    members = [*members, *profiles]
    columns: dict[tuple, list[Member]] = {}
    for member in members:
        columns.setdefault(_signature(member), []).append(member)
    ordered = sorted((Column(tuple(group)) for group in columns.values()),
                     key=lambda c: (c.first.profile, c.first.kind, -c.count, c.first.name))
    return Matrix(_tool_order(c.first for c in ordered), tuple(ordered),
                  drift_between([c for c in ordered if not c.first.profile]),
                  inputs.failures, inputs.rejected, tuple(superseded), generated_by)


def _newest_per_machine(members: Iterable[Member]) -> tuple[list[Member], list[Rejected]]:
    """One report per machine and label: the same machine collected twice must not count twice."""
    newest: dict[tuple, Member] = {}
    superseded: list[Rejected] = []
    for member in members:
        if member.machine_id is None:
            newest[("file", member.source)] = member
            continue
        key = (member.machine_id, member.label)
        kept = newest.get(key)
        if kept is None:
            newest[key] = member
            continue
        older, newer = sorted((kept, member), key=lambda m: (m.created_at or "", m.source))
        newest[key] = newer
        superseded.append(Rejected(older.source, f"an older report of the machine in {newer.source}"))
    return list(newest.values()), superseded


def _tool_order(members: Iterable[Member]) -> tuple[str, ...]:
    """The registry's order first; tools only a newer aidoctor knows follow, sorted."""
    seen: dict[str, None] = {}
    for member in members:
        seen.update(dict.fromkeys(member.cells))
    known = [t for t in all_tools() if t in seen]
    return tuple(known + sorted(t for t in seen if t not in all_tools()))


def drift_between(columns: list[Column]) -> tuple[Drift, ...]:
    """For each kind with two or more machines: every aspect, tool version and status on which they differ.

    Members of one column are identical, so reading one member per column is enough.
    """
    by_kind: dict[str, list[Column]] = {}
    for column in columns:
        by_kind.setdefault(column.first.kind, []).append(column)
    drift = []
    for kind, group in sorted(by_kind.items()):
        if len(group) < 2:
            continue
        readers: list[tuple[str, Callable[[Member], str | None]]] = [(a.name, a.read) for a in ASPECTS]
        for tool in _tool_order(c.first for c in group):
            readers.append((f"{tool} version", lambda m, t=tool: m.cells[t].installed if t in m.cells else None))
            readers.append((f"{tool} status", lambda m, t=tool: m.cells[t].status if t in m.cells else ABSENT))
        for aspect, read in readers:
            values: dict[str, list[str]] = {}
            for column in group:
                values.setdefault(read(column.first) or "not reported", []).extend(m.name for m in column.members)
            if len(values) > 1:
                drift.append(Drift(kind, aspect, tuple((v, tuple(n)) for v, n in values.items())))
    return tuple(drift)


def profile_members(names: Iterable[str], offline: bool, timeout: float) -> list[Member]:
    """Built-in profiles as matrix columns beside the real machines, judged by this aidoctor."""
    from .. import __version__
    from ..check.engine import CheckRequest, run_check

    members = []
    for name in dict.fromkeys(names):
        report = run_check(CheckRequest(profile=name, offline=offline, timeout=timeout))
        cells = {v.tool: Cell(v.status.value, v.installed, v.reasons, v.report_fixes(), v.sources) for v in report.verdicts}
        members.append(Member(f"profile {name}", f"profile {name}", report.machine, cells, aidoctor=__version__,
                              profile=True))
    return members
