"""Compatibility rules as declarations.

A tool module in recipes/ reads like spack's package files:

    conflicts(when=on_macos(), msg="flash-attn is CUDA-only", fix="use SDPA", source="https://...")

but every call just returns a frozen `Rule`; there is no metaclass and no
registry behind it. A rule's `when` is a `Cond`, a small predicate over the
facts that knows how to describe itself (for `aidoctor explain`) and answers
True, False or None. None means a fact it needs is unknown. `judge_rules` then
re-evaluates such rules for each plausible value of the missing facts (a CUDA
toolkit absent, or each release that can target the GPU; a flag true and
false): the verdict is `unknown` only when those outcomes differ in status.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from ..core.derive import DERIVED_FROM
from ..core.facts import FactState, Machine, canonical_name, parse_version
from ..core.nvidia import CUDA_RELEASES, toolkits_for


class Status(str, enum.Enum):
    OK = "ok"
    CAVEATS = "caveats"
    BUILD = "build"  # needs a source build (or a wheel from outside the package index)
    UNKNOWN = "unknown"
    UNSUPPORTED = "unsupported"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def usable(self) -> bool:
        return self in (Status.OK, Status.CAVEATS)

    def __str__(self) -> str:
        return self.value


_RANK = {Status.OK: 0, Status.CAVEATS: 1, Status.BUILD: 2, Status.UNKNOWN: 3, Status.UNSUPPORTED: 4}


def worst(statuses: Iterable[Status]) -> Status:
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


@dataclass(frozen=True)
class Ctx:
    """What a rule sees: the machine, and the version of the tool being judged.

    `version` is the installed version, or, for a tool that is not installed,
    the release that would be installed (None when that is not known).
    """

    machine: Machine
    version: Version | None = None
    installed: bool = False


Test = Callable[[Ctx], "bool | None"]


@dataclass(frozen=True)
class Cond:
    """A three-valued predicate with a human description and the facts it reads."""

    text: str
    test: Test
    needs: frozenset[str] = frozenset()

    def __call__(self, ctx: Ctx) -> bool | None:
        return self.test(ctx)

    def __and__(self, other: Cond) -> Cond:
        def both(ctx: Ctx) -> bool | None:
            results = (self(ctx), other(ctx))
            if False in results:
                return False
            return None if None in results else True

        return Cond(f"{self.text} and {other.text}", both, self.needs | other.needs)

    def __or__(self, other: Cond) -> Cond:
        def either(ctx: Ctx) -> bool | None:
            results = (self(ctx), other(ctx))
            if True in results:
                return True
            return None if None in results else False

        return Cond(f"({self.text} or {other.text})", either, self.needs | other.needs)

    def __invert__(self) -> Cond:
        def negated(ctx: Ctx) -> bool | None:
            result = self(ctx)
            return None if result is None else not result

        return Cond(f"not ({self.text})", negated, self.needs)


@dataclass(frozen=True, kw_only=True)
class Rule:
    status: Status
    when: Cond
    msg: str
    fix: str | None
    source: str
    detail: Callable[[Ctx], str | None] | None = None  # what was seen on this machine, appended to msg

    def __post_init__(self) -> None:
        if not self.source.startswith("https://"):
            raise ValueError(f"rule {self.msg!r} needs a source link, got {self.source!r}")


# -- rule constructors: read like declarations in a tool module --


def conflicts(*, when: Cond, msg: str, fix: str | None, source: str,
              detail: Callable[[Ctx], str | None] | None = None) -> Rule:
    """When `when` holds, the tool cannot work here."""
    return Rule(status=Status.UNSUPPORTED, when=when, msg=msg, fix=fix, source=source, detail=detail)


def requires(cond: Cond, *, msg: str, fix: str | None, source: str) -> Rule:
    """The tool cannot work unless `cond` holds."""
    return Rule(status=Status.UNSUPPORTED, when=~cond, msg=msg, fix=fix, source=source)


def needs_build(*, when: Cond, msg: str, fix: str | None, source: str,
                detail: Callable[[Ctx], str | None] | None = None) -> Rule:
    """When `when` holds, the tool works only from a source build or a wheel from outside the index."""
    return Rule(status=Status.BUILD, when=when, msg=msg, fix=fix, source=source, detail=detail)


def caveat(*, when: Cond, msg: str, fix: str | None, source: str,
           detail: Callable[[Ctx], str | None] | None = None) -> Rule:
    """When `when` holds, the tool works, with a limitation worth knowing."""
    return Rule(status=Status.CAVEATS, when=when, msg=msg, fix=fix, source=source, detail=detail)


# -- conditions --


def _fact(text: str, needs: str, test: Test) -> Cond:
    return Cond(text, test, frozenset({needs}))


def _in_spec(value: str | Version | None, spec: str) -> bool | None:
    version = value if isinstance(value, Version) or value is None else parse_version(value)
    if version is None:
        return None
    return _specifier(spec).contains(version, prereleases=True)


@functools.lru_cache(maxsize=None)
def _specifier(text: str) -> SpecifierSet:
    return SpecifierSet(text)


def spec(text: str) -> str:
    """Validate a version specifier at declaration time, so a typo fails the tests, not a user."""
    try:
        _specifier(text)
    except InvalidSpecifier as exc:
        raise ValueError(f"bad version specifier {text!r}") from exc
    return text


def always() -> Cond:
    return Cond("always", lambda ctx: True)


def on_linux() -> Cond:
    return _fact("Linux", "os", lambda ctx: None if ctx.machine.os is None else ctx.machine.os == "linux")


def on_macos() -> Cond:
    return _fact("macOS", "os", lambda ctx: None if ctx.machine.os is None else ctx.machine.os == "darwin")


def on_windows() -> Cond:
    return _fact("Windows", "os", lambda ctx: None if ctx.machine.os is None else ctx.machine.os == "windows")


def arch_is(arch: str) -> Cond:
    return _fact(arch, "arch", lambda ctx: None if ctx.machine.arch is None else ctx.machine.arch == arch)


def python(spec_text: str) -> Cond:
    return _fact(f"Python {spec(spec_text)}", "python", lambda ctx: _in_spec(ctx.machine.python, spec_text))


def glibc(spec_text: str) -> Cond:
    return _fact(f"glibc {spec(spec_text)}", "glibc", lambda ctx: _in_spec(ctx.machine.glibc, spec_text))


def macos(spec_text: str) -> Cond:
    return _fact(f"macOS {spec(spec_text)}", "macos", lambda ctx: _in_spec(ctx.machine.macos, spec_text))


def version(spec_text: str) -> Cond:
    """The version of the tool being judged (installed, or the one that would be installed)."""
    return Cond(f"version {spec(spec_text)}", lambda ctx: _in_spec(ctx.version, spec_text), frozenset({"version"}))


def is_installed() -> Cond:
    return Cond("installed", lambda ctx: ctx.installed)


def installed(dist: str, spec_text: str = "") -> Cond:
    """Another distribution is installed (in `spec_text`, if given)."""
    name = canonical_name(dist)
    label = f"{name} {spec(spec_text)}".strip() + " installed"

    def test(ctx: Ctx) -> bool | None:
        if ctx.machine.packages is None:
            return None
        if name not in ctx.machine.packages:
            return False
        return True if not spec_text else _in_spec(ctx.machine.packages[name], spec_text)

    return _fact(label, "packages", test)


def jetson() -> Cond:
    return _fact("a Jetson (L4T)", "jetson", lambda ctx: ctx.machine.is_jetson())


def jetpack(spec_text: str) -> Cond:
    def test(ctx: Ctx) -> bool | None:
        is_jetson = ctx.machine.is_jetson()
        if is_jetson is not True:
            return is_jetson
        return _in_spec(ctx.machine.jetson.jetpack, spec_text)  # type: ignore[union-attr]

    return _fact(f"JetPack {spec(spec_text)}", "jetson", test)


def apple_silicon() -> Cond:
    return _fact("an Apple silicon Mac", "apple", lambda ctx: ctx.machine.is_apple_silicon())


def translated_python() -> Cond:
    return _fact("Python running under Rosetta 2", "python_translated", lambda ctx: ctx.machine.python_translated)


def mps_unusable() -> Cond:
    def test(ctx: Ctx) -> bool | None:
        apple = ctx.machine.apple
        return None if apple is None or apple.mps is None else not apple.mps

    return _fact("MPS not usable", "apple", test)


def nvidia_gpu() -> Cond:
    return _fact("an NVIDIA GPU", "gpus", lambda ctx: ctx.machine.has_nvidia_gpu())


def gpu_cc(spec_text: str) -> Cond:
    """Some NVIDIA GPU's compute capability is in `spec_text` (False when there is no NVIDIA GPU)."""

    def test(ctx: Ctx) -> bool | None:
        gpus = ctx.machine.nvidia_gpus()
        if gpus is None:
            return None
        results = [_in_spec(g.compute_capability, spec_text) for g in gpus]
        if True in results:
            return True
        return None if None in results else False

    return _fact(f"GPU compute capability {spec(spec_text)}", "gpus", test)


