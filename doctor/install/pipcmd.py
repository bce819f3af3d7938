"""Which pip runs an install's commands for the target, when the target may have none (a `uv venv`).

pip stays the authority for every step: `install --dry-run --report` (the
resolution aidoctor reads), `wheel` and `download` (what fills the
wheelhouse), `install --no-index`, `uninstall` in a rollback. uv's pip
interface has no `wheel` or `download` command and no `--report` (checked with
uv 0.13.9: `uv pip wheel` is "unrecognized subcommand"), so translating the
plan onto `uv pip` would change what is resolved and stored. Instead, since
pip 22.3 any pip can act on another interpreter with `pip --python TARGET`: it
re-runs itself inside TARGET, so markers, tags and the install scheme are the
target's, exactly as if pip were installed there
(https://pip.pypa.io/en/stable/cli/pip/#cmdoption-python). The routes, in order:

1. the target's own pip (`TARGET -m pip`);
2. with --bootstrap-pip, pip put into the target first (`TARGET -m ensurepip`), then 1;
3. the pip of the Python that runs aidoctor (`AIDOCTOR_PYTHON -m pip --python TARGET`), where it is pip >= 22.3
   and its Requires-Python admits the target's version;
4. pip run by uv (`uv tool run --from pip pip --python TARGET`; uv fetches pip once and caches it);
5. none: the plan says so and what to do.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

PIP_PYTHON_OPTION = Version("22.3")  # the first pip with --python (pip's NEWS.rst, 22.3 (2022-10-15))


class PipVia(str, enum.Enum):
    TARGET = "target"
    BOOTSTRAP = "bootstrap"
    HOST = "host pip"
    UV = "uv"


@dataclass(frozen=True)
class HostPip:
    """The pip installed beside the Python that runs aidoctor."""

    python: str
    version: str
    requires_python: str | None


@dataclass(frozen=True)
class PipRoute:
    via: PipVia
    prefix: tuple[str, ...]  # what comes before pip's own arguments
    why: str

    def argv(self, *args):
        return (*self.prefix, *args)

    def to_json(self) -> dict:
        return {"via": self.via.value, "command": list(self.prefix), "why": self.why}


@dataclass(frozen=True)
class NoPip:
    """No route: the plan is refused with this reason and what to do."""

    why: str
    fix: str


def host_pip() -> HostPip | None:
    """The pip beside the Python running aidoctor, read from its metadata (no process is started)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("pip")
    except metadata.PackageNotFoundError:
        return None
    return HostPip(sys.executable, dist.version, dist.metadata.get("Requires-Python"))


def choose_pip(target: str, target_version: str | None, target_has_pip: bool, bootstrap: bool,
               host: HostPip | None, uv: str | None, offline: bool) -> PipRoute | NoPip:
    if target_has_pip:
        return PipRoute(PipVia.TARGET, (target, "-m", "pip"), "the target's own pip")
    if bootstrap:
        return PipRoute(PipVia.BOOTSTRAP, (target, "-m", "pip"),
                        "the target has no pip: --bootstrap-pip installs it there first with ensurepip")
    unusable = _host_unusable(host, target_version)
    if unusable is None:
        assert host is not None
        return PipRoute(PipVia.HOST, (host.python, "-m", "pip", "--python", target),
                        f"the target has no pip; aidoctor's own pip {host.version} acts on it with --python, "
                        "running inside the target so its markers, tags and install scheme are the target's")
    if uv is not None:
        return PipRoute(PipVia.UV, (uv, "tool", "run", *(("--offline",) if offline else ()), "--from", "pip", "pip",
                                    "--python", target),
                        f"the target has no pip and {unusable}; uv runs pip (fetched once, then cached) on the target "
                        "with --python, because uv's own pip interface has no `wheel`, `download` or `--report`")
    return NoPip(f"{target} has no pip, {unusable}, and uv is not on PATH",
                 "rerun with --bootstrap-pip to install pip into it (python -m ensurepip), or install uv "
                 "(https://docs.astral.sh/uv/) so aidoctor can run pip for it")


def _host_unusable(host: HostPip | None, target_version: str | None) -> str | None:
    """Why aidoctor's own pip cannot act on the target, or None when it can."""
    if host is None:
        return "aidoctor's own Python has no pip"
    try:
        if Version(host.version) < PIP_PYTHON_OPTION:
            return f"aidoctor's own pip {host.version} predates --python (pip 22.3)"
    except InvalidVersion:
        return f"aidoctor's own pip has an unreadable version {host.version!r}"
    if host.requires_python and target_version:
        try:
            if not SpecifierSet(host.requires_python).contains(target_version, prereleases=True):
                return (f"aidoctor's own pip {host.version} needs Python {host.requires_python}, "
                        f"the target is {target_version}")
        except (InvalidSpecifier, InvalidVersion):
            pass
    return None
