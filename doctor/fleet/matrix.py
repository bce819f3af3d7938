"""`aidoctor matrix`: many machines' reports merged into one tools-by-machines matrix.

The reports were read and checked by reportfile.load_inputs. `build_matrix` is pure: identical machines (same kind, same versions, same
verdicts) collapse into one column with a count, and the drift view lists what
differs between machines of one kind. Strings from reports stay raw here; each
renderer makes them literal for its own format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from ...recipes import all_tools
from .reportfile import ABSENT, Cell, Failure, Inputs, Member, Rejected

if TYPE_CHECKING:
    from ..check.engine import Report

SCHEMA = "aidoctor.matrix/1"


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


def profile_members(reports: Mapping[str, Report]) -> list[Member]:
    """Built-in profiles' checks (check.engine.check_profiles) as matrix columns beside the real machines."""
    from .. import __version__

    members = []
    for name, report in reports.items():
        cells = {v.tool: Cell(v.status.value, v.installed, v.reasons, v.report_fixes(), v.sources) for v in report.verdicts}
        members.append(Member(f"profile {name}", f"profile {name}", report.machine, cells, aidoctor=__version__,
                              profile=True))
    return members