def nvidia_driver(spec_text: str) -> Cond:
    return _fact(f"NVIDIA driver {spec(spec_text)}", "nvidia_driver",
                 lambda ctx: _in_spec(ctx.machine.nvidia_driver, spec_text))


def cuda_driver(spec_text: str) -> Cond:
    """The CUDA version the driver supports (nvidia-smi's "CUDA Version")."""
    return _fact(f"driver's CUDA {spec(spec_text)}", "cuda_driver",
                 lambda ctx: _in_spec(ctx.machine.cuda_driver, spec_text))


def cuda_toolkit(spec_text: str) -> Cond:
    def test(ctx: Ctx) -> bool | None:
        if ctx.machine.state("cuda_toolkit") is FactState.ABSENT:
            return False
        return _in_spec(ctx.machine.cuda_toolkit, spec_text)

    return _fact(f"CUDA toolkit (nvcc) {spec(spec_text)}", "cuda_toolkit", test)


def no_cuda_toolkit() -> Cond:
    def test(ctx: Ctx) -> bool | None:
        if ctx.machine.cuda_toolkit is not None:
            return False
        return True if ctx.machine.state("cuda_toolkit") is FactState.ABSENT else None

    return _fact("no CUDA toolkit (nvcc)", "cuda_toolkit", test)


