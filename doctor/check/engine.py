"""`aidoctor check` as a function: facts in, verdicts out.

The facts come from one of three places: probing this machine (and the
target Python), a facts file, or a built-in profile. The verdicts come from
the tools' declared rules plus what the package index offers this platform.
The CLI only parses options, calls `run_check` and renders the `Report`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from ...recipes import all_tools, find_tool, watched_dists
from .. import __version__
from ..audit.environment import EnvironmentAudit, audit_target, dists_of_interest
from ..audit.scope import Scope
from ..core.derive import derive
from ..core.errors import EXIT_FINDINGS, EXIT_OK, FactsFileError, TargetPythonError
from ..core.facts import Machine, canonical_name
from ..core.system import LiveSystem, System
from ..dsl.rules import Finding, Status
from ..dsl.tool import Tool
from ..probes import collect as probes
from ..probes import pyenv
from ..probes.pyenv import target_python
from ..probes.target import Environment
from . import REPORT_SCHEMA
from .index import Availability, Index, Target, select, target_for
from .verdicts import Verdict, VerdictOf, evaluate, reconcile, replacements_needed

MAX_FACTS_FILE_BYTES = 16 << 20


@dataclass(frozen=True)
class CheckRequest:
    python: str | None = None
    facts_file: Path | None = None
    profile: str | None = None
    tools: tuple[str, ...] = ()
    offline: bool = False
    deep: bool = False
    include_identifiers: bool = False
    timeout: float = 5.0
    deep_timeout: float = 120.0
    cache_dir: Path | None = None
    audit: Scope = Scope.TOOLS  # which installed distributions' binaries to audit (a probed machine only)
    lenient: bool = False  # a facts file's unknown keys are warnings, not an error


@dataclass(frozen=True)
class Report:
    subject: str  # "this machine", "profile dgx-spark", "facts file m.json"
    machine: Machine
    verdicts: tuple[Verdict, ...]
    named: tuple[str, ...] = ()  # tools named with --tool
    smoke: Mapping[str, dict] = field(default_factory=dict)  # tool -> the latest smoke result in the target env
    audit: EnvironmentAudit | None = None  # what the installed binaries say; None: not audited
    warnings: tuple[str, ...] = ()  # what was ignored on the way (a facts file's unknown keys, with --lenient)
    index_unreachable: str | None = None  # the network failure behind every "package index unreachable"
    environment: Environment | None = None  # the probed target's environment: the terminal names it, JSON does not

    @property
    def exit_code(self) -> int:
        if self.named:
            return EXIT_OK if all(v.status.usable for v in self.verdicts) else EXIT_FINDINGS
        broken = any(v.installed is not None and v.status is Status.UNSUPPORTED for v in self.verdicts)
        return EXIT_FINDINGS if broken else EXIT_OK

    def other_audit_findings(self) -> list[tuple[str, Finding]]:
        """Audit findings on distributions that no verdict covers (with --audit all): (distribution, finding)."""
        if self.audit is None:
            return []
        tools = all_tools()
        covered = set(dists_of_interest(self.machine, [tools[v.tool].dist_name for v in self.verdicts
                                                        if v.tool in tools]))
        covered |= {canonical_name(c) for v in self.verdicts if v.tool in tools for c in tools[v.tool].companions}
        return [(dist, finding) for dist in self.audit.dists if dist not in covered
                for finding in self.audit.findings(dist, self.machine)]

    def to_json(self) -> dict:
        return {
            "schema": REPORT_SCHEMA,
            "aidoctor": __version__,
            "subject": self.subject,
            "facts": self.machine.to_json(),
            "verdicts": [v.to_json() for v in self.verdicts],
            "smoke": {tool: result for tool, result in self.smoke.items()
                      if not self.named or tool in self.named},
            "audit": None if self.audit is None else self.audit.to_json(self.machine),
        }


def select_tools(names: tuple[str, ...]) -> list[Tool]:
    """The tools `names` mean, however spelt (`flash_attn`, `Peft`), once each; every tool when none is named."""
    if not names:
        return list(all_tools().values())
    return list(dict.fromkeys(find_tool(name) for name in names))


def load_facts_file(path: Path, lenient: bool = False) -> tuple[Machine, tuple[str, ...]]:
    """The machine a facts file describes, and what was ignored in it. A key no fact has (`"gpu"`,
    `"nvidia_drvier"`) would leave its fact unknown in silence, so it is refused, naming the key and the one
    it resembles; `lenient` ignores such keys and returns a warning for each."""
    try:
        size = path.stat().st_size
        if size > MAX_FACTS_FILE_BYTES:
            raise FactsFileError(str(path), f"{size} bytes is too large for a facts file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FactsFileError(str(path), "no such file") from None
    except IsADirectoryError:
        raise FactsFileError(str(path), "is a directory") from None
    except UnicodeDecodeError:
        raise FactsFileError(str(path), "is not UTF-8 text") from None
    except OSError as exc:
        raise FactsFileError(str(path), exc.strerror or str(exc)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FactsFileError(str(path), f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    try:
        machine, stray = Machine.read(data)
    except FactsFileError:
        raise
    except Exception as exc:  # BadInput names the key; keep the file name in front of it
        raise FactsFileError(str(path), str(exc)) from None
    if stray and not lenient:
        raise FactsFileError(str(path), stray[0].describe("") + " (--lenient ignores unknown keys)")
    return machine, tuple(f"facts file {path}: {key.describe(', ignored')}" for key in stray)


def start_probes(request: CheckRequest, system: System) -> probes.Probing:
    return probes.start(system, probes.Options(python=target_python(request.python), timeout=request.timeout))


def probe_machine(request: CheckRequest, system: System, probing: probes.Probing | None = None) -> Machine:
    """The probed machine (`probing`: the probes of this request, already started), with the Requires-Dist of
    the watched tools only: the target reports every distribution's."""
    python = target_python(request.python)
    machine = (probing or start_probes(request, system)).finish()
    if machine.requires is not None:
        watched = watched_dists()
        machine = replace(machine, requires={k: v for k, v in machine.requires.items() if k in watched})
    problem = pyenv.interpreter_error(machine)
    if problem is not None:
        raise TargetPythonError(python, problem)
    if request.deep:
        from ..probes import deep

        machine = replace(machine, deep=deep.run(system, python, request.deep_timeout))
    return machine


