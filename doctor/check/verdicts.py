"""One verdict per tool: does the installed version work here, or how can it be had here.

`evaluate` is pure: a tool's declared rules, the machine's facts, and (for a
tool that is not installed) what the package index offers this platform.
The worst finding sets the status; every finding keeps its reason, fix and
source, so the verdict says what, why and how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement

from ..core.facts import Machine, canonical_name, parse_version
from ..dsl.fixcmd import PipInstall, parse_pip_installs, with_specifier
from ..dsl.rules import Ctx, Finding, RuleJudgement, Status, alternatives_here, judge_rules, worst
from ..dsl.tool import Tool
from .index import Availability, Offer


@dataclass(frozen=True)
class Verdict:
    tool: str
    status: Status
    installed: str | None
    reasons: tuple[str, ...]
    fixes: tuple[str, ...]
    sources: tuple[str, ...]
    available: Availability | None = None
    findings: tuple[Finding, ...] = ()
    alternative: str | None = None  # what to use instead, where the tool cannot work here
    undecided: frozenset[str] = frozenset()  # with status unknown: the missing facts that decide it

    def report_fixes(self) -> tuple[str, ...]:
        """`fixes` as schema 1 readers know them: the alternative last, as "alternative: ..."."""
        return self.fixes + ((f"alternative: {self.alternative}",) if self.alternative else ())

    def to_json(self) -> dict:
        return {
            "tool": self.tool,
            "status": self.status.value,
            "installed": self.installed,
            "reasons": list(self.reasons),
            "fixes": list(self.report_fixes()),
            "sources": list(self.sources),
            "alternative": self.alternative,
            "findings": [{"status": f.status.value, "msg": f.msg, "fix": f.fix, "source": f.source}
                         for f in self.findings],
            "available": None if self.available is None else self.available.to_json(),
        }


DRIVER_FACTS = frozenset({"nvidia_driver", "cuda_driver"})


def fixed_by_driver_update(verdict: Verdict) -> bool:
    """The software state, not the hardware, decides this verdict: every finding at its status comes from a
    rule about the installed NVIDIA driver (a profile recorded with an old driver), which an update changes."""
    if verdict.status is not Status.UNSUPPORTED:
        return False
    deciding = [f for f in verdict.findings if f.status is verdict.status]
    return bool(deciding) and all(f.rule is not None and f.rule.when.needs & DRIVER_FACTS for f in deciding)


def evaluate(tool: Tool, machine: Machine, available: Availability | None = None,
             watched: frozenset[str] = frozenset(), audit: Sequence[Finding] = (),
             replacing: Mapping[str, Verdict] | None = None) -> Verdict:
    """Judge `tool` on `machine`.

    `available` is what the index offers here (ignored when the tool is
    installed); `watched` names the distributions whose pins in the tool's
    metadata are checked against what is installed (torch and the other tools);
    `audit` holds the binary audit's findings on the installed tool's files.
    `replacing` maps such a pin (its requirement text) to the verdict on what pip
    would install for it here, when that was looked up (`replacements_needed`).
    """
    installed = None if machine.packages is None else machine.packages.get(tool.dist_name)
    others: list[Finding] = []  # what is not a declared rule: pins, the audit, the index
    if installed is not None:
        ctx = Ctx(machine, parse_version(installed), installed=True)
        rules = judge_rules(tool.rules, ctx)
        others += _installed_requirements(tool, installed, machine)
        others += audit
    else:
        candidate = available if available is not None and available.kind in (Offer.WHEEL, Offer.SDIST) else None
        ctx = Ctx(machine, parse_version(candidate.version) if candidate else None, installed=False)
        rules = judge_rules(tool.rules, ctx)
        if tool.on_index:
            finding = _availability_finding(tool, available, machine)
            if any(f.fix and f.status.rank >= finding.status.rank > Status.OK.rank for f in rules.decided):
                finding = replace(finding, fix=None)  # a rule's fix is more exact
            others.append(finding)
            if candidate is not None:
                others += _candidate_requirements(tool, candidate, machine, watched, replacing or {})
        elif not rules.decided and not rules.undecided:
            others.append(Finding(Status.UNKNOWN, f"{tool.id} is not on the package index and no rule "
                                                  "says how to get it here", None, None))
        if machine.packages is None:
            reason = machine.unknown.get("packages", "the target Python could not be inspected")
            others.append(Finding(Status.UNKNOWN, f"whether {tool.id} is installed is unknown: {reason}",
                                  None, None, facts=frozenset({"packages"})))
    findings = _with_rules(rules, others)
    if installed is not None and not findings:
        findings.append(Finding(Status.OK, f"{tool.id} {installed} is installed and no rule stands against "
                                           "it on this machine", None, None))
    findings.sort(key=lambda f: -f.status.rank)
    status = worst(f.status for f in findings)
    fixes = _shown_fixes(findings, status)
    return Verdict(
        tool=tool.id,
        status=status,
        installed=installed,
        reasons=_unique(f.msg for f in findings),
        fixes=fixes,
        sources=_unique(f.source for f in findings if f.source),
        available=None if installed is not None else available,
        findings=tuple(findings),
        alternative=alternatives_here(tool.alternatives, machine) if status is Status.UNSUPPORTED else None,
        undecided=frozenset().union(*(f.facts for f in findings)) if status is Status.UNKNOWN else frozenset(),
    )


def _shown_fixes(findings: Sequence[Finding], status: Status) -> tuple[str, ...]:
    """The fixes worth showing: those of findings as bad as the verdict. "pip install X" from the index means
    nothing when a rule says X cannot work here, and under a blocking (unsupported) finding only what lifts
    the block helps: `pip install "transformers<=5.17"` does not give unsloth the GPU it needs."""
    floor = {Status.OK: Status.OK, Status.UNSUPPORTED: Status.UNSUPPORTED}.get(status, Status.CAVEATS)
    if status is Status.UNSUPPORTED and any(f.status is status and not f.fix for f in findings):
        return ()  # a block nothing lifts ("needs a GPU"): no other fix makes it work; the alternative says what does
    return _unique(f.fix for f in findings if f.fix and f.status.rank >= floor.rank)


VerdictOf = Callable[[str, str], "Verdict | None"]
_BLOCKING = (Status.BUILD, Status.UNSUPPORTED)  # the index's release is not what works here


def reconcile(verdict: Verdict, tool: Tool, verdict_of: VerdictOf) -> Verdict:
    """`verdict` with every fix held against the verdicts of what it installs, so that carrying a fix out
    improves the verdict here rather than installing what another rule calls broken.

    `verdict_of(name, specifier)` is the verdict on this machine for what `pip install "name<specifier>"` would
    bring (None: not a tool aidoctor judges). A fix that installs another tool from the index is replaced by
    that tool's own way here when its verdict has one (a rule whose fix installs it otherwise: torch's CPU
    index on a machine without a GPU), else dropped when that verdict is blocking, or, when unsupported,
    replaced by what lifts the block. A fix from the index's own offer of this tool (its pins, its wheel) is
    dropped when one of the tool's rules says the index release needs a build or cannot work here: that
    rule's fix is the way, as it is when a rule at the verdict's status installs the tool its own way (torch
    from its CPU index on a machine without a GPU). An alternative naming an unsupported tool is dropped.
    """
    own = {tool.dist_name, *(canonical_name(c) for c in tool.companions)}
    rule_way = any(f.rule is not None and f.fix and (f.status in _BLOCKING or (
        f.status is verdict.status is not Status.OK and any(i.name in own for i in parse_pip_installs(f.fix))))
        for f in verdict.findings)  # a rule that names how to get this tool here, or says the index's is wrong
    findings = tuple(f if not f.fix else replace(f, fix=_honest_fix(f, own, rule_way, verdict_of))
                     for f in verdict.findings)
    alternative = "; ".join(part for part in (verdict.alternative or "").split("; ") if part and not any(
        i.from_index and i.name not in own and _status_of(verdict_of, i) is Status.UNSUPPORTED
        for i in parse_pip_installs(part))) or None
    if findings == verdict.findings and alternative == verdict.alternative:
        return verdict
    return replace(verdict, findings=findings, fixes=_shown_fixes(findings, verdict.status), alternative=alternative)


def _status_of(verdict_of: VerdictOf, install: PipInstall) -> Status | None:
    other = verdict_of(install.name, install.specifier)
    return None if other is None else other.status


def _honest_fix(finding: Finding, own: set[str], rule_way: bool, verdict_of: VerdictOf) -> str | None:
    fix = finding.fix
    assert fix is not None
    installs = [i for i in parse_pip_installs(fix) if i.from_index]
    for install in installs:
        if install.name in own:
            if finding.rule is None and rule_way:
                return None
            continue
        other = verdict_of(install.name, install.specifier)
        if other is None or other.status in (Status.OK, Status.UNKNOWN):
            continue  # it works there, or nothing is known against it
        way = own_way(other, install.name)
        if way is not None and len(installs) == 1:
            assert way[0].fix is not None
            return with_specifier(way[0].fix, way[1], install.specifier)
        if other.status is Status.UNSUPPORTED:
            return other.fixes[0] if other.fixes and len(installs) == 1 else None
        if other.status is Status.BUILD:
            return None
    return fix


def own_way(verdict: Verdict, name: str) -> tuple[Finding, PipInstall] | None:
    """The finding of `verdict` (at its status, from a rule) whose fix installs `name` (torch's rule naming its
    CPU index on a machine without a GPU), and that install; None when the verdict is ok or names no way."""
    if verdict.status is Status.OK:
        return None
    for finding in verdict.findings:
        if finding.rule is None or not finding.fix or finding.status is not verdict.status:
            continue
        for install in parse_pip_installs(finding.fix):
            if install.name == name:
                return finding, install
    return None


def _with_rules(rules: RuleJudgement, others: list[Finding]) -> list[Finding]:
    """The rules' findings beside the others: a rule a missing fact leaves open is `unknown` only when some
    value of that fact would give the verdict another status (RuleJudgement.findings)."""
    base = worst(f.status for f in (*rules.decided, *others))
    return rules.findings(base) + others


# What pip's platform tags are made of on each OS (index.target_for): missing, the index cannot say what pip
# would pick, and the verdict names them.
TARGET_FACTS = frozenset({"os", "arch", "python", "glibc", "macos", "python_translated"})
_TARGET_FACTS_ON = {"linux": {"os", "arch", "python", "glibc"}, "darwin": {"os", "arch", "python", "macos",
                                                                       "python_translated"}}


def _availability_finding(tool: Tool, available: Availability | None, machine: Machine) -> Finding:
    if available is None or available.kind is Offer.UNKNOWN:
        reason = available.reason if available else "the package index was not consulted"
        return Finding(Status.UNKNOWN, f"whether the package index has {tool.dist} for this machine is unknown: "
                                       f"{reason}", None, available.source if available else None,
                       facts=frozenset(_TARGET_FACTS_ON.get(machine.os or "", TARGET_FACTS) & machine.missing()))
    # An older release than the index's newest works, but misses what the newer ones add; the reason names it.
    usable = Status.OK if available.newest is None else Status.CAVEATS
    if available.kind is Offer.WHEEL:
        return Finding(usable, available.reason, tool.install, available.source)
    if available.kind is Offer.SDIST and not tool.sdist_compiles:
        return Finding(usable, f"{available.reason}; it compiles nothing at install time", tool.install,
                       available.source)
    if available.kind is Offer.SDIST:
        fix = f"{tool.install}  # builds {tool.dist} {available.version} from source"
        if available.older_wheel is not None:
            # Not what plain pip does: say so, and what the older release misses.
            version, filename = available.older_wheel
            fix += (f"; or, to skip the build, pip install '{tool.dist}=={version}' --only-binary {tool.dist}  "
                    f"# pins the older wheel {filename}, without what {available.version} adds")
        return Finding(Status.BUILD, available.reason, fix, available.source)
    return Finding(Status.UNSUPPORTED, available.reason, None, available.source)


def marker_environment(machine: Machine) -> dict[str, str] | None:
    """The PEP 508 marker environment of the target Python, or None when its basics are unknown."""
    python = parse_version(machine.python)
    if python is None or machine.os is None or machine.arch is None:
        return None
    system = {"linux": "Linux", "darwin": "Darwin", "windows": "Windows"}[machine.os]
    arch = machine.python_machine()
    if machine.os == "windows":
        arch = "ARM64" if machine.arch == "aarch64" else "AMD64"
    return {
        "python_version": f"{python.major}.{python.minor}",
        "python_full_version": str(python),
        "platform_system": system,
        "sys_platform": {"linux": "linux", "darwin": "darwin", "windows": "win32"}[machine.os],
        "platform_machine": arch,
        "os_name": "nt" if machine.os == "windows" else "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_version": "",
        "implementation_version": str(python),
        "extra": "",
    }


def _applicable(requirements: tuple[str, ...], machine: Machine,
                watched: frozenset[str] | None) -> list[Requirement]:
    """The hard requirements (no extra, marker true here) among `requirements` on `watched` names; None: on any."""
    env = marker_environment(machine)
    picked = []
    for text in requirements:
        # Cheap name test first: transformers alone declares hundreds of extras' requirements.
        name = _LEADING_NAME.match(text)
        if name is None or _EXTRA.search(text):
            continue  # an extra's requirement applies only when someone asks for that extra
        if watched is not None and canonical_name(name.group(0)) not in watched:
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if watched is not None and canonical_name(requirement.name) not in watched:
            continue
        if requirement.marker is not None:
            if env is None:
                continue
            try:
                if not requirement.marker.evaluate(env):
                    continue
            except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
                continue
        picked.append(requirement)
    return picked


_LEADING_NAME = re.compile(r"\s*[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRA = re.compile(r";.*\bextra\s*==")


def _installed_requirements(tool: Tool, installed: str, machine: Machine) -> list[Finding]:
    """Hard requirements in the installed tool's metadata that the installed packages break: every one, not
    only the watched tools', since `packages` lists every installed distribution. A missing one means the
    tool fails at import (peft without transformers), so it is as bad as a version outside the range."""
    requires = (machine.requires or {}).get(tool.dist_name, ())
    source = f"https://pypi.org/project/{tool.dist_name}/{installed}/"
    findings = []
    for requirement in _applicable(requires, machine, None):
        name = canonical_name(requirement.name)
        have = (machine.packages or {}).get(name)
        if have is None:
            findings.append(Finding(Status.UNSUPPORTED, f"{tool.id} {installed} requires {requirement}, which is "
                                                        f"not installed: {tool.id} cannot import",
                                    f'pip install "{requirement.name}{requirement.specifier}"', source))
        elif not requirement.specifier.contains(have, prereleases=True):
            findings.append(Finding(
                Status.UNSUPPORTED,
                f"{tool.id} {installed} requires {requirement} but {name} {have} is installed",
                f"pip install -U {tool.dist}  # a release that accepts {name} {have}; or "
                f"pip install '{name}{requirement.specifier}' if you may change {name}", source))
    return findings


def replacements_needed(candidate: Availability, machine: Machine, watched: frozenset[str]) -> list[Requirement]:
    """Pins of the release pip would install that the installed distributions do not meet."""
    out = []
    for requirement in _applicable(candidate.requires_dist or (), machine, watched):
        have = (machine.packages or {}).get(canonical_name(requirement.name))
        if have is not None and not requirement.specifier.contains(have, prereleases=True):
            out.append(requirement)
    return out


def _candidate_requirements(tool: Tool, candidate: Availability, machine: Machine, watched: frozenset[str],
                            replacing: Mapping[str, Verdict]) -> list[Finding]:
    """Pins of the release pip would install that would replace what is installed (torch above all): caveats,
    saying what pip would bring instead and whether that works here; unsupported only when it cannot."""
    findings = []
    for requirement in replacements_needed(candidate, machine, watched):
        name = canonical_name(requirement.name)
        have = (machine.packages or {})[name]
        status, brings, version = Status.CAVEATS, "", ""
        instead = replacing.get(str(requirement))
        if instead is not None and instead.available is not None:
            offered = instead.available
            what = offered.filename or f"no {name} file ({offered.reason})"
            if instead.status is Status.UNSUPPORTED:
                status = Status.UNSUPPORTED
                brings = (f" with {offered.filename}, which cannot work here: {instead.reasons[0]}"
                          if offered.filename else f", but {offered.reason or instead.reasons[0]}")
            else:
                brings = f" with {what} ({name}'s verdict for it here: {instead.status.value})"
                version = f" with {offered.version}" if offered.version else ""
        if name == "torch":
            # The installed torch is the machine-specific build (CUDA, arch list) worth keeping, as NVIDIA's
            # playbooks do; the tool then runs outside its declared torch range, at the user's choice.
            fix = f"pip install --no-deps {tool.dist}  # keeps {name} {have}; check its other requirements"
        elif status is Status.UNSUPPORTED:
            fix = None  # no release the pin accepts works here, and keeping the installed one breaks the pin
        else:
            # Keeping another distribution would leave the tool outside the range it declares (unsupported by
            # its own rules once installed: llamafactory's startup check refuses), so the fix is pip's, named.
            fix = f"{tool.install}  # replaces {name} {have}{version}, as {tool.id} {candidate.version} requires"
        findings.append(Finding(
            status,
            f"{tool.id} {candidate.version} requires {requirement}: pip would replace the installed {name} {have}"
            f"{brings}",
            fix,
            candidate.source))
    return findings


def _unique(items) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