def torch_cpu_only() -> Cond:
    """The installed torch was built without CUDA."""

    def test(ctx: Ctx) -> bool | None:
        build = ctx.machine.torch_build
        if build is None:
            return None if ctx.machine.packages is None or "torch" in ctx.machine.packages else False
        return build.cuda is None

    return _fact("torch is a CPU-only build", "torch_build", test)


def torch_cuda(spec_text: str) -> Cond:
    def test(ctx: Ctx) -> bool | None:
        build = ctx.machine.torch_build
        if build is None:
            return None
        return False if build.cuda is None else _in_spec(build.cuda, spec_text)

    return _fact(f"torch built with CUDA {spec(spec_text)}", "torch_build", test)


def cpu_feature(name: str) -> Cond:
    def test(ctx: Ctx) -> bool | None:
        cpu = ctx.machine.cpu
        return None if cpu is None or cpu.features is None else name in cpu.features

    return _fact(f"CPU has {name}", "cpu", test)


def unified_memory() -> Cond:
    return _fact("unified memory", "unified_memory", lambda ctx: ctx.machine.unified_memory)


def check(text: str, test: Test, *needs: str) -> Cond:
    """A condition no constructor above covers; `text` must say what it tests."""
    return Cond(text, test, frozenset(needs))


@dataclass(frozen=True)
class Finding:
    """A rule that fired (or could not be decided) for one tool on one machine."""

    status: Status
    msg: str
    fix: str | None
    source: str | None
    rule: Rule | None = field(default=None, compare=False)
    facts: frozenset[str] = field(default=frozenset(), compare=False)  # missing facts that leave it undecided
    only_if: str | None = field(default=None, compare=False)  # "if no CUDA toolkit (nvcc) is installed": the
    # values of missing facts under which the rule applies, when it may apply without changing the status


def apply(rule: Rule, ctx: Ctx) -> Finding | None:
    result = rule.when(ctx)
    if result is False:
        return None
    if result is None:
        missing = sorted(rule.when.needs & (ctx.machine.missing() | {"version"}) - _known(ctx))
        why = "; ".join(f"{name}: {ctx.machine.unknown[name]}" for name in missing if name in ctx.machine.unknown)
        detail = ", ".join(missing) or "a fact"
        return Finding(Status.UNKNOWN, f"cannot tell whether this applies ({detail} unknown{': ' + why if why else ''}): "
                       f"{rule.msg}", rule.fix, rule.source, rule)
    seen = rule.detail(ctx) if rule.detail else None
    return Finding(rule.status, f"{rule.msg}: {seen}" if seen else rule.msg, rule.fix, rule.source, rule)


