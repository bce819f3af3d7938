"""How a tool that is not installed can be had here: read live from the package index.

For each tool, the index's JSON API (https://pypi.org/pypi/NAME/json) lists
every release and its files. `select()` picks what pip would pick on this
machine: the newest release whose Requires-Python admits this Python and that
has a wheel whose tags fit this platform (or else an sdist to build). The
answers are cached on disk for a day; `--offline` uses the cache alone, and a
network failure falls back to a stale cache before it gives up as unknown.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from ..core.facts import Machine, canonical_name
from ..core.jsonio import write_atomically

# AIDOCTOR_INDEX_URL points at a mirror that serves the same JSON API (https://HOST/pypi).
INDEX_JSON_URL = os.environ.get("AIDOCTOR_INDEX_URL", "https://pypi.org/pypi").rstrip("/") + "/{name}/json"
PROJECT_URL = "https://pypi.org/project/{name}/"
CACHE_TTL_S = 24 * 3600
KEEP_RELEASES = 40  # newest final releases kept in the cache: enough to find one that fits an old Python
CACHE_FORMAT = 1


@dataclass(frozen=True)
class Release:
    version: str
    requires_python: str | None
    files: tuple[str, ...]


@dataclass(frozen=True)
class Project:
    name: str
    latest: str
    requires_dist: tuple[str, ...]  # of the latest release
    releases: tuple[Release, ...]  # newest first
    fetched_at: float

    def to_json(self) -> dict:
        return {"format": CACHE_FORMAT, "name": self.name, "latest": self.latest,
                "requires_dist": list(self.requires_dist), "fetched_at": self.fetched_at,
                "releases": [{"version": r.version, "requires_python": r.requires_python, "files": list(r.files)}
                             for r in self.releases]}

    @classmethod
    def from_cache(cls, data: dict) -> Project:
        if data.get("format") != CACHE_FORMAT:
            raise ValueError("cache format changed")
        return cls(name=data["name"], latest=data["latest"], requires_dist=tuple(data["requires_dist"]),
                   fetched_at=float(data["fetched_at"]),
                   releases=tuple(Release(r["version"], r["requires_python"], tuple(r["files"]))
                                  for r in data["releases"]))


@dataclass(frozen=True)
class Availability:
    """What pip would install here: a wheel, an sdist to build, nothing, or unknown."""

    kind: str  # "wheel", "sdist", "none" or "unknown"
    version: str | None = None
    filename: str | None = None
    requires_dist: tuple[str, ...] = ()
    reason: str = ""
    source: str | None = None

    def to_json(self) -> dict:
        return {"kind": self.kind, "version": self.version, "filename": self.filename, "reason": self.reason}


def parse_project_json(text: str, fetched_at: float) -> Project:
    """The JSON API answer -> the releases we need, newest first (pure)."""
    data = json.loads(text)
    info = data["info"]
    releases = []
    for version_text, files in data.get("releases", {}).items():
        try:
            version = Version(version_text)
        except InvalidVersion:
            continue
        live = [f for f in files if not f.get("yanked")]
        if version.is_prerelease or version.is_devrelease or not live:
            continue
        requires_python = next((f.get("requires_python") for f in live if f.get("requires_python")), None)
        releases.append((version, Release(version_text, requires_python, tuple(f["filename"] for f in live))))
    releases.sort(key=lambda item: item[0], reverse=True)
    return Project(name=canonical_name(info["name"]), latest=info["version"],
                   requires_dist=tuple(info.get("requires_dist") or ()),
                   releases=tuple(r for _, r in releases[:KEEP_RELEASES]), fetched_at=fetched_at)


def platform_description(machine: Machine) -> str:
    parts = [machine.os or "?", machine.arch or "?"]
    if machine.os == "linux" and machine.glibc:
        parts.append(f"glibc {machine.glibc}")
    if machine.os == "darwin" and machine.macos:
        parts.append(f"macOS {machine.macos}")
    return " ".join(parts) + f", Python {_short_python(machine.python) or '?'}"


def platform_tags(machine: Machine) -> frozenset[Tag] | str:
    """The wheel tags this machine's Python accepts, or why they cannot be known."""
    python = _python_tuple(machine.python)
    if python is None:
        return "the Python version is unknown"
    arch = machine.arch
    if machine.os == "linux":
        if arch is None or machine.glibc is None:
            return "the architecture or glibc version is unknown"
        glibc = _python_tuple(machine.glibc)
        if glibc is None:
            return f"glibc {machine.glibc} is not a version"
        platforms = [f"manylinux_2_{minor}_{arch}" for minor in range(glibc[1], 4, -1)]
        legacy = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
        platforms += [f"{name}_{arch}" for floor, name in legacy.items() if glibc >= floor]
    elif machine.os == "darwin":
        macos = _python_tuple(machine.macos)
        if macos is None or arch is None:
            return "the macOS version or architecture is unknown"
        # A Python running under Rosetta is an x86_64 process: it takes x86_64 wheels.
        platforms = list(mac_platforms(macos, machine.python_machine()))
    elif machine.os == "windows":
        platforms = ["win_arm64" if arch == "aarch64" else "win_amd64"]
    else:
        return "the operating system is unknown"
    interpreter = f"cp{python[0]}{python[1]}"
    tags = set(cpython_tags(python, abis=[interpreter], platforms=platforms))
    tags.update(compatible_tags(python, interpreter, platforms))
    return frozenset(tags)