def judge(machine: Machine, tools: list[Tool], index: Index,
          audit: EnvironmentAudit | None = None) -> tuple[Verdict, ...]:
    machine = derive(machine)  # a no-op for what run_check passes; callers with a raw profile or file need it
    wanted = [t for t in tools if t.on_index and (machine.packages is None or t.dist_name not in machine.packages)]
    target = target_for(machine)
    # A chosen file's own pins matter only against what is installed: with nothing watched installed, skip them.
    pins_matter = any(name in (machine.packages or {}) for name in watched_dists())
    choice = target.key() if not isinstance(target, str) else "unknown-target"
    chosen = index.offers((t.dist_name for t in wanted), lambda project: select(project, machine, target), choice,
                          requirements=pins_matter) if wanted else {}
    replacing = _replacements(machine, chosen, index, target) if pins_matter else {}
    verdicts = {tool.dist_name: evaluate(tool, machine, chosen.get(tool.dist_name), watched_dists(),
                                         _audit_findings(tool, machine, audit), replacing) for tool in tools}
    verdict_of = _verdict_of(machine, index, target, verdicts)
    return tuple(reconcile(verdicts[tool.dist_name], tool, verdict_of) for tool in tools)


def _verdict_of(machine: Machine, index: Index, target: Target | str,
                judged: Mapping[str, Verdict]) -> VerdictOf:
    """The verdict here on what `pip install "name<specifier>"` would bring, for `reconcile`: the judged verdict
    when the specifier keeps the installed release (or names none), else the index's release for it, judged as
    if nothing of that name were installed. Looked up once per pair; None for a name no tool has."""
    by_dist = {tool.dist_name: tool for tool in all_tools().values() if tool.on_index}
    seen: dict[tuple[str, str], Verdict | None] = {}

    def verdict_of(name: str, spec: str) -> Verdict | None:
        if (name, spec) not in seen:
            tool = by_dist.get(name)
            have = (machine.packages or {}).get(name)
            keeps = not spec or (have is not None and _contains(spec, have))
            if tool is None:
                seen[name, spec] = None
            elif keeps and name in judged:
                seen[name, spec] = judged[name]
            else:
                seen[name, spec] = judge_pin(by_dist[name], "" if keeps else spec, machine, index, target)
        return seen[name, spec]

    return verdict_of


def _contains(spec: str, version: str) -> bool:
    try:
        return SpecifierSet(spec).contains(version, prereleases=True)
    except InvalidSpecifier:
        return False


def judge_pin(tool: Tool, spec: str, machine: Machine, index: Index, target: Target | str | None = None) -> Verdict:
    """The verdict on the index's release of `tool` in `spec` here, judged as if it were not installed."""
    target = target_for(machine) if target is None else target
    name = tool.dist_name
    choice = target.key(spec) if not isinstance(target, str) else "unknown-target"
    offered = index.offers([name], lambda project: select(project, machine, target, spec), choice,
                           requirements=False)[name]
    without = replace(machine, packages={k: v for k, v in (machine.packages or {}).items() if k != name})
    return evaluate(tool, without, offered, watched_dists())