def _known(ctx: Ctx) -> set[str]:
    return {"version"} if ctx.version is not None else set()


# -- rules under missing facts --


@dataclass(frozen=True)
class Scenario:
    """One plausible value for each of some missing facts: the machine as it would be, and how to say it."""

    label: str  # "no CUDA toolkit (nvcc) is installed", "the CUDA toolkit is 12.8"
    ctx: Ctx


@dataclass(frozen=True)
class Outcome:
    """What the undecided rules say in one scenario: those that fire, and those still undecided in it."""

    scenario: Scenario | None  # None: no plausible values are known for the missing facts
    fired: tuple[Rule, ...]
    undecided: tuple[Rule, ...]


@dataclass(frozen=True)
class RuleJudgement:
    """A tool's rules on one machine: what holds whatever the missing facts are, and what depends on them."""

    decided: tuple[Finding, ...]
    undecided: tuple[Rule, ...]  # rules whose condition a missing fact leaves open
    missing: tuple[str, ...]  # the missing facts they read, and those the missing facts would be derived from
    outcomes: tuple[Outcome, ...]  # one per scenario; empty when nothing is undecided
    why: str = ""  # the probes' reasons for the missing facts, where they gave one

    def statuses(self, base: Status) -> tuple[Status, ...]:
        """Every status the verdict could have, given `base` (the worst of everything else), lowest first."""
        possible = set() if self.outcomes else {base}
        for outcome in self.outcomes:
            low = worst([base, *(rule.status for rule in outcome.fired)])
            possible |= {low} | {worst([low, rule.status]) for rule in outcome.undecided}
        return tuple(sorted(possible, key=lambda s: s.rank))

    def findings(self, base: Status) -> list[Finding]:
        """The decided findings, then one per undecided rule: conditional ("if ...: msg") when the verdict's
        status is the same whatever the missing facts are, `unknown` naming the facts when it is not."""
        statuses = self.statuses(base)
        settled = len(statuses) == 1
        between = ", ".join(s.value for s in statuses[:-1]) + f" and {statuses[-1].value}"
        names = ", ".join(self.missing) + " unknown" + (f" ({self.why})" if self.why else "")
        out = list(self.decided)
        for rule in self.undecided:
            fired = [o.scenario.label for o in self.outcomes if rule in o.fired and o.scenario is not None]
            open_ = any(rule in o.undecided for o in self.outcomes)
            if not fired and not open_:
                continue  # no plausible value makes it apply
            when = f"if {_either(fired)}" if fired and not open_ else f"if {rule.when.text}"
            if settled:
                when += f" ({names})" if open_ else ""
                out.append(Finding(rule.status, f"{when}: {rule.msg}", rule.fix, rule.source, rule, only_if=when))
            else:
                out.append(Finding(Status.UNKNOWN, f"cannot tell whether this applies: {names}, whose value decides "
                                   f"between {between}; {when}: {rule.msg}", rule.fix, rule.source, rule,
                                   facts=frozenset(self.missing)))
        return out


def judge_rules(rules: Iterable[Rule], ctx: Ctx) -> RuleJudgement:
    """Apply `rules`; those a missing fact leaves open are re-applied for each plausible value of it.

    Kleene logic is monotone: a rule decided with a fact unknown is decided the same for every value of that
    fact, so only the open rules are re-applied, and only when some rule is open (rare on a probed machine).
    """
    decided: list[Finding] = []
    undecided: list[Rule] = []
    for rule in rules:
        result = rule.when(ctx)
        if result is None:
            undecided.append(rule)
        elif result:
            seen = rule.detail(ctx) if rule.detail else None
            decided.append(Finding(rule.status, f"{rule.msg}: {seen}" if seen else rule.msg, rule.fix, rule.source,
                                   rule))
    if not undecided:
        return RuleJudgement(tuple(decided), (), (), ())
    # An absent fact (no nvcc here) is known: only the others have values to try.
    unknown = ({fact for fact in ctx.machine.missing() if ctx.machine.state(fact) is not FactState.ABSENT}
               | ({"version"} if ctx.version is None else set()))
    read = set().union(*(rule.when.needs for rule in undecided)) & unknown
    missing = read | {source for fact in read for source in DERIVED_FROM.get(fact, ()) if source in unknown}
    outcomes = []
    for scenario in scenarios(read, ctx):
        results = [(rule, rule.when(scenario.ctx if scenario else ctx)) for rule in undecided]
        outcomes.append(Outcome(scenario, tuple(r for r, v in results if v), tuple(r for r, v in results if v is None)))
    why = "; ".join(f"{name}: {ctx.machine.unknown[name]}" for name in sorted(missing) if name in ctx.machine.unknown)
    return RuleJudgement(tuple(decided), tuple(undecided), tuple(sorted(missing)), tuple(outcomes), why)


