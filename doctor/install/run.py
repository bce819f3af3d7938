"""`aidoctor install`: carry out a plan, keep torch safe, prove the result, undo it if it fails.

`prepare` gathers the facts and makes the plan (doctor.plan); `execute` runs
its steps in order. Every wheel passes through the wheelhouse, and is
installed from there only after its sha256 is checked. Before anything
changes, the distributions the install will replace are backed up; if torch
or the CUDA libraries changed, or the smoke test fails, the install is rolled
back and the environment is as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Protocol, Sequence
from urllib.parse import unquote, urlparse

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement

from ...wheels.store import StoredWheel, Wheelhouse, file_sha256
from ..check.engine import CheckRequest, judge_pin, load_facts_file, probe_machine, select_tools
from ..check.index import Availability, Index, Offer, nearest_releases, select, target_for, wheel_fits
from ..check.verdicts import Verdict, evaluate, marker_environment
from ..core.errors import (
    AidoctorError, BadInput, InstallFailed, InstallInterrupted, Interrupted, NoSuchRelease,
    NotAnEnvironmentYouMayChange, RolledBack, TorchChangeNeeded,
)
from ..core.facts import Machine, canonical_name
from ..core.paths import builds_dir, cache_dir, runs_dir, wheelhouse_dir
from ..core.smoke_store import SmokeStore
from ..core.system import LiveSystem, System, interrupts_call
from ..dsl.tool import Tool
from ..probes.pyenv import target_python
from ..probes.target import Environment
from . import envstate, recovery
from .argv import BuiltWheel, RequirementsOf, ResolvedWheels, expand
from .build import Log, compile_wheel, prepare_source
from .envstate import EnvState
from .pipcmd import choose_pip, host_pip
from .plan import (
    Action, InstallRequest, Paths, Plan, Route, Step, Stored, arrival_note, brought_note, make_plan, not_protected,
    own_way_note, parse_arrivals,
)
from .smoke import SmokeResult, run_smoke

BUILD_TIMEOUT = 6 * 3600.0  # flash-attn's own CI allows 5 h at MAX_JOBS=1
PIP_TIMEOUT = 1800.0


class Reporter(Protocol):
    def step(self, number: int, total: int, step: Step) -> None: ...

    def info(self, text: str) -> None: ...

    def progress(self, done: int, total: int) -> None: ...


@dataclass(frozen=True)
class Prepared:
    request: InstallRequest
    plan: Plan
    tool: Tool
    python: str
    machine: Machine
    state: EnvState
    wheelhouse: Wheelhouse
    environment: Environment | None = None  # the target's, named on the terminal; None for another machine


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    installed: tuple[str, ...]  # "name version" of what the install added or replaced
    smoke: SmokeResult | None
    seconds: float
    log: Path


# -- preparing: facts, environment, index, wheelhouse -> plan --


# Where a plan for another machine (--profile, --facts) puts things there: that machine's cache folder
# ($AIDOCTOR_CACHE_DIR or its user's cache) is not known here, so the plan names it instead of printing this one's.
ELSEWHERE_CACHE = Path("<aidoctor cache on that machine>")
ELSEWHERE_WHEELHOUSE = Path("<wheelhouse on that machine>")


def prepare(request: InstallRequest, system: System | None = None, index: Index | None = None) -> Prepared:
    tool = select_tools((request.tool,))[0]
    elsewhere = request.profile is not None or request.facts_file is not None
    if elsewhere:
        machine, python, state = _elsewhere(request)
    else:
        system = system or LiveSystem()
        python = target_python(request.python)
        machine = probe_machine(CheckRequest(python=python, timeout=request.timeout), system)
        state = envstate.capture(system, python)
        _check_changeable(python, state)
        if not request.dry_run:
            recovery.refuse_if_unfinished(python, state)
    # --wheelhouse names a folder for that machine too (one exported there); otherwise its place there is unknown.
    root = request.wheelhouse or (ELSEWHERE_WHEELHOUSE if elsewhere else wheelhouse_dir())
    # A dry run creates nothing, not even the wheelhouse directory.
    wheelhouse = Wheelhouse(root) if request.dry_run else Wheelhouse.open(root)
    available = None
    if tool.on_index:
        index = index or Index(cache_dir(), offline=request.offline, timeout=request.timeout)
        project = index.projects([tool.dist_name])[tool.dist_name]
        if request.version and not isinstance(project, str):
            nearest = nearest_releases(project, request.version)
            if nearest is not None:  # refused before any plan: a plan for a release that does not exist is none
                raise NoSuchRelease(tool.dist, request.version, nearest)
        # A pinned or ranged request goes through the same selection as a plain one.
        available = (Availability(Offer.UNKNOWN, reason=project) if isinstance(project, str)
                     else select(project, machine, specifier=f"=={request.version}" if request.version else ""))
        available = index.read_metadata({tool.dist_name: available})[tool.dist_name]
    # Judge the tool as if it were not installed: the plan is about what to install, not what is there.
    fresh = replace(machine, packages={k: v for k, v in (machine.packages or {}).items() if k != tool.dist_name})
    from ...recipes import watched_dists

    verdict = evaluate(tool, fresh, available, watched_dists())
    # An unknown wheelhouse is planned as one without the tool: nothing of this machine's is read for it.
    stored = [] if root == ELSEWHERE_WHEELHOUSE else _stored_for(wheelhouse, tool, machine)
    if elsewhere:
        paths = Paths(wheelhouse.root, run=ELSEWHERE_CACHE / "runs" / f"{tool.id}-<start time>-<process id>",
                      builds_root=ELSEWHERE_CACHE / "builds")
    else:
        paths = Paths(wheelhouse.root, run=runs_dir() / f"{tool.id}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}",
                      builds_root=builds_dir())
    pip_route = None if elsewhere else choose_pip(python, machine.python, "pip" in state.dists, request.bootstrap_pip,
                                                  host_pip(), shutil.which("uv"), request.offline)
    plan = make_plan(replace(request, python=python), tool, machine, verdict, available, stored, state, paths,
                     pip_route)
    if plan.route is not Route.IMPOSSIBLE and index is not None:
        plan = replace(plan, notes=plan.notes + _warnings(tool, verdict, available, fresh, index))
    if elsewhere:
        plan = replace(plan, subject=(f"profile {request.profile}" if request.profile is not None
                                      else f"facts file {request.facts_file}"))
    environment = None if elsewhere else Environment.from_json((machine.identifiers or {}).get("environment"))
    return Prepared(request, plan, tool, python, machine, state, wheelhouse, environment)


def _warnings(tool: Tool, verdict: Verdict, available: Availability | None, machine: Machine,
              index: Index) -> tuple[str, ...]:
    """What the plan must not do silently: take the index's build of the tool where its own verdict names
    another (torch's CUDA wheel on a machine without a GPU), or bring a protected tool (torch) into an
    environment that has none, whatever build that is."""
    from ...recipes import all_tools

    notes = [note for note in (own_way_note(tool, verdict, f"=={available.version}" if available and
                                            available.version else ""),) if note]
    env = marker_environment(machine)
    by_dist = {t.dist_name: t for t in all_tools().values() if t.on_index}
    for text in (available.requires_dist or ()) if available is not None else ():
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        name = canonical_name(requirement.name)
        if name not in by_dist or not envstate.is_protected(name) or name in (machine.packages or {}):
            continue
        if requirement.marker is not None and (env is None or "extra" in str(requirement.marker)
                                               or not requirement.marker.evaluate(env)):
            continue
        spec = str(requirement.specifier)
        notes.append(brought_note(by_dist[name], spec, judge_pin(by_dist[name], spec, machine, index)))
    return tuple(notes)


def _elsewhere(request: InstallRequest) -> tuple[Machine, str, EnvState]:
    """Another machine's facts, and the fresh venv there the plan is written for: nothing here is read."""
    if not request.dry_run:
        raise BadInput("--profile and --facts plan for another machine: add --dry-run (a real install runs on the "
                       "machine it installs into)")
    if request.profile is not None:
        from ..check.profiles import load as load_profile

        machine = load_profile(request.profile).machine
    else:
        assert request.facts_file is not None
        machine, _ = load_facts_file(request.facts_file)  # strict: nothing is ignored
    python = request.python or "python"  # as it is called in that machine's activated venv
    short = machine.python.split(".")[:2] if machine.python else ["3", "x"]
    purelib = f"<venv>/lib/python{'.'.join(short)}/site-packages"
    dists = {name: envstate.Dist(name, version, f"{purelib}/{name}-{version}.dist-info", None)
             for name, version in (machine.packages or {}).items()}
    return machine, python, EnvState("<venv>", "<base>", False, purelib, True, f"cp{''.join(short)}", dists)


def _check_changeable(python: str, state: EnvState) -> None:
    if not state.is_virtual:
        raise NotAnEnvironmentYouMayChange(
            f"{python} is not a virtual environment (its prefix is {state.prefix}); aidoctor installs only into a "
            "venv or conda environment: create one with `python3 -m venv ENV` and pass --python ENV/bin/python")
    if not state.writable:
        raise NotAnEnvironmentYouMayChange(f"{state.purelib} is not writable by this user; use an environment you own")


def _stored_for(wheelhouse: Wheelhouse, tool: Tool, machine: Machine) -> list[Stored]:
    target = target_for(machine)
    out = []
    for wheel in wheelhouse.find(tool.dist_name):
        smoke = (wheel.provenance.get("smoke") or {}).get("passed")
        fits = wheel_fits(wheel.filename, target)
        out.append(Stored(wheel.filename, wheel.version, wheel.key_id, fits, smoke))
    return out


# -- executing --


def execute(prepared: Prepared, reporter: Reporter, system: System | None = None) -> Outcome:
    plan = prepared.plan
    if plan.route is Route.IMPOSSIBLE:
        raise BadInput(f"{plan.tool} cannot be installed here: {plan.why}"
                       + (f"; instead: {plan.alternative}" if plan.alternative else ""))
    system = system or LiveSystem()
    assert plan.paths is not None
    plan.paths.run.mkdir(parents=True, exist_ok=True)
    log = Log(plan.paths.log)
    run = _Run(prepared, reporter, system, log)
    started = time.monotonic()
    shield = recovery.Shield()
    at = "before its first step"
    try:
        with interrupts_call(shield):
            try:
                for number, step in enumerate(plan.steps, 1):
                    shield.checkpoint()
                    at = f"at step {number}/{len(plan.steps)} ({step.title})"
                    reporter.step(number, len(plan.steps), step)
                    log.write_line(f"== step {number}: {step.title}")
                    HANDLERS[step.action](run, step)
                shield.checkpoint()
            except KeyboardInterrupt as exc:  # SIGINT raised by Python's own handler (not the main thread)
                shield.cleaning = True
                interrupt = exc if isinstance(exc, Interrupted) else Interrupted(2)
                log.write_line(f"== interrupted {at}")
                raise RolledBack(InstallInterrupted(interrupt, at), run.clean_up(shield).summary(), log.path) from None
            except AidoctorError as exc:
                shield.cleaning = True
                if not run.touched:
                    raise
                raise RolledBack(exc, run.clean_up(shield).summary(), log.path) from None
            except BaseException:  # a bug: still no child left running, and the environment as it was
                shield.cleaning = True
                if run.touched:
                    run.clean_up(shield)
                raise
        run.finished()
    finally:
        log.close()
    return Outcome(plan, tuple(run.installed), run.smoke_result, time.monotonic() - started, plan.paths.log)


def _requirement_names(pip_output: str) -> list[str]:
    """The names of the requirements pip's resolver names (`torch<2.15`, `triton==3.5.0`, `torch`)."""
    names = []
    for word in pip_output.replace(",", " ").split():
        try:
            names.append(Requirement(word).name)
        except InvalidRequirement:
            continue
    return names


class _Run:
    """The state of one install while its steps run; one method per step action (HANDLERS)."""

    def __init__(self, prepared: Prepared, reporter: Reporter, system: System, log: Log) -> None:
        self.prepared, self.plan, self.reporter, self.system, self.log = (
            prepared, prepared.plan, reporter, system, log)
        self.paths: Paths = prepared.plan.paths  # type: ignore[assignment]
        self.before = prepared.state
        self.wheelhouse = prepared.wheelhouse
        self.resolved: list[dict] = []  # pip report items: what the install adds or replaces
        self.tool_wheel: StoredWheel | None = None
        self.backup_manifest: Path | None = None
        self.touched = False  # the target environment may have changed: roll back on failure
        self.installed: list[str] = []
        self.smoke_result: SmokeResult | None = None
        self.allow_change = prepared.request.allow_torch_change
        self.present = prepared.state  # what is installed now: `before` plus any build requirements
        self.source: Path | None = None  # the source archive a build step compiled
        self.built: tuple[Path, float, tuple[str, ...]] | None = None  # wheel, seconds, attempts
        self.installed_wheels: list[StoredWheel] = []
        self.journal: recovery.Journal | None = None  # written before the first change, gone once it is undone

    # -- helpers --

    def about_to_change(self) -> None:
        """Before the first change to the target environment: the journal a crash would leave behind."""
        self.touched = True
        if self.journal is None:
            self.journal = recovery.new_journal(self.prepared.python, self._pip_prefix(), self.plan.tool,
                                                self.paths.run, self.before)
            self._write_journal()

    def _write_journal(self) -> None:
        assert self.journal is not None
        manifest = None if self.backup_manifest is None else str(self.backup_manifest)
        self.journal = replace(self.journal, backup_manifest=manifest)
        recovery.write_journal(self.journal)

    def _pip_prefix(self) -> tuple[str, ...]:
        """How this install runs pip for the target: the rollback (and a repair) uninstalls the same way."""
        assert self.plan.pip is not None, "an install runs only with a way to run pip"
        return tuple(self.plan.pip.prefix)

    def finished(self) -> None:
        if self.journal is not None:
            recovery.remove_journal(self.journal)

    def clean_up(self, shield: recovery.Shield) -> recovery.RollbackOutcome:
        """After an interrupt or a failure: stop every child, then roll back and verify against the snapshot."""
        stopped = recovery.stop_all_children()
        if stopped:
            self.reporter.info(f"stopped {stopped} process(es) aidoctor had started")
        self.reporter.info("rolling back")
        outcome = recovery.roll_back(self.system, self.prepared.python, self._pip_prefix(), self.before,
                                     self.backup_manifest, self.journal, shield)
        self.log.write_line(f"== rollback: {outcome.summary()}")
        return outcome

    def pip(self, argv: Sequence[str], what: str, env: dict | None = None):
        """Run pip with `argv`, which has no marker left (install.argv.expand)."""
        self.log.write_line("$ " + " ".join(argv))
        result = self.system.run(argv, timeout=PIP_TIMEOUT, env={**os.environ, **(env or {})})
        self.log.write_line(result.stdout)
        self.log.write_line(result.stderr)
        if not result.ok:
            raise self._pip_error(result, what)
        return result

    def _pip_error(self, result, what: str) -> AidoctorError:
        text = result.stderr + result.stdout
        if result.timed_out:
            return InstallFailed(f"{what}: pip did not finish within {PIP_TIMEOUT:g} s")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        last = next((line for line in reversed(lines) if line.startswith("ERROR")), lines[-1] if lines else "")
        if any(s in text for s in ("NewConnectionError", "Failed to establish", "Temporary failure in name",
                                   "Max retries exceeded", "No route to host")):
            return BadInput(f"{what}: cannot reach the package index ({last}); connect to the network, or point "
                            f"--wheelhouse at a wheelhouse that has {self.plan.tool} for this machine")
        conflict = "ResolutionImpossible" in text or "conflicting dependencies" in text
        if conflict and any(envstate.is_protected(name) for name in _requirement_names(text)):
            cause = next((line for line in lines if "depends on" in line or "requires" in line), last)
            conda = self.before.conda_pins()
            if conda:
                return TorchChangeNeeded(
                    f"{self.plan.tool} {self.plan.version or ''} needs another {envstate.protected_stack('or')} "
                    f"than {', '.join(conda)}, which conda installed: {cause}; change it with conda "
                    f"(conda install), or ask for a version of {self.plan.tool} that accepts it")
            return TorchChangeNeeded(
                f"{self.plan.tool} {self.plan.version or ''} needs another {envstate.protected_stack('or')} than "
                f"the installed {', '.join(self.before.pins()) or 'ones'}: {cause}; rerun with --allow-torch-change "
                f"to let it replace them, or ask for a version of {self.plan.tool} that accepts them")
        if "No matching distribution" in text or "Could not find a version" in text:
            return BadInput(f"{what}: {last}")
        return InstallFailed(f"{what}: {last}")

    # -- the step actions --

    def do_pin(self, step: Step) -> None:
        pins = self.before.conda_pins() if self.allow_change else self.before.pins()
        self.paths.constraints.write_text("".join(p + "\n" for p in pins))

    def do_bootstrap_pip(self, step: Step) -> None:
        self.about_to_change()
        self.pip(expand(step.argv, {}), "installing pip into the target (ensurepip)")
        self.present = envstate.capture(self.system, self.prepared.python)

    def do_build_requires(self, step: Step) -> None:
        self.about_to_change()
        self.pip(expand(step.argv, {}), "installing the build requirements")
        self.present = envstate.capture(self.system, self.prepared.python)

    def do_source(self, step: Step) -> None:
        assert self.paths.build is not None
        exact = replace(step, argv=tuple(expand(step.argv, {})))
        self.source, resumed = prepare_source(self.system, exact, self.paths.build, self.log, PIP_TIMEOUT)
        if resumed:
            self.reporter.info(f"resuming the build in {self.paths.build} (source and compiled objects kept)")

    def do_build(self, step: Step) -> None:
        assert self.paths.build is not None
        started = time.monotonic()
        env = {**os.environ, **{e.name: e.value for e in step.env}}
        build_log = Log(self.paths.build_log)
        self.reporter.info(f"build log: {build_log.path}")
        try:
            exact = replace(step, argv=tuple(expand(step.argv, {})))
            wheel, attempts = compile_wheel(self.system, exact, self.paths.build, env, build_log, self.reporter,
                                            BUILD_TIMEOUT)
        finally:
            build_log.close()
        self.built = (wheel, time.monotonic() - started, attempts)

    def do_store_built(self, step: Step) -> None:
        assert self.built is not None and self.source is not None
        wheel, seconds, attempts = self.built
        provenance = {
            "tool": self.plan.tool, "tool_version": self.plan.version, "via": "source build",
            "source": self.source.name, "source_sha256": file_sha256(self.source),
            "build_flags": {e.name: e.value for e in self.plan.build_env},
            "build_seconds": round(seconds, 1), "build_attempts": list(attempts),
        }
        with self.wheelhouse.lock():
            self.tool_wheel = self.wheelhouse.add(wheel, provenance, key=self.plan.key, replace=True)
        self.reporter.info(f"stored {self.tool_wheel.filename} (sha256 {self.tool_wheel.sha256[:16]}…)")

    def do_resolve(self, step: Step) -> None:
        # The plan could only name the built wheel: now it is a file in the wheelhouse.
        built = {BuiltWheel: [str(self.tool_wheel.path)]} if self.tool_wheel is not None else {}
        self.resolved = self._resolve(expand(step.argv, built), self.paths.report, "resolving")
        self._say_arrivals()

    def _say_arrivals(self) -> None:
        """Which build of a protected tool (torch) pip would bring into an environment that has none, from
        its report, and whether it suits this machine."""
        from ...recipes import all_tools

        tools = {t.dist_name: t for t in all_tools().values()}
        for arrival in parse_arrivals(self.resolved, list(self.before.dists), list(tools)):
            self.reporter.info(arrival_note(arrival, tools[arrival.name], self.prepared.machine))

    def _resolve(self, argv: list[str], report: Path, what: str) -> list[dict]:
        try:
            self.pip(argv, what)
        except BadInput:
            if "--no-index" in argv and self.plan.route is Route.WHEELHOUSE and not self.prepared.request.offline:
                # The wheelhouse lacks part of the set: let the index fill it in.
                self.reporter.info("the wheelhouse lacks part of the set; asking the package index for the rest")
                argv = [a for a in argv if a != "--no-index"]
                self.pip(argv, what)
            else:
                raise
        return json.loads(report.read_text()).get("install", [])

    def do_resolve_deps(self, step: Step) -> None:
        requires = []
        for item in self.resolved:
            requires += item.get("metadata", {}).get("requires_dist", []) or []
        wanted = [r for r in not_protected(requires) if "extra ==" not in r]
        if not wanted:
            return
        argv = expand(step.argv, {RequirementsOf: wanted})
        self.resolved += self._resolve(argv, self.paths.deps_report, "resolving the other requirements")

    def do_fetch(self, step: Step) -> None:
        changes = self._changes_to_protected()
        if changes:
            raise TorchChangeNeeded(
                f"installing {self.plan.tool} would {'; '.join(changes)}; rerun with --allow-torch-change to allow it")
        lines = []
        for item in self.resolved:
            url = item["download_info"]["url"]
            if self._in_wheelhouse(url):
                continue
            digest = (item["download_info"].get("archive_info") or {}).get("hashes", {}).get("sha256")
            if not digest:
                raise InstallFailed(f"pip resolved {item['metadata']['name']} from {url} without a sha256; "
                                    "aidoctor stores only what it can verify")
            lines.append(f"{item['metadata']['name']}=={item['metadata']['version']} --hash=sha256:{digest}")
        if lines:
            self.paths.resolved.write_text("\n".join(lines) + "\n")
            self.reporter.info(f"downloading {len(lines)} distribution(s)")
            self.pip(expand(step.argv, {}), "downloading the resolved distributions")

    def do_fetch_kept(self, step: Step) -> None:
        wanted = self._installed_requirements()
        if not wanted:
            return
        self.paths.kept.write_text("\n".join(wanted) + "\n")
        self.reporter.info(f"also keeping {len(wanted)} requirement(s) this environment already had")
        try:
            self.pip(expand(step.argv, {}), "downloading the requirements already installed")
        except AidoctorError as exc:  # the install itself does not need them: say so and go on
            self.reporter.info(f"the wheelhouse will lack some of them ({exc}); an offline install elsewhere may fail")

    def _installed_requirements(self) -> list[str]:
        """Installed distributions the tool needs that pip left alone (this environment already had them).

        The wheelhouse keeps them too, so a later install into a fresh environment works from it alone.
        The walk reads Requires-Dist from the installed metadata and never reaches torch or the CUDA
        libraries: they are pinned, never fetched.
        """
        markers = marker_environment(self.prepared.machine) or default_environment()
        resolved = {canonical_name(i["metadata"]["name"]): i for i in self.resolved}
        todo = [r for item in self.resolved for r in item["metadata"].get("requires_dist") or ()]
        seen, keep = set(resolved), {}
        while todo:
            try:
                requirement = Requirement(todo.pop())
            except InvalidRequirement:
                continue
            name = canonical_name(requirement.name)
            if name in seen or envstate.is_protected(name):
                continue
            if requirement.marker is not None and not requirement.marker.evaluate({**markers, "extra": ""}):
                continue
            seen.add(name)
            dist = self.present.dists.get(name)
            if dist is not None:
                keep[name] = dist.version
                todo += dist.requires
        return [f"{name}=={version}" for name, version in sorted(keep.items())
                if not self.wheelhouse.find(name, version=version)]

    def _changes_to_protected(self) -> list[str]:
        if self.allow_change:
            return []
        changes = []
        for item in self.resolved:
            name, version = item["metadata"]["name"], item["metadata"]["version"]
            if envstate.is_protected(name) and self.before.version(name) not in (None, version):
                changes.append(f"replace {name} {self.before.version(name)} with {version}")
        return changes

    def _in_wheelhouse(self, url: str) -> bool:
        parsed = urlparse(url)
        if parsed.scheme != "file":
            return False
        return Path(unquote(parsed.path)).parent.resolve() == self.wheelhouse.root.resolve()

    def do_store_fetched(self, step: Step) -> None:
        by_name = {canonical_name(item["metadata"]["name"]): item for item in self.resolved}
        staged = sorted(self.paths.stage.glob("*.whl")) if self.paths.stage.exists() else []
        with self.wheelhouse.lock():
            for wheel in staged:
                item = by_name.get(canonical_name(wheel.name.split("-")[0]), {})
                info = item.get("download_info", {})
                provenance = {"via": "package index", "source": info.get("url"),
                              "source_sha256": (info.get("archive_info") or {}).get("hashes", {}).get("sha256"),
                              "requires_python": item.get("metadata", {}).get("requires_python")}
                self.wheelhouse.add(wheel, provenance)

    def _wheels_to_install(self) -> list[StoredWheel]:
        wheels = []
        for item in self.resolved:
            name, version = canonical_name(item["metadata"]["name"]), item["metadata"]["version"]
            url = item["download_info"]["url"]
            filename = Path(unquote(urlparse(url).path)).name
            found = [w for w in self.wheelhouse.find(name, version=version) if w.filename == filename] or \
                [w for w in self.wheelhouse.find(name, version=version)
                 if w.key_id is None or w.key_id == self.plan.key_id]
            if not found:
                raise InstallFailed(f"{name} {version} is not in the wheelhouse after the download")
            wheels.append(found[0])
        return wheels

    def do_backup(self, step: Step) -> None:
        replaced = [item["metadata"]["name"] for item in self.resolved
                    if self.before.version(item["metadata"]["name"]) is not None]
        self.backup_manifest = envstate.backup(self.before, replaced, self.paths.backup)
        if self.journal is not None:  # the build requirements went in first: the journal now names the backup
            self._write_journal()

    def do_install(self, step: Step) -> None:
        wheels = self._wheels_to_install()
        if not wheels:
            self.reporter.info("nothing to install: everything resolved is already installed")
            return
        paths = [str(self.wheelhouse.checked_path(w)) for w in wheels]  # a tampered wheel stops the install here
        self.about_to_change()
        self.pip(expand(step.argv, {ResolvedWheels: paths}), "installing")
        self.installed_wheels = wheels
        self.installed = [f"{w.project} {w.version}" for w in wheels]

    def do_verify(self, step: Step) -> None:
        after = envstate.capture(self.system, self.prepared.python)
        changes = envstate.changed_protected(self.before, after)
        if changes and not self.allow_change:
            raise InstallFailed(f"the install changed the protected torch stack: {'; '.join(changes)}")
        for change in changes:
            self.reporter.info(f"changed (allowed): {change}")

    def do_smoke(self, step: Step) -> None:
        recipe = self.prepared.tool.recipe
        assert recipe is not None and recipe.smoke is not None
        env = {**os.environ, **{e.name: e.value for e in step.env}}
        result = run_smoke(self.system, self.prepared.python, recipe.smoke, env=env, timeout=recipe.smoke_timeout)
        self.smoke_result = result
        SmokeStore().save(self.before.prefix, result)
        if self.tool_wheel is None:
            self.tool_wheel = next((w for w in self.installed_wheels
                                    if w.project == self.prepared.tool.dist_name), None)
        if self.tool_wheel is not None:
            with self.wheelhouse.lock():
                self.wheelhouse.record_smoke(self.tool_wheel, result.to_json())
        if not result.passed:
            raise InstallFailed(f"the {self.plan.tool} smoke test {result.failure()}"
                                + (f"; likely cause: {result.cause}" if result.cause else ""))

HANDLERS: dict[Action, Callable[[_Run, Step], None]] = {
    Action.PIN: _Run.do_pin, Action.BOOTSTRAP_PIP: _Run.do_bootstrap_pip,
    Action.BUILD_REQUIRES: _Run.do_build_requires, Action.SOURCE: _Run.do_source,
    Action.BUILD: _Run.do_build, Action.STORE_BUILT: _Run.do_store_built, Action.RESOLVE: _Run.do_resolve,
    Action.RESOLVE_DEPS: _Run.do_resolve_deps, Action.FETCH: _Run.do_fetch, Action.FETCH_KEPT: _Run.do_fetch_kept,
    Action.STORE_FETCHED: _Run.do_store_fetched, Action.BACKUP: _Run.do_backup, Action.INSTALL: _Run.do_install,
    Action.VERIFY: _Run.do_verify, Action.SMOKE: _Run.do_smoke,
}