def _replacements(machine: Machine, chosen: Mapping[str, Availability], index: Index,
                  target: Target | str) -> dict[str, Verdict]:
    """For each pin of a chosen file that the installed packages miss (vllm's torch==2.14.0 beside torch 2.15.0):
    the verdict on what pip would install for that pin here, judged as if it were not installed."""
    by_dist = {tool.dist_name: tool for tool in all_tools().values() if tool.on_index}
    pins = {str(r): r for available in chosen.values()
            for r in replacements_needed(available, machine, watched_dists()) if canonical_name(r.name) in by_dist}
    return {text: judge_pin(by_dist[canonical_name(r.name)], str(r.specifier), machine, index, target)
            for text, r in pins.items()}


def _audit_findings(tool: Tool, machine: Machine, audit: EnvironmentAudit | None) -> list[Finding]:
    """The audit's findings on the tool's own files, then on the installed distributions it requires."""
    if audit is None or machine.packages is None or tool.dist_name not in machine.packages:
        return []
    own = [tool.dist_name, *(canonical_name(c) for c in tool.companions)]
    findings = [f for dist in own for f in audit.findings(dist, machine)]
    for dist in dists_of_interest(machine, [tool.dist_name])[1:]:
        if dist not in own:
            findings += [replace(f, msg=f"{dist} (required by {tool.id}): {f.msg}")
                         for f in audit.findings(dist, machine)]
    return findings


def run_check(request: CheckRequest, system: System | None = None, index: Index | None = None,
              probing: probes.Probing | None = None) -> Report:
    """`probing`: this request's probes, started by the caller before it imported the rest (the CLI)."""
    tools = select_tools(request.tools)
    probed = request.facts_file is None and request.profile is None  # decided here, not from the subject's words
    warnings: tuple[str, ...] = ()
    if request.facts_file is not None:
        machine, warnings = load_facts_file(request.facts_file, request.lenient)
        subject = f"facts file {request.facts_file}"
    elif request.profile is not None:
        from .profiles import (
            load as load_profile,  # importlib.resources: only when a profile is asked for
        )

        profile = load_profile(request.profile)
        machine, subject = profile.machine, f"profile {profile.name}"
    else:
        machine, subject = probe_machine(request, system or LiveSystem(), probing), "this machine"
    machine = derive(machine)  # every source, so a facts file is read as a probe would have read that machine
    from ..core.paths import cache_dir

    audit = (audit_target(machine, request.audit, watched_dists(), request.cache_dir or cache_dir())
             if probed else None)
    environment = Environment.from_json((machine.identifiers or {}).get("environment")) if probed else None
    if not request.include_identifiers:
        machine = replace(machine, identifiers=None)
    elif probed:
        import socket

        machine = replace(machine, identifiers={**(machine.identifiers or {}), "hostname": socket.gethostname()})
    index = index or Index(request.cache_dir or cache_dir(), offline=request.offline, timeout=request.timeout)
    smoke = _smoke_results(target_python(request.python)) if probed else {}
    verdicts = judge(machine, tools, index, audit)
    return Report(subject, machine, verdicts, named=tuple(t.id for t in tools) if request.tools else (),
                  smoke=smoke, audit=audit, warnings=warnings, index_unreachable=index.unreachable,
                  environment=environment)


def check_profiles(names: Iterable[str], offline: bool, timeout: float) -> dict[str, Report]:
    """Each named built-in profile judged by this aidoctor, once, in the order first named."""
    return {name: run_check(CheckRequest(profile=name, offline=offline, timeout=timeout))
            for name in dict.fromkeys(names)}


def _smoke_results(python: str) -> dict[str, dict]:
    """Smoke results `aidoctor install` or `aidoctor smoke` saved for this environment, found without running it.

    A venv's prefix is the folder above bin/ that holds pyvenv.cfg (conda: conda-meta/), which is what the
    target's sys.prefix says; any other interpreter has no saved results.
    """
    prefix = Path(os.path.abspath(python)).parent.parent
    if not ((prefix / "pyvenv.cfg").is_file() or (prefix / "conda-meta").is_dir()):
        return {}
    from ..core.smoke_store import SmokeStore

    return {tool: {k: v for k, v in result.items() if k != "tail"}
            for tool, result in SmokeStore().load(str(prefix)).items()}