MAX_SCENARIOS = 64


def scenarios(facts: set[str], ctx: Ctx) -> list[Scenario | None]:
    """The machine under each combination of plausible values of the missing `facts` that have known ones;
    [None] when none has (the open rules then count as both applying and not)."""
    combos: list[tuple[tuple[str, ...], Machine]] = [((), ctx.machine)]
    for fact in sorted(facts):
        values = _PLAUSIBLE.get(fact)
        if values is None:
            continue
        combos = [((*labels, label), changed) for labels, machine in combos for label, changed in values(machine)]
        if len(combos) > MAX_SCENARIOS:
            return [None]
    if combos == [((), ctx.machine)]:
        return [None]
    return [Scenario(" and ".join(labels), replace(ctx, machine=machine)) for labels, machine in combos]


def _toolkit_values(machine: Machine) -> list[tuple[str, Machine]]:
    absent = replace(machine, states={**machine.states, "cuda_toolkit": FactState.ABSENT})
    return [("no CUDA toolkit (nvcc) is installed", absent), *(
        (f"the CUDA toolkit is {release}", replace(machine, cuda_toolkit=release))
        for release in toolkits_for(machine.gpu_ccs()))]


def _flag_values(name: str, yes: str, no: str):
    def values(machine: Machine) -> list[tuple[str, Machine]]:
        return [(yes, replace(machine, **{name: True})), (no, replace(machine, **{name: False}))]

    return values


# Facts whose plausible values are few and known; any other missing fact leaves its rules open both ways.
_PLAUSIBLE = {
    "cuda_toolkit": _toolkit_values,
    "python_translated": _flag_values("python_translated", "Python runs under Rosetta 2", "Python runs natively"),
    "unified_memory": _flag_values("unified_memory", "memory is unified", "the GPU has its own memory"),
}


def _either(labels: list[str]) -> str:
    """Scenario labels joined; a run of CUDA releases reads as a range."""
    prefix = "the CUDA toolkit is "
    releases = [label.removeprefix(prefix) for label in labels if label.startswith(prefix)]
    rest = [label for label in labels if not label.startswith(prefix)]
    first = CUDA_RELEASES.index(releases[0]) if releases and releases[0] in CUDA_RELEASES else -1
    if len(releases) > 2 and tuple(releases) == CUDA_RELEASES[first:first + len(releases)]:
        rest.append(f"{prefix}{releases[0]} to {releases[-1]}")
    elif releases:
        rest.append(prefix + ", ".join(releases))
    return " or ".join(rest)


@dataclass(frozen=True)
class Alternative:
    """What to use where a tool cannot work, and where that is worth saying: `where` false on a machine
    (a Mac-only alternative on Linux) keeps it out of that machine's verdict."""

    use: str
    where: Cond = field(default_factory=always)

    def here(self, ctx: Ctx) -> str | None:
        """How to say it on this machine: as is, qualified when a missing fact leaves `where` open, or None."""
        applies = self.where(ctx)
        if applies is False:
            return None
        return self.use if applies else f"if {self.where.text}: {self.use}"


def alternatives_here(alternatives: Iterable[Alternative], machine: Machine) -> str | None:
    """The alternatives that apply on `machine`, joined; None when none does."""
    ctx = Ctx(machine)
    said = [text for text in (a.here(ctx) for a in alternatives) if text]
    return "; ".join(said) or None
