"""The audit of one target environment as `aidoctor check` uses it: which distributions, and whose findings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from ..core.facts import Machine, canonical_name
from ..dsl.rules import Finding
from .files import FileAudit, audit_environment, by_dist
from .judge import audit_findings
from .scope import Scope


@dataclass(frozen=True)
class EnvironmentAudit:
    scope: Scope
    files: tuple[FileAudit, ...]

    @property
    def dists(self) -> Mapping[str, tuple[FileAudit, ...]]:
        return by_dist(self.files)

    def findings(self, dist: str, machine: Machine) -> list[Finding]:
        files = self.dists.get(dist, ())
        version = (machine.packages or {}).get(dist)
        pinned = f"{dist}=={version}" if version else dist
        return audit_findings(files, machine, f"pip install --force-reinstall --no-cache-dir --no-deps {pinned}")

    def to_json(self, machine: Machine) -> dict:
        return {
            "scope": self.scope.value,
            "files": [audit.to_json() for audit in self.files],
            "findings": {dist: [{"status": f.status.value, "reason": f.msg, "fix": f.fix, "source": f.source}
                                for f in self.findings(dist, machine)]
                         for dist in self.dists},
        }


_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def dists_of_interest(machine: Machine, tools: Iterable[str]) -> list[str]:
    """The installed tools (canonical names) and every installed distribution their metadata requires."""
    installed = machine.packages or {}
    wanted = [t for t in tools if t in installed]
    for tool in list(wanted):
        for requirement in (machine.requires or {}).get(tool, ()):
            match = _NAME.match(requirement)
            if match and canonical_name(match.group(1)) in installed and "extra ==" not in requirement:
                wanted.append(canonical_name(match.group(1)))
    return list(dict.fromkeys(wanted))


def audit_target(machine: Machine, scope: Scope, tools: Iterable[str],
                 cache_dir: Path | None) -> EnvironmentAudit | None:
    """None when the target's sys.path is not known (a facts file, a profile, a Python that did not answer)."""
    target = (machine.identifiers or {}).get("target_python") or {}
    site_dirs = target.get("sys_path")
    if scope is Scope.OFF or not isinstance(site_dirs, list):
        return None
    dists = None if scope is Scope.ALL else dists_of_interest(machine, tools)
    return EnvironmentAudit(scope, audit_environment(site_dirs, dists, cache_dir))