def select(project: Project, machine: Machine, tags: frozenset[Tag] | str) -> Availability:
    """The release pip would pick here (pure)."""
    source = PROJECT_URL.format(name=project.name)
    python = _version(machine.python)
    if isinstance(tags, str):
        return Availability("unknown", reason=f"cannot match wheels: {tags}", source=source)
    skipped_for_python: list[str] = []
    sdist_release: Release | None = None
    for release in project.releases:
        if python is not None and release.requires_python and not _admits(release.requires_python, python):
            skipped_for_python.append(release.version)
            continue
        wheel = next((f for f in release.files if f.endswith(".whl") and _wheel_fits(f, tags)), None)
        if wheel:
            note = _python_note(skipped_for_python, project)
            if sdist_release is not None:
                note += f"; newer {sdist_release.version} has no wheel for this platform (pip would build it)"
            requires = project.requires_dist if release.version == project.latest else ()
            return Availability("wheel", release.version, wheel, requires,
                                f"wheel {wheel} on the package index{note}", source)
        if sdist_release is None and any(f.endswith((".tar.gz", ".zip")) for f in release.files):
            sdist_release = release
    platform = platform_description(machine)
    if sdist_release is not None:
        requires = project.requires_dist if sdist_release.version == project.latest else ()
        return Availability("sdist", sdist_release.version, None, requires,
                            f"no wheel for {platform} on the package index; pip would build "
                            f"{project.name} {sdist_release.version} from its source distribution"
                            + _python_note(skipped_for_python, project), source)
    if skipped_for_python and len(skipped_for_python) == len(project.releases):
        floor = project.releases[-1].requires_python
        return Availability("none", reason=f"every recent release of {project.name} needs Python {floor}",
                            source=source)
    return Availability("none", reason=f"no release of {project.name} on the package index has a wheel or "
                                       f"source distribution for {platform}", source=source)


def _python_note(skipped: list[str], project: Project) -> str:
    if not skipped:
        return ""
    newest = next(r for r in project.releases if r.version == skipped[0])
    return f" (newer {newest.version} needs Python {newest.requires_python})"


def _wheel_fits(filename: str, tags: frozenset[Tag]) -> bool:
    try:
        _, _, _, wheel_tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return not wheel_tags.isdisjoint(tags)


def _admits(requires_python: str, python: Version) -> bool:
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True  # pip ignores an invalid Requires-Python too


def _version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


def _python_tuple(text: str | None) -> tuple[int, int] | None:
    version = _version(text)
    return None if version is None else (version.major, version.minor)


def _short_python(text: str | None) -> str | None:
    python = _python_tuple(text)
    return None if python is None else f"{python[0]}.{python[1]}"


# -- the side effects: HTTP and the cache directory --

Fetch = Callable[[str, float], str]


def http_get(url: str, timeout: float) -> str:
    import requests  # imported here: the cached path must not pay for it

    response = requests.get(url, timeout=(min(timeout, 3.0), timeout), headers={"Accept": "application/json"})
    if response.status_code == 404:
        raise LookupError("not on the package index")
    response.raise_for_status()
    return response.text


class Index:
    def __init__(self, cache_dir: Path, *, offline: bool = False, timeout: float = 5.0,
                 fetch: Fetch = http_get, now: Callable[[], float] = time.time) -> None:
        self.cache_dir = cache_dir / "index"
        self.offline = offline
        self.timeout = timeout
        self.fetch = fetch
        self.now = now

    def projects(self, names: Iterable[str]) -> dict[str, Project | str]:
        """Each name -> its Project, or a one-line reason why it is not known."""
        names = sorted({canonical_name(n) for n in names})
        results: dict[str, Project | str] = {}
        stale: list[str] = []
        for name in names:
            cached = self._read_cache(name)
            if cached is not None and (self.offline or self.now() - cached.fetched_at < CACHE_TTL_S):
                results[name] = cached
            elif self.offline:
                results[name] = (f"offline (--offline) and no cached index data for {name}; "
                                 "run aidoctor check once with network to fill the cache")
            else:
                stale.append(name)
        if stale:
            with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(stale))) as pool:
                for name, result in zip(stale, pool.map(self._fetch_one, stale)):
                    results[name] = result
        return results

    def _fetch_one(self, name: str) -> Project | str:
        try:
            text = self.fetch(INDEX_JSON_URL.format(name=name), self.timeout)
            project = parse_project_json(text, self.now())
        except LookupError as exc:
            return f"{name}: {exc}"
        except Exception as exc:  # network errors of every kind become a reason, never a crash
            cached = self._read_cache(name)
            reason = f"package index unreachable ({type(exc).__name__}: {str(exc)[:120]})"
            if cached is not None:
                return cached
            return f"{reason}; no cached data for {name} (try again online, or --offline with a filled cache)"
        self._write_cache(project)
        return project

    def _cache_file(self, name: str) -> Path:
        return self.cache_dir / f"{name}.json"

    def _read_cache(self, name: str) -> Project | None:
        try:
            return Project.from_cache(json.loads(self._cache_file(name).read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_cache(self, project: Project) -> None:
        try:
            write_atomically(self._cache_file(project.name), json.dumps(project.to_json()))
        except OSError:
            pass  # a read-only cache costs speed on the next run, never the answer
