"""Decide how to install a tool here, before doing anything (cibuildwheel's get_build_steps).

`make_plan` is pure: the tool's recipe and verdict, the machine's facts, what
the target environment holds, what the index offers and what the wheelhouse
holds go in; a `Plan` comes out with its route (wheelhouse, index wheel,
source build, or not here), every step with its exact command and
environment, and why. `aidoctor install --dry-run` prints it and tests assert
on it; `doctor.install` carries out exactly these steps. An argument only the
run can know (the wheel a build makes) is a typed marker (install.argv).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion, Version

from ...wheels.store import key_id_for as key_id
from ..check.index import Availability, Offer
from ..check.verdicts import Verdict, evaluate, own_way
from ..core.facts import Machine, canonical_name
from ..dsl.recipe import EnvVar, Recipe
from ..dsl.fixcmd import with_specifier
from ..dsl.rules import Ctx, Finding, Rule, Status, alternatives_here, apply
from ..dsl.tool import Tool
from .argv import Arg, BuiltWheel, RequirementsOf, ResolvedWheels, arg_to_json
from .envstate import EnvState, is_protected, protected_patterns, protected_stack
from .pipcmd import NoPip, PipRoute, PipVia

# Settings that change how fast a build runs, not what it produces: left out of the build key.
PARALLELISM = frozenset({"MAX_JOBS", "NVCC_THREADS", "CMAKE_BUILD_PARALLEL_LEVEL", "MAKEFLAGS"})
PIP_NETWORK = ("--timeout", "15", "--retries", "1")  # pip's own default waits minutes on a dead network


class Route(str, enum.Enum):
    WHEELHOUSE = "wheelhouse"  # a wheel stored here before, for this machine
    INDEX = "index"  # a binary wheel (or a pure-Python sdist) from the package index
    BUILD = "build"  # a source build with flags derived from the facts
    IMPOSSIBLE = "impossible"  # cannot work here: the reason and the alternative


class Action(str, enum.Enum):
    """What install.run does for a step; each has one handler there."""

    PIN = "pin"
    BOOTSTRAP_PIP = "bootstrap-pip"  # --bootstrap-pip: ensurepip into a target that has no pip
    BUILD_REQUIRES = "build-requires"
    SOURCE = "source"
    BUILD = "build"
    STORE_BUILT = "store-built"  # the wheel the build made goes into the wheelhouse
    RESOLVE = "resolve"
    RESOLVE_DEPS = "resolve-deps"
    FETCH = "fetch"
    FETCH_KEPT = "fetch-kept"  # requirements the environment already had, so the wheelhouse holds the whole set
    STORE_FETCHED = "store-fetched"  # the downloaded wheels go into the wheelhouse
    BACKUP = "backup"
    INSTALL = "install"
    VERIFY = "verify"
    SMOKE = "smoke"


@dataclass(frozen=True)
class Step:
    action: Action
    title: str
    why: str
    argv: tuple[Arg, ...] = ()  # exact, but for markers the run fills in (install.argv)
    env: tuple[EnvVar, ...] = ()
    detail: tuple[str, ...] = ()


@dataclass(frozen=True)
class Paths:
    wheelhouse: Path
    run: Path  # this install's scratch: constraints, pip's reports, staged downloads, backups, log
    builds_root: Path
    build: Path | None = None  # builds_root/<tool>-<version>-<key id>: kept between runs, so a build resumes

    @property
    def constraints(self) -> Path:
        return self.run / "constraints.txt"

    @property
    def report(self) -> Path:
        return self.run / "resolve.json"

    @property
    def deps_report(self) -> Path:
        return self.run / "resolve-deps.json"

    @property
    def resolved(self) -> Path:
        return self.run / "resolved.txt"

    @property
    def kept(self) -> Path:
        return self.run / "installed-requirements.txt"

    @property
    def stage(self) -> Path:
        return self.run / "stage"

    @property
    def backup(self) -> Path:
        return self.run / "backup"

    @property
    def log(self) -> Path:
        return self.run / "install.log"

    @property
    def build_log(self) -> Path:
        assert self.build is not None
        return self.build / "build.log"


@dataclass(frozen=True)
class InstallRequest:
    tool: str
    version: str | None = None  # an exact version asked for with TOOL==VERSION
    python: str | None = None
    wheelhouse: Path | None = None
    allow_torch_change: bool = False
    offline: bool = False
    dry_run: bool = False
    smoke: bool = True
    timeout: float = 5.0
    profile: str | None = None  # plan for a built-in profile's machine instead of this one (dry run only)
    facts_file: Path | None = None  # plan for the machine a facts file describes (dry run only)
    bootstrap_pip: bool = False  # consent to put pip into a target that has none (ensurepip)


@dataclass(frozen=True)
class Plan:
    tool: str
    route: Route
    why: str
    version: str | None = None
    steps: tuple[Step, ...] = ()
    pins: tuple[str, ...] = ()
    build_env: tuple[EnvVar, ...] = ()
    runtime_env: tuple[EnvVar, ...] = ()
    key: dict | None = None
    paths: Paths | None = None
    stored: str | None = None  # the wheelhouse file a WHEELHOUSE route installs
    alternative: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    subject: str | None = None  # the other machine a --profile/--facts plan is for ("profile jetson-agx-orin")
    pip: PipRoute | None = None  # which pip runs the steps' pip commands for the target (install.pipcmd)

    @property
    def key_id(self) -> str | None:
        return None if self.key is None else key_id(self.key)

    def to_json(self) -> dict:
        def env(items: Sequence[EnvVar]) -> list[dict]:
            return [{"name": e.name, "value": e.value, "why": e.why} for e in items]

        return {
            "schema": "aidoctor.plan/2", "tool": self.tool, "route": self.route.value, "why": self.why,
            "version": self.version, "pins": list(self.pins), "build_env": env(self.build_env),
            "runtime_env": env(self.runtime_env), "key": self.key, "key_id": self.key_id, "stored": self.stored,
            "alternative": self.alternative, "notes": list(self.notes), "subject": self.subject,
            "pip": None if self.pip is None else self.pip.to_json(),
            "steps": [{"action": s.action.value, "title": s.title, "why": s.why,
                       "argv": [arg_to_json(a) for a in s.argv], "env": env(s.env),
                       "detail": list(s.detail)} for s in self.steps],
        }


def build_key(tool: Tool, version: str, machine: Machine, state: EnvState, build_env: Sequence[EnvVar]) -> dict:
    """What a built wheel depends on: reuse it only where all of this matches."""
    torch = state.dists.get("torch")
    build = machine.torch_build
    return {
        "tool": tool.id, "version": version, "python": state.python_tag,
        "platform": f"{machine.os}-{machine.arch}", "glibc": machine.glibc,
        "torch": None if torch is None else torch.version,
        "torch_cuda": None if build is None else build.cuda,
        "flags": {e.name: e.value for e in build_env if e.name not in PARALLELISM},
    }


@dataclass(frozen=True)
class Stored:
    """A wheelhouse entry as the planner needs it (the store's StoredWheel, reduced)."""

    filename: str
    version: str
    key_id: str | None
    fits: bool  # its tags suit this Python and platform
    smoke_passed: bool | None


def make_plan(request: InstallRequest, tool: Tool, machine: Machine, verdict: Verdict,
              available: Availability | None, stored: Sequence[Stored], state: EnvState, paths: Paths,
              pip_route: PipRoute | NoPip | None = None) -> Plan:
    """`pip_route`: how pip runs for the target (install.pipcmd.choose_pip); None: the target's own pip."""
    if pip_route is None:
        pip_route = PipRoute(PipVia.TARGET, (request.python or "python", "-m", "pip"), "the target's own pip")
    if isinstance(pip_route, NoPip):
        return Plan(tool.id, Route.IMPOSSIBLE, pip_route.why, alternative=pip_route.fix)
    plan = _make_plan(request, tool, machine, verdict, available, stored, state, paths, pip_route)
    conda = state.conda_pins()
    if conda and plan.route is not Route.IMPOSSIBLE:
        plan = replace(plan, notes=(*plan.notes, f"{', '.join(conda)} {'was' if len(conda) == 1 else 'were'} installed "
                                    "by conda: pinned even with --allow-torch-change, since pip replacing it would "
                                    "leave conda's records wrong; change it with conda (conda install)"))
    return replace(plan, pip=pip_route)


def _make_plan(request: InstallRequest, tool: Tool, machine: Machine, verdict: Verdict,
               available: Availability | None, stored: Sequence[Stored], state: EnvState, paths: Paths,
               pip_route: PipRoute) -> Plan:
    recipe = tool.recipe
    if recipe is None:
        return Plan(tool.id, Route.IMPOSSIBLE, f"aidoctor has no install recipe for {tool.id} yet",
                    alternative=tool.install)
    if verdict.status is Status.UNSUPPORTED:
        return Plan(tool.id, Route.IMPOSSIBLE, "; ".join(verdict.reasons), alternative=verdict.alternative,
                    notes=tuple(f"fix: {f}" for f in verdict.fixes))
    build_env, runtime_env, extras = recipe.build_env(machine), recipe.runtime_env(machine), recipe.extras(machine)
    version = request.version or (available.version if available and available.kind is not Offer.UNKNOWN else None)
    pins = tuple(state.pins())
    forced = _forced_build(tool, recipe, machine)
    wants_build, build_why = _needs_build(tool, recipe, forced, verdict, available)
    # A force_build condition that cannot be decided here is said, not taken as "no".
    undecided = (f"{forced.msg}; planned with the index's package",) if forced and forced.status is Status.UNKNOWN \
        else ()

    def expected_key(for_version: str) -> dict:
        return build_key(tool, for_version, machine, state, build_env)

    hit = _wheelhouse_hit(stored, version, wants_build, expected_key)
    common = dict(pins=pins, runtime_env=runtime_env, version=version, notes=undecided)
    if hit is not None:
        why = (f"{hit.filename} is in the wheelhouse, built for this machine's key {hit.key_id}" if hit.key_id
               else f"{hit.filename} is in the wheelhouse and its tags suit this Python and platform")
        return Plan(tool.id, Route.WHEELHOUSE, why, paths=paths,
                    steps=_steps(Route.WHEELHOUSE, request, pip_route, tool, recipe, paths, pins, (), runtime_env,
                                 hit.filename, state, hit.version, extras), stored=hit.filename, **{**common, "version": hit.version})
    if available is None or available.kind is Offer.UNKNOWN:
        reason = available.reason if available else "the package index was not consulted"
        return Plan(tool.id, Route.IMPOSSIBLE, f"no wheel for {tool.id} in the wheelhouse {paths.wheelhouse}, and "
                    f"the package index cannot be read: {reason}", alternative="connect to the network, or point "
                    "--wheelhouse at a wheelhouse exported from a machine of the same kind",
                    notes=("offline",))
    if wants_build:
        if recipe.binary_only:
            return Plan(tool.id, Route.IMPOSSIBLE, f"{build_why}, and aidoctor does not build {tool.id} from source "
                        "(hours of compiling and tens of GB)",
                        alternative="; ".join(verdict.fixes) or alternatives_here(tool.alternatives, machine))
        if available.kind is Offer.NONE and recipe.source is None:
            return Plan(tool.id, Route.IMPOSSIBLE, available.reason,
                        alternative=alternatives_here(tool.alternatives, machine))
        if version is None:
            return Plan(tool.id, Route.IMPOSSIBLE, f"no version of {tool.id} to build: {available.reason}",
                        alternative=alternatives_here(tool.alternatives, machine))
        key = expected_key(version)
        paths = replace(paths, build=paths.builds_root / f"{tool.id}-{version}-{key_id(key)}")
        return Plan(tool.id, Route.BUILD, build_why, build_env=build_env, key=key, paths=paths,
                    steps=_steps(Route.BUILD, request, pip_route, tool, recipe, paths, pins, build_env, runtime_env,
                                 None, state, version, extras), **common)
    if available.kind in (Offer.WHEEL, Offer.SDIST):
        return Plan(tool.id, Route.INDEX, available.reason, paths=paths,
                    steps=_steps(Route.INDEX, request, pip_route, tool, recipe, paths, pins, (), runtime_env, None,
                                 state, version, extras), **common)
    return Plan(tool.id, Route.IMPOSSIBLE, available.reason, alternative=alternatives_here(tool.alternatives, machine))


def _forced_build(tool: Tool, recipe: Recipe, machine: Machine) -> Finding | None:
    """recipe.force_build judged as a rule: BUILD when it holds, UNKNOWN (naming the fact) when it cannot tell."""
    if recipe.force_build is None:
        return None
    rule = Rule(status=Status.BUILD, when=recipe.force_build, fix=None,
                msg=f"the index wheel of {tool.id} does not work on this machine: {recipe.force_build.text}",
                source=tool.homepage or f"https://pypi.org/project/{tool.dist_name}/")
    return apply(rule, Ctx(machine, None, installed=False))


def _needs_build(tool: Tool, recipe: Recipe, forced: Finding | None, verdict: Verdict,
                 available: Availability | None) -> tuple[bool, str]:
    if recipe.always_build:
        return True, f"aidoctor builds {tool.id} from source here to prebuild what its index package leaves to run time"
    if forced is not None and forced.status is Status.BUILD:
        return True, forced.msg
    if verdict.status is Status.BUILD:
        return True, next((r for r in verdict.reasons), f"{tool.id} needs a source build here")
    if available is not None and available.kind is Offer.SDIST and tool.sdist_compiles:
        return True, available.reason
    if available is not None and available.kind is Offer.NONE and recipe.source is not None:
        return True, f"{available.reason}; building from {recipe.source.format(version='VERSION')}"
    return False, ""


def _wheelhouse_hit(stored: Sequence[Stored], version: str | None, wants_build: bool,
                    expected_key: Callable[[str], dict]) -> Stored | None:
    """The newest stored wheel usable here, never one whose smoke test failed.

    A wheel built here is usable only where its build key matches what this
    machine would build now (same torch, CUDA, Python, flags); a downloaded
    one only where its tags suit this platform and no source build is needed.
    """
    def usable(s: Stored) -> bool:
        if s.smoke_passed is False or (version is not None and s.version != version):
            return False
        if s.key_id is not None:
            return s.key_id == key_id(expected_key(s.version))
        return s.fits and not wants_build

    return max((s for s in stored if usable(s)), key=lambda s: _sortable(s.version), default=None)


def _sortable(version: str):
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


# -- the steps, with the exact commands doctor.install runs --


def requirement(tool: Tool, version: str | None, extras: Sequence[str] = ()) -> str:
    name = f"{tool.dist}[{','.join(extras)}]" if extras else tool.dist
    return f"{name}=={version}" if version else name


def _steps(route: Route, request: InstallRequest, pip_route: PipRoute, tool: Tool, recipe: Recipe, paths: Paths,
           pins: Sequence[str], build_env: Sequence[EnvVar], runtime_env: Sequence[EnvVar], stored: str | None,
           state: EnvState, version: str | None, extras: Sequence[str]) -> tuple[Step, ...]:
    pip = pip_route.argv
    wh = str(paths.wheelhouse)
    steps = [_pin_step(paths, pins, state.conda_pins(), request.allow_torch_change)]
    if pip_route.via is PipVia.BOOTSTRAP:
        steps.append(Step(Action.BOOTSTRAP_PIP, "Install pip into the target (--bootstrap-pip)",
                          "the target has no pip; ensurepip installs the pip its Python ships with, offline, and a "
                          "rollback removes it again", (request.python or "python", "-m", "ensurepip")))
    constraint = ("--constraint", str(paths.constraints))
    no_deps = ("--no-deps",) if recipe.no_deps else ()
    targets: tuple[Arg, ...]
    if route is Route.BUILD:
        assert paths.build is not None
        missing = [r for r in recipe.build_requires if state.version(_name_of(r)) is None]
        if missing:
            steps.append(Step(Action.BUILD_REQUIRES, "Install what the build needs into the target",
                              "the build runs without isolation, against the installed torch, so its build "
                              "requirements must be in the target", pip("install", *PIP_NETWORK, *constraint,
                                                                  *missing)))
        steps.append(_source_step(pip, tool, recipe, paths, version))
        steps.append(Step(Action.BUILD, f"Build {tool.id} {version} for the target machine",
                          "--no-build-isolation compiles against the torch that is installed, not a fresh one from "
                          f"the index; the full compiler log goes to {paths.build_log}, and a compiler killed for "
                          "memory is retried with half the jobs",
                          pip("wheel", "-v", "--no-deps", "--no-build-isolation", "--wheel-dir",
                              str(paths.build / "dist"), str(paths.build / "src")), env=tuple(build_env)))
        steps.append(Step(Action.STORE_BUILT, "Keep the built wheel in the wheelhouse",
                          "with its sha256, build key and flags, so the next install on a machine of this kind skips "
                          f"the build ({wh})"))
        targets = (BuiltWheel(paths.wheelhouse),)
    elif route is Route.WHEELHOUSE and stored and _is_built(stored):
        targets = (str(paths.wheelhouse / stored) + (f"[{','.join(extras)}]" if extras else ""),)
    else:  # an index wheel, or one the wheelhouse holds: pip finds it there by name and version
        targets = (requirement(tool, version, extras), *(c for c in tool.companions if recipe.no_deps))
    if request.smoke:
        targets += recipe.smoke_requires
    index = ("--no-index",) if route is Route.WHEELHOUSE or request.offline else PIP_NETWORK
    pinned = bool(pins) and not request.allow_torch_change  # what the titles may claim of torch
    steps.append(Step(Action.RESOLVE, "Resolve what would change" + (", with torch pinned" if pinned else ""),
                      "pip's dry run with a report lists every distribution the install adds or replaces, without "
                      "touching the environment; a conflict with the pins means the tool needs another torch"
                      + (" (the wheelhouse alone first; the index only for what it lacks)"
                         if route is Route.WHEELHOUSE else ""),
                      pip("install", "--dry-run", "--quiet", "--report", str(paths.report), *index,
                          *constraint, "--find-links", wh, *no_deps, *targets)))
    if recipe.no_deps:
        steps.append(Step(Action.RESOLVE_DEPS, f"Resolve {tool.id}'s other requirements"
                          + (" against the pinned torch" if pinned else f" without {protected_stack()}"),
                          f"{tool.id}'s metadata pins torch to a range that would replace a working CUDA build, so it "
                          f"is installed with --no-deps and its requirements other than {protected_stack()} are "
                          "resolved on their own",
                          pip("install", "--dry-run", "--quiet", "--report", str(paths.deps_report), *index,
                              *constraint, "--find-links", wh, RequirementsOf(tool.id, protected_patterns()))))
    steps.append(Step(Action.FETCH, "Download (or build) every resolved distribution the wheelhouse lacks",
                      "each is fetched by the exact version and sha256 pip resolved, so the wheelhouse holds the "
                      f"whole set and a later install needs no network; skipped when {paths.resolved} lists nothing",
                      pip("wheel", *PIP_NETWORK, "--no-deps", "--require-hashes", "--wheel-dir",
                          str(paths.stage), "--requirement", str(paths.resolved))))
    if not request.offline:
        steps.append(Step(Action.FETCH_KEPT, "Download the requirements this environment already has",
                          f"pip leaves installed requirements alone; {paths.kept} lists those the wheelhouse lacks "
                          "(never torch or the CUDA libraries) so a later install into a fresh environment works from "
                          "the wheelhouse alone; pip has no hashes for them, and a failure here does not stop the "
                          "install; skipped when the list is empty",
                          pip("wheel", *PIP_NETWORK, "--no-deps", "--wheel-dir", str(paths.stage),
                              "--requirement", str(paths.kept))))
    steps.append(Step(Action.STORE_FETCHED, "Keep the downloaded wheels in the wheelhouse",
                      "with their sha256 and where they came from"))
    steps.append(Step(Action.BACKUP, "Back up the distributions the install replaces",
                      f"their files are copied to {paths.backup} so a failed install or smoke test can be rolled back"))
    steps.append(Step(Action.INSTALL, "Install from the wheelhouse only",
                      "every wheel's sha256 is checked against the wheelhouse's record right before; --no-deps, "
                      "because the set is already resolved",
                      pip("install", "--no-index", "--no-deps", *constraint, ResolvedWheels(paths.wheelhouse))))
    steps.append(Step(Action.VERIFY, f"Check {protected_stack()} are byte-for-byte unchanged",
                      "their versions, RECORD digests and every file's size and mtime are compared with before; any "
                      "change rolls the install back" + (" (--allow-torch-change: reported, not rolled back)"
                                                         if request.allow_torch_change else "")))
    if request.smoke and recipe.smoke:
        steps.append(Step(Action.SMOKE, f"Train a tiny step with {tool.id} and check it learns",
                          f"recipes/smoke/{recipe.smoke} runs in the target Python: the loss must fall and gradients "
                          "stay finite, kernels are checked against a reference; a failure rolls the install back",
                          env=tuple(runtime_env)))
    return tuple(steps)


def _is_built(filename: str) -> bool:
    """Wheels built here carry their build key as the wheel's build tag (wheels.store)."""
    return bool(parse_wheel_filename(filename)[2])


def _pin_step(paths: Paths, pins: Sequence[str], conda_pins: Sequence[str], allow_change: bool) -> Step:
    if allow_change and conda_pins:
        return Step(Action.PIN, f"Pin only what conda installed in {paths.constraints} (--allow-torch-change)",
                    f"the install may replace the rest of {protected_stack()}; what conda installed stays, since pip "
                    "replacing it would leave conda's records wrong",
                    detail=(*conda_pins, *(f"installed now: {p}" for p in pins if p not in conda_pins)))
    if allow_change:
        return Step(Action.PIN, "Do not pin torch (--allow-torch-change)",
                    f"the install may replace {protected_stack('or')}; each change is reported",
                    detail=tuple(f"installed now: {p}" for p in pins))
    if not pins:
        return Step(Action.PIN, f"Nothing to pin: none of {protected_stack()} is installed yet",
                    f"pip picks them with the tool ({paths.constraints} stays empty); a warning above says which "
                    "build it would bring where that build does not suit this machine")
    return Step(Action.PIN, f"Pin {protected_stack()} in {paths.constraints}",
                "pip must never swap a working torch build for another as a side effect", detail=tuple(pins))


def _source_step(pip: Callable[..., tuple[Arg, ...]], tool: Tool, recipe: Recipe, paths: Paths,
                 version: str | None) -> Step:
    assert paths.build is not None
    if recipe.source is not None:
        url = recipe.source.format(version=version)
        return Step(Action.SOURCE, f"Fetch {tool.id}'s source", f"the package index has no source for {tool.id}; "
                    f"taken from {url} (reused if an earlier build left it in {paths.build / 'src'})",
                    pip("download", *PIP_NETWORK, "--no-deps", "--dest", str(paths.build / "sdist"), url))
    return Step(Action.SOURCE, f"Fetch {tool.id} {version}'s source distribution",
                f"unpacked into {paths.build / 'src'}; an interrupted build resumes there with the objects it "
                "already compiled",
                pip("download", *PIP_NETWORK, "--no-deps", "--no-binary", ":all:", "--dest",
                    str(paths.build / "sdist"), requirement(tool, version)))


def _name_of(requirement_text: str) -> str:
    return Requirement(requirement_text).name


def not_protected(requirements: Sequence[str]) -> list[str]:
    """Requirements whose distribution is not one of the pinned torch family."""
    kept = []
    for text in requirements:
        try:
            name = Requirement(text).name
        except InvalidRequirement:
            continue
        if not is_protected(name):
            kept.append(text)
    return kept


# -- what pip would bring that the environment has none of (torch into a venv without it) --


def own_way_note(tool: Tool, verdict: Verdict, specifier: str = "") -> str | None:
    """The warning a plan carries when the tool's own verdict names another build than the index's for this
    machine (torch's CPU index where there is no NVIDIA GPU): the install must not take the index's silently."""
    way = own_way(verdict, tool.dist_name)
    if way is None or way[1].from_index:
        return None
    finding, install = way
    assert finding.fix is not None
    return (f"warning: {finding.msg}; the build for this machine: "
            f"{with_specifier(finding.fix, install, specifier)}")


def brought_note(tool: Tool, specifier: str, verdict: Verdict) -> str:
    """The warning for a protected tool (torch) the install would bring into an environment that has none, with
    its verdict here (`verdict`: the index's release in `specifier`, judged as not installed)."""
    wanted = f"{tool.dist}{specifier}"
    offered = verdict.available
    what = offered.filename if offered is not None and offered.filename else wanted
    text = f"warning: this environment has no {tool.id}, and pip would bring {what} ({wanted} is required)"
    way = own_way_note(tool, verdict, specifier)
    if way is not None:
        return f"{text}; install the right build first, and the pin keeps it: {way.removeprefix('warning: ')}"
    if not verdict.status.usable:
        return f"{text}: {tool.id}'s verdict for it here is {verdict.status.value}: {verdict.reasons[0]}"
    return f"{text}; {tool.id}'s verdict for it here: {verdict.status.value}"


@dataclass(frozen=True)
class Arrival:
    """A protected tool pip's dry-run report would add to an environment that has none of it."""

    name: str  # canonical
    version: str
    filename: str | None
    nvidia: tuple[str, ...]  # its nvidia-* requirements: what makes it a CUDA build
    nvidia_brought: int = 0  # the nvidia-* distributions the whole report brings with it

    @property
    def local(self) -> str | None:
        try:
            return Version(self.version).local
        except InvalidVersion:
            return None

    def build(self) -> str:
        if self.nvidia:
            shown = ", ".join(self.nvidia[:3]) + (", ..." if len(self.nvidia) > 3 else "")
            return (f"a CUDA build: it requires {shown}, and pip would bring {self.nvidia_brought} nvidia-* "
                    "wheels in all")
        return f"the +{self.local} build, with no nvidia-* requirements" if self.local else "no nvidia-* requirements"

    @property
    def cuda(self) -> bool:
        return bool(self.nvidia) or (self.local or "").startswith("cu")


def parse_arrivals(items: Sequence[dict], installed: Sequence[str], tools: Sequence[str]) -> list[Arrival]:
    """The protected `tools` (canonical names) among the `install` items of pip's report that `installed` lacks."""
    out = []
    names = [canonical_name(str((item.get("metadata") or {}).get("name", ""))) for item in items]
    brought = sum(name.startswith("nvidia-") for name in names)
    for item, name in zip(items, names):
        metadata = item.get("metadata") or {}
        if name not in tools or name in installed or not is_protected(name):
            continue
        url = str((item.get("download_info") or {}).get("url", ""))
        nvidia = tuple(dict.fromkeys(
            canonical_name(_name_of(r)) for r in metadata.get("requires_dist") or ()
            if "extra ==" not in r and canonical_name(r).startswith("nvidia-")))
        out.append(Arrival(name, str(metadata.get("version", "")), url.rsplit("/", 1)[-1] or None, nvidia,
                           brought if nvidia else 0))
    return out


def arrival_note(arrival: Arrival, tool: Tool, machine: Machine) -> str:
    """Which build pip would bring and whether it suits this machine; where it does not, the tool's own way."""
    text = (f"pip would bring {arrival.name} {arrival.version} into this environment, which has none: "
            f"{arrival.filename or 'a file pip names no URL for'}, {arrival.build()}")
    without = replace(machine, packages={k: v for k, v in (machine.packages or {}).items() if k != arrival.name})
    offer = Availability(Offer.WHEEL, version=str(Version(arrival.version).public) if arrival.local is not None
                         else arrival.version, filename=arrival.filename, reason=f"{arrival.filename} in pip's report")
    verdict = evaluate(tool, without, offer)
    if arrival.cuda and machine.has_nvidia_gpu() is False:
        way = own_way(verdict, tool.dist_name)
        how = "" if way is None or way[0].fix is None else \
            f"; the build for this machine: {with_specifier(way[0].fix, way[1], f'=={offer.version}')}"
        return f"warning: {text}; this machine has no NVIDIA GPU, so the CUDA libraries are of no use here{how}"
    if arrival.local is not None:  # from another index than the one the verdicts are about: its build is all we know
        return text
    if not verdict.status.usable:
        return f"warning: {text}; {tool.id}'s verdict for it here is {verdict.status.value}: {verdict.reasons[0]}"
    return f"{text}; {tool.id}'s verdict for it here: {verdict.status.value}"
