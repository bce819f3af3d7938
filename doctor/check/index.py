"""How a tool that is not installed can be had here: pip's answer, read live from the package index.

The file list comes from the Simple API in its JSON form (PEP 691,
https://pypi.org/simple/NAME/), which is what pip reads. `select()` is pip's
finder for a target machine: every file whose tags, Requires-Python and name
fit is a candidate; the specifier (and pip's pre-release fallback) keeps some;
the best is the highest version, then the wheel whose best tag ranks first as
`packaging.tags` orders this target's tags, then the build tag; an sdist ranks
below every wheel of its version, and a yanked file below every other. Only
the chosen file's own metadata is read (PEP 658 `.metadata`, else range
requests into the wheel as pip's lazy wheel does, else the per-version JSON),
so Requires-Dist is the wheel's, not the sdist's.

The answers are cached on disk (file lists for a day, a file's metadata for
good: files never change); `--offline` uses the cache alone, and a network
failure falls back to a stale cache before it gives up as unknown.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import enum
import functools
import hashlib
import json
import os
import re
import struct
import threading
import time
import zlib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import quote, urljoin

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from .. import __version__
from ..core.facts import Machine, canonical_name
from ..core.jsonio import write_atomically

# AIDOCTOR_INDEX_URL points at a mirror that serves the Simple API as PEP 691 JSON (pip's --index-url).
INDEX_URL = os.environ.get("AIDOCTOR_INDEX_URL", "https://pypi.org/simple").rstrip("/")
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
PROJECT_URL = "https://pypi.org/project/{name}/"
CACHE_TTL_S = 24 * 3600
CACHE_FORMAT = 2
# pip's archive formats (pip/_internal/utils/filetypes.py); anything else is not a candidate.
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma",
                  ".tar", ".tgz")
_PY_SUFFIX = re.compile(r"-py([123]\.?[0-9]?)$")  # pip's "foo-1.0-py3.8.tar.gz": only for that Python


class Offer(str, enum.Enum):
    """What pip would install here (`Availability.kind`)."""

    WHEEL = "wheel"  # a binary wheel that fits this platform
    SDIST = "sdist"  # a source distribution pip would build
    NONE = "none"  # nothing on the index fits this platform and Python
    UNKNOWN = "unknown"  # the index could not be read, or the facts are too thin to match files

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    requires_python: str | None = None
    yanked: bool = False
    has_metadata: bool = False  # the index serves url + ".metadata" (PEP 658/714)


@dataclass(frozen=True)
class Project:
    name: str
    files: tuple[IndexFile, ...]  # in the index's order, which means nothing
    fetched_at: float

    def to_json(self) -> dict:
        return {"format": CACHE_FORMAT, "name": self.name, "fetched_at": self.fetched_at,
                "files": [[f.filename, f.url, f.requires_python, f.yanked, f.has_metadata] for f in self.files]}

    @classmethod
    def from_cache(cls, data: dict) -> Project:
        if data.get("format") != CACHE_FORMAT:
            raise ValueError("cache format changed")
        return cls(name=data["name"], fetched_at=float(data["fetched_at"]),
                   files=tuple(IndexFile(f[0], f[1], f[2], bool(f[3]), bool(f[4])) for f in data["files"]))


@dataclass(frozen=True)
class Availability:
    """What pip would install here: a wheel, an sdist to build, nothing, or unknown."""

    kind: Offer
    version: str | None = None
    filename: str | None = None
    requires_dist: tuple[str, ...] | None = None  # of the chosen file itself; None until read (or unreadable)
    reason: str = ""
    source: str | None = None
    url: str | None = None
    has_metadata: bool = False
    older_wheel: tuple[str, str] | None = None  # (version, filename): the best wheel when pip would build an sdist
    newest: str | None = None  # the newest release on the index, when it is not the one this machine gets
    requires_unknown: str | None = None  # why requires_dist cannot be read, when the index's answer says so

    def to_json(self) -> dict:
        return {"kind": self.kind.value, "version": self.version, "filename": self.filename, "reason": self.reason}

    def to_cache(self) -> dict:
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "kind": self.kind.value}

    @classmethod
    def from_cache(cls, data: dict) -> Availability:
        older = data["older_wheel"]
        requires = data["requires_dist"]
        return cls(**{**data, "kind": Offer(data["kind"]), "older_wheel": tuple(older) if older else None,
                      "requires_dist": None if requires is None else tuple(requires)})


class IndexAnswerError(ValueError):
    """The index answered something that is not a PEP 691 project page."""


def project_page_url(name: str, index_url: str = INDEX_URL) -> str:
    return f"{index_url}/{quote(canonical_name(name))}/"


def parse_simple_json(text: str, page_url: str, fetched_at: float) -> Project:
    """A PEP 691 JSON project page -> its files (pure). Raises IndexAnswerError on anything else."""
    if text.lstrip().startswith("<"):
        raise IndexAnswerError("the index answered HTML, not PEP 691 JSON (does it serve "
                               f"{SIMPLE_JSON}? point AIDOCTOR_INDEX_URL at one that does)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IndexAnswerError(f"the index's answer is not valid JSON ({exc.msg} at line {exc.lineno} "
                               f"column {exc.colno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list) or "name" not in data:
        raise IndexAnswerError("the index's answer is not a PEP 691 project page (no name or files)")
    files = []
    for entry in data["files"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            continue
        metadata = entry.get("core-metadata", entry.get("data-dist-info-metadata", False))
        requires_python = entry.get("requires-python")
        files.append(IndexFile(entry["filename"], urljoin(page_url, str(entry.get("url", entry["filename"]))),
                               requires_python if isinstance(requires_python, str) and requires_python else None,
                               bool(entry.get("yanked")), bool(metadata)))
    return Project(canonical_name(str(data["name"])), tuple(files), fetched_at)


# -- the target: which tags its pip accepts, most preferred first --


@dataclass(frozen=True)
class Target:
    python: Version  # the full version: Requires-Python is checked against it
    tags: tuple[Tag, ...]  # most preferred first, as packaging.tags.sys_tags() orders them on that machine
    description: str

    @property
    def short_python(self) -> str:
        return f"{self.python.major}.{self.python.minor}"

    def key(self, specifier: str = "") -> str:
        """Names a selection for this target (and this aidoctor): picks are kept under it."""
        text = "|".join([__version__, str(CACHE_FORMAT), str(self.python), specifier, *map(str, self.tags)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @functools.cached_property
    def ranks(self) -> dict[tuple[str, str, str], int]:
        """(interpreter, abi, platform) -> its position: plain tuples, cheaper than Tag objects per file."""
        return {(tag.interpreter, tag.abi, tag.platform): i for i, tag in reversed(list(enumerate(self.tags)))}

    @functools.cached_property
    def platforms(self) -> frozenset[str]:
        return frozenset(tag.platform for tag in self.tags)


def linux_platforms(arch: str, glibc: tuple[int, int] | None, musl: tuple[int, int] | None) -> list[str]:
    """packaging's _linux_platforms for one arch: manylinux (with its legacy aliases), musllinux, then linux_ARCH.

    PEP 600 tags go down to glibc 2.17 except on x86_64/i686, where manylinux1 (2.5) and manylinux2010 (2.12)
    exist; packaging's _manylinux never offers those older tags elsewhere.
    """
    platforms = []
    if glibc is not None and glibc[0] == 2:
        floor = 5 if arch in ("x86_64", "i686") else 17
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
        for minor in range(glibc[1], floor - 1, -1):
            platforms.append(f"manylinux_2_{minor}_{arch}")
            if minor in legacy:
                platforms.append(f"{legacy[minor]}_{arch}")
    if musl is not None and musl[0] == 1:
        platforms += [f"musllinux_1_{minor}_{arch}" for minor in range(musl[1], -1, -1)]
    return platforms + [f"linux_{arch}"]


def target_for(machine: Machine) -> Target | str:
    """What pip on this machine's target Python would accept, or why that cannot be known."""
    python = _version(machine.python)
    if python is None:
        return "the Python version is unknown"
    arch = machine.arch
    if machine.os == "linux":
        if arch is None:
            return "the architecture is unknown"
        if machine.libc == "musl":
            musl = _python_tuple(machine.musl)
            if musl is None:
                return "the musl version is unknown"
            platforms = linux_platforms(arch, None, musl)
        else:
            if machine.glibc is None:
                return "the glibc version is unknown"
            glibc = _python_tuple(machine.glibc)
            if glibc is None:
                return f"glibc {machine.glibc} is not a version"
            platforms = linux_platforms(arch, glibc, None)
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
    short = (python.major, python.minor)
    interpreter = f"cp{short[0]}{short[1]}"
    abi = interpreter + ("t" if machine.python_build == "freethreaded" else "")
    tags = [*cpython_tags(short, abis=[abi], platforms=platforms), *compatible_tags(short, interpreter, platforms)]
    return Target(python, tuple(dict.fromkeys(tags)), platform_description(machine))


def platform_description(machine: Machine) -> str:
    parts = [machine.os or "?", machine.arch or "?"]
    if machine.os == "linux" and machine.libc == "musl":
        parts.append(f"musl {machine.musl or '?'}")
    elif machine.os == "linux" and machine.glibc:
        parts.append(f"glibc {machine.glibc}")
    if machine.os == "darwin" and machine.macos:
        parts.append(f"macOS {machine.macos}")
    build = " free-threaded" if machine.python_build == "freethreaded" else ""
    return " ".join(parts) + f", Python {_short_python(machine.python) or '?'}{build}"


# -- pip's finder, for one target --


@dataclass(frozen=True)
class Candidate:
    file: IndexFile
    version: Version
    tag_rank: int | None  # the position of the wheel's best tag in the target's order; None for an sdist
    build: tuple = ()

    @property
    def is_wheel(self) -> bool:
        return self.tag_rank is not None

    def sort_key(self, tag_count: int) -> tuple:
        """pip's CandidateEvaluator._sort_key without hashes: greater is better."""
        rank = self.tag_rank if self.tag_rank is not None else tag_count
        return (not self.file.yanked, self.version, -rank, self.build)


def candidates(project: Project, target: Target) -> tuple[list[Candidate], list[Candidate]]:
    """Files pip would consider here (its LinkEvaluator), and those left out only by Requires-Python."""
    ranks, platforms = target.ranks, target.platforms
    name = canonicalize_name(project.name)
    out: list[Candidate] = []
    python_misfits: list[Candidate] = []
    for file in dict.fromkeys(project.files):
        candidate = _candidate(file, name, ranks, platforms, target.short_python)
        if candidate is None:
            continue
        if file.requires_python and not _admits(file.requires_python, target.python):
            python_misfits.append(candidate)
            continue
        out.append(candidate)
    return out, python_misfits


def _candidate(file: IndexFile, name: str, ranks: dict[tuple[str, str, str], int],
               platforms: frozenset[str], python: str) -> Candidate | None:
    if file.filename.endswith(".whl"):
        # The platform part alone rules out most files (torch's for other systems) before a full parse.
        if platforms.isdisjoint(file.filename[:-4].rpartition("-")[2].lower().split(".")):
            return None
        parsed = _parse_wheel(file.filename)
        if parsed is None:
            return None
        wheel_name, version, build, tags = parsed
        fitting = [ranks[t] for t in tags if t in ranks]
        if wheel_name != name or not fitting:
            return None
        return Candidate(file, version, min(fitting), build)
    version = _sdist_version(file.filename, name, python)
    return None if version is None else Candidate(file, version, None)


@functools.lru_cache(maxsize=None)
def _parse_wheel(filename: str) -> tuple[str, Version, tuple, tuple[tuple[str, str, str], ...]] | None:
    """A wheel's name, version, build tag and expanded tags, or None when its name is invalid (PEP 427)."""
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):
        return None
    version = _version(parts[1])
    build: tuple = ()
    if len(parts) == 6:
        match = _BUILD_TAG.match(parts[2])
        if match is None:
            return None
        build = (int(match.group(1)), match.group(2))
    if version is None:
        return None
    interpreters, abis, platforms = (part.lower().split(".") for part in parts[-3:])
    return (_canonical(parts[0]), version, build,
            tuple((i, a, p) for i in interpreters for a in abis for p in platforms))


_BUILD_TAG = re.compile(r"(\d+)(.*)$")


@functools.lru_cache(maxsize=None)
def _sdist_version(filename: str, name: str, python: str | None) -> Version | None:
    """An sdist's version from its name as pip reads it; python ("3.12") drops a "-py3.8" file for another Python
    (None: any)."""
    suffix = next((s for s in SDIST_SUFFIXES if filename.lower().endswith(s)), None)
    if suffix is None:
        return None
    stem = filename[: -len(suffix)]
    # pip's split: the first dash whose prefix is the project's name (normalising only shortens a name).
    version_text = next((stem[i + 1:] for i in range(len(name), len(stem)) if stem[i] == "-"
                         and _canonical(stem[:i]) == name), None)
    if not version_text:
        return None  # not this project's
    only_for = _PY_SUFFIX.search(version_text)
    if only_for is not None:
        if python is not None and only_for.group(1) != python:
            return None
        version_text = version_text[: only_for.start()]
    return _version(version_text)


def _release_of(filename: str, name: str) -> Version | None:
    """The version a file belongs to, whatever its tags (cheap: no tag parsing)."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) not in (5, 6) or _canonical(parts[0]) != name:
            return None
        return _version(parts[1])
    return _sdist_version(filename, name, None)


@functools.lru_cache(maxsize=None)
def _canonical(text: str) -> str:
    return canonicalize_name(text)


def best(found: list[Candidate], specifier: SpecifierSet, tag_count: int) -> Candidate | None:
    """pip's pick: the specifier with its pre-release fallback, then the greatest sort key."""
    allowed = set(specifier.filter({c.version for c in found}))
    applicable = [c for c in found if c.version in allowed]
    return max(applicable, key=lambda c: c.sort_key(tag_count), default=None)


def select(project: Project, machine: Machine, target: Target | str | None = None,
           specifier: SpecifierSet | str = "") -> Availability:
    """What `pip install NAME[SPECIFIER]` would take on this machine (pure)."""
    source = PROJECT_URL.format(name=project.name)
    target = target_for(machine) if target is None else target
    if isinstance(target, str):
        return Availability(Offer.UNKNOWN, reason=f"cannot match files to this machine: {target}", source=source)
    specifier = SpecifierSet(specifier) if isinstance(specifier, str) else specifier
    wanted = f"{project.name}{specifier}" if str(specifier) else project.name
    found, python_misfits = candidates(project, target)
    chosen = best(found, specifier, len(target.tags))
    newest, newer = _missed(project, target, chosen, python_misfits, specifier)
    if chosen is None:
        if python_misfits:
            newest_misfit = max(python_misfits, key=lambda c: c.version)
            return Availability(Offer.NONE, reason=f"every release of {wanted} with a file for this platform "
                                                   f"needs another Python than {target.python} (the newest, "
                                                   f"{newest_misfit.version}, needs Python "
                                                   f"{newest_misfit.file.requires_python})", source=source)
        return Availability(Offer.NONE, reason=f"no release of {wanted} on the package index has a wheel or "
                                               f"source distribution for {target.description}", source=source)
    version = str(chosen.version)
    yanked = " (yanked: pip takes it only because nothing else fits)" if chosen.file.yanked else ""
    common = dict(version=version, source=source, url=chosen.file.url, has_metadata=chosen.file.has_metadata,
                  newest=newest)
    if chosen.is_wheel:
        return Availability(Offer.WHEEL, filename=chosen.file.filename,
                            reason=f"wheel {chosen.file.filename} on the package index{yanked}{newer}", **common)
    wheels = [c for c in found if c.is_wheel and not c.version.is_prerelease]  # worth pinning instead of a build
    older = best(wheels, specifier, len(target.tags))
    older_note = (f"; the newest wheel for this platform is {older.version} ({older.file.filename})" if older
                  is not None else "")
    return Availability(Offer.SDIST, filename=chosen.file.filename,
                        older_wheel=(str(older.version), older.file.filename) if older is not None else None,
                        reason=f"no wheel of {project.name} {version} for {target.description} on the package "
                               f"index; pip would build {project.name} {version} from its source distribution"
                               f"{yanked}{older_note}{newer}", **common)


def _missed(project: Project, target: Target, chosen: Candidate | None, python_misfits: list[Candidate],
            specifier: SpecifierSet) -> tuple[str | None, str]:
    """The newest final release when it is not what this target gets, and why: (version, ' (newer ... )')."""
    name = canonicalize_name(project.name)
    versions = {_release_of(f.filename, name) for f in project.files if not f.yanked}
    releases = [v for v in versions if v is not None and not v.is_prerelease and v in specifier]
    if not releases:
        return None, ""
    newest = max(releases)
    if chosen is not None and chosen.version >= newest:
        return None, ""
    too_new = [c for c in python_misfits if c.version == newest]
    if too_new:
        return str(newest), f" (newer {newest} needs Python {too_new[0].file.requires_python})"
    return str(newest), f" (newer {newest} has no file for {target.description})"


def nearest_releases(project: Project, wanted: str, count: int = 3) -> list[str] | None:
    """None when `wanted` is a release of `project` on the index (files for any platform, yanked or not);
    else up to `count` releases nearest to it, newest first: those just below and above where it would sort."""
    name = canonicalize_name(project.name)
    releases = sorted({v for v in (_release_of(f.filename, name) for f in project.files) if v is not None})
    version = _version(wanted)
    if version is not None and version in releases:
        return None
    if version is None:  # not a version at all: the newest releases are the nearest useful ones
        return [str(v) for v in releases[::-1][:count]]
    at = bisect.bisect_left(releases, version)
    near = releases[max(0, at - count):at + count]
    near.sort(key=lambda v: (abs(releases.index(v) - at + 0.5), -releases.index(v)))
    return [str(v) for v in sorted(near[:count], reverse=True)]


def wheel_fits(filename: str, target: Target | str) -> bool:
    """Whether a wheel's tags suit the target (the wheelhouse's question, not the index's)."""
    if isinstance(target, str):
        return False
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion):
        return False
    return not tags.isdisjoint(target.tags)


@functools.lru_cache(maxsize=None)
def _admits(requires_python: str, python: Version) -> bool:
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True  # pip ignores an invalid Requires-Python too


@functools.lru_cache(maxsize=None)
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


# -- a file's own metadata --


def parse_requires_dist(metadata: str) -> tuple[str, ...]:
    """Requires-Dist of a core metadata file (METADATA / PKG-INFO text), pure."""
    import email.parser  # 6 ms, paid only when a chosen file's metadata is read

    message = email.parser.HeaderParser().parsestr(metadata)
    return tuple(str(value) for value in message.get_all("Requires-Dist") or ())


_EOCD = struct.Struct("<4s4H2LH")  # end of central directory
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # central directory file header
_LOCAL = struct.Struct("<4s5H3L2H")  # local file header


def metadata_from_zip_tail(tail: bytes, read_range: Callable[[int, int], bytes]) -> str:
    """The .dist-info/METADATA of a wheel, from its last bytes and ranged reads for the rest (pip's lazy wheel).

    `tail` is the file's end; `read_range(start, end)` returns its bytes start..end inclusive. Raises
    ValueError when the bytes are not a zip (zip64 included: no wheel on the index needs it) with a METADATA.
    """
    at = tail.rfind(b"PK\x05\x06")
    if at < 0:
        raise ValueError("no zip end record in the wheel's last bytes")
    _, _, _, _, _, directory_size, directory_offset, _ = _EOCD.unpack_from(tail, at)
    if directory_offset == 0xFFFFFFFF:
        raise ValueError("a zip64 wheel")
    tail_offset = directory_offset + directory_size - at  # the end record follows the central directory

    def read(start: int, end: int) -> bytes:  # from the tail when it holds the bytes: dist-info comes last
        return tail[start - tail_offset: end - tail_offset + 1] if start >= tail_offset else read_range(start, end)

    directory = read(directory_offset, directory_offset + directory_size - 1)
    position = 0
    while position + _CENTRAL.size <= len(directory):
        fields = _CENTRAL.unpack_from(directory, position)
        method, compressed, name_len, extra_len, comment_len, local_offset = (
            fields[4], fields[8], fields[10], fields[11], fields[12], fields[16])
        name = directory[position + _CENTRAL.size: position + _CENTRAL.size + name_len].decode("utf-8", "replace")
        position += _CENTRAL.size + name_len + extra_len + comment_len
        if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
            # One read for the local header and the data; the local extra field may differ a little.
            chunk = read(local_offset, local_offset + _LOCAL.size + name_len + extra_len + compressed + 1024)
            local = _LOCAL.unpack_from(chunk)
            start = _LOCAL.size + local[9] + local[10]
            data = chunk[start: start + compressed]
            if len(data) != compressed:
                data = read(local_offset + start, local_offset + start + compressed - 1)
            raw = zlib.decompress(data, -15) if method == 8 else data
            return raw.decode("utf-8", "replace")
    raise ValueError("the wheel has no .dist-info/METADATA")


class _Settled(str):
    """A reason the metadata cannot be read that comes from the index's answer, not from the network."""


def _needs_metadata(available: Availability) -> bool:
    return available.kind in (Offer.WHEEL, Offer.SDIST) and available.url is not None


# -- the side effects: HTTP (one session) and the cache directory --


class Http:
    """One requests.Session for every request of a run; connections are reused across threads."""

    def __init__(self) -> None:
        self._session = None
        self._lock = threading.Lock()

    def session(self):
        with self._lock:
            if self._session is None:
                import requests  # imported here: the cached path must not pay for it
                from requests.adapters import HTTPAdapter

                self._session = requests.Session()
                self._session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=16))
                self._session.headers["User-Agent"] = "aidoctor"
            return self._session

    def get(self, url: str, timeout: float, accept: str = SIMPLE_JSON, byte_range: str | None = None) -> bytes:
        headers = {"Accept": accept}
        if byte_range:
            headers["Range"] = f"bytes={byte_range}"
        response = self.session().get(url, timeout=(min(timeout, 3.0), timeout), headers=headers)
        if response.status_code == 404:
            raise LookupError("not on the package index (404)")
        response.raise_for_status()
        if byte_range and response.status_code != 206:
            raise ValueError("the file server ignores range requests")
        return response.content


HTTP = Http()


def http_get(url: str, timeout: float) -> str:
    return HTTP.get(url, timeout).decode("utf-8", "replace")


Fetch = Callable[[str, float], str]
# (url, timeout, byte range "START-END" or "-N") -> the bytes of that range
FetchRange = Callable[[str, float, str], bytes]


def http_get_range(url: str, timeout: float, byte_range: str) -> bytes:
    return HTTP.get(url, timeout, accept="*/*", byte_range=byte_range)


TAIL_BYTES = 64 * 1024  # a wheel's central directory and end record are almost always in its last 64 KiB


class Index:
    def __init__(self, cache_dir: Path, *, offline: bool = False, timeout: float = 5.0,
                 fetch: Fetch = http_get, fetch_range: FetchRange = http_get_range,
                 now: Callable[[], float] = time.time, index_url: str = INDEX_URL) -> None:
        self.cache_dir = cache_dir / "index"
        self.offline = offline
        self.timeout = timeout
        self.fetch = fetch
        self.fetch_range = fetch_range
        self.now = now
        self.index_url = index_url
        # The first network failure, whole ("ConnectionError: ... NameResolutionError ..."): said once at the top
        # of a report, while each project's reason only says the index was unreachable.
        self.unreachable: str | None = None

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
        results.update(self._each(stale, self._fetch_one))
        return results

    def offers(self, names: Iterable[str], choose: Callable[[Project], Availability], choice: str, *,
               requirements: bool) -> dict[str, Availability]:
        """Each name -> what `choose` picks from its file list (unknown, with the reason, when the index cannot
        say), with the chosen file's Requires-Dist when `requirements`: one pipeline per project, run together.

        `choice` names what `choose` does (the target and specifier: `Target.key`): its pick is kept beside the
        file list it came from, so a warm check reads one small file per tool instead of every file list.
        """
        def one(name: str) -> Availability:
            kept = self._read_pick(name, choice)
            if kept is not None and (not requirements or not _needs_metadata(kept) or kept.requires_dist is not None
                                     or kept.requires_unknown is not None):
                return kept
            project = self.projects([name])[name]
            if isinstance(project, str):
                return Availability(Offer.UNKNOWN, reason=project, source=PROJECT_URL.format(name=name))
            available = choose(project)
            if requirements:
                available = self.read_metadata({name: available})[name]
            if not (requirements and _needs_metadata(available) and available.requires_dist is None
                    and available.requires_unknown is None):  # a network failure is not kept: try again next time
                self._write_pick(name, choice, available)
            return available

        names = sorted({canonical_name(n) for n in names})
        if self.offline or all(self._fresh(name) for name in names):
            return {name: one(name) for name in names}  # all from the cache: threads would only add their cost
        return self._each(names, one)

    def _pick_file(self, name: str, choice: str) -> Path:
        return self.cache_dir / "picks" / f"{name}.{choice}.json"

    def _read_pick(self, name: str, choice: str) -> Availability | None:
        """A kept pick, if the file list it came from is the one in the cache now and is still usable."""
        try:
            listed = self._cache_file(name).stat().st_mtime
            data = json.loads(self._pick_file(name, choice).read_text())
            if data["format"] != CACHE_FORMAT or data["list_mtime"] != listed:
                return None
            if not self.offline and self.now() - listed >= CACHE_TTL_S:
                return None
            return Availability.from_cache(data["availability"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_pick(self, name: str, choice: str, available: Availability) -> None:
        if available.kind is Offer.UNKNOWN:
            return  # only settled answers are kept
        try:
            listed = self._cache_file(name).stat().st_mtime
        except OSError:
            return
        self._write(self._pick_file(name, choice), json.dumps({
            "format": CACHE_FORMAT, "list_mtime": listed, "availability": available.to_cache()}))

    def _fresh(self, name: str) -> bool:
        try:
            return self.now() - self._cache_file(name).stat().st_mtime < CACHE_TTL_S
        except OSError:
            return False

    def read_metadata(self, chosen: dict[str, Availability]) -> dict[str, Availability]:
        """The chosen files' Requires-Dist, read concurrently; a failure says so in the reason."""
        wanted = [name for name, a in chosen.items() if _needs_metadata(a)]
        read = self._each(wanted, lambda name: self._metadata(chosen[name]))
        out = dict(chosen)
        for name, result in read.items():
            available = chosen[name]
            if isinstance(result, tuple):
                out[name] = replace(available, requires_dist=result)
            else:
                out[name] = replace(available, reason=f"{available.reason}; its requirements are unknown ({result})",
                                    requires_unknown=result if isinstance(result, _Settled) else None)
        return out

    def _each(self, names: list[str], work: Callable[[str], object]) -> dict:
        if not names:
            return {}
        if len(names) == 1:
            return {names[0]: work(names[0])}
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, len(names))) as pool:
            return dict(zip(names, pool.map(work, names)))

    def _fetch_one(self, name: str) -> Project | str:
        url = project_page_url(name, self.index_url)
        try:
            project = parse_simple_json(self.fetch(url, self.timeout), url, self.now())
        except LookupError as exc:
            return f"{name}: {exc}"
        except IndexAnswerError as exc:
            return f"{name}: {exc} from {url}"
        except Exception as exc:  # network errors of every kind become a reason, never a crash
            cached = self._read_cache(name)
            if cached is not None:
                return cached
            if self.unreachable is None:
                self.unreachable = f"{type(exc).__name__}: {exc}"
            return (f"package index unreachable ({type(exc).__name__}); no cached data for {name} (try again "
                    "online, or --offline with a filled cache)")
        self._write(self._cache_file(name), json.dumps(project.to_json()))
        return project

    def _metadata(self, available: Availability) -> tuple[str, ...] | str:
        """Requires-Dist, or why not: a _Settled reason when the index's answer itself says so."""
        cache = self.cache_dir / "metadata" / f"{available.filename}.metadata"
        try:
            return parse_requires_dist(cache.read_text(encoding="utf-8"))
        except OSError:
            pass
        if self.offline:
            return "offline and its metadata is not cached"
        try:
            text = self._read_file_metadata(available)
        except (LookupError, ValueError, KeyError, TypeError) as exc:  # an answer: 404, not a zip, no metadata
            return _Settled(f"its metadata could not be read: {type(exc).__name__}: {str(exc)[:120]}")
        except Exception as exc:  # network errors of every kind: the verdict stands, its pins are unknown
            return f"its metadata could not be read: {type(exc).__name__}: {str(exc)[:120]}"
        self._write(cache, text)
        return parse_requires_dist(text)

    def _read_file_metadata(self, available: Availability) -> str:
        assert available.url is not None
        if available.has_metadata:
            return self.fetch(available.url + ".metadata", self.timeout)
        if available.kind is Offer.WHEEL:
            url = available.url
            tail = self.fetch_range(url, self.timeout, f"-{TAIL_BYTES}")
            return metadata_from_zip_tail(tail, lambda start, end: self.fetch_range(url, self.timeout,
                                                                                    f"{start}-{end}"))
        # An sdist's metadata is what the build will produce; the index's release JSON carries it (the project's
        # JSON when the index serves no per-release one and the chosen release is its latest).
        api = f"{self.index_url.removesuffix('/simple')}/pypi/{quote(self._name_of(available))}"
        try:
            info = json.loads(self.fetch(f"{api}/{available.version}/json", self.timeout))["info"]
        except LookupError:
            info = json.loads(self.fetch(f"{api}/json", self.timeout))["info"]
            if info.get("version") != available.version:
                raise LookupError(f"no release JSON for {available.version}") from None
        return "".join(f"Requires-Dist: {r}\n" for r in info.get("requires_dist") or ())

    @staticmethod
    def _name_of(available: Availability) -> str:
        assert available.source is not None
        return available.source.rstrip("/").rsplit("/", 1)[-1]

    def _cache_file(self, name: str) -> Path:
        return self.cache_dir / f"{name}.json"

    def _read_cache(self, name: str) -> Project | None:
        try:
            return Project.from_cache(json.loads(self._cache_file(name).read_text()))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def _write(self, path: Path, text: str) -> None:
        try:
            write_atomically(path, text)
        except OSError:
            pass  # a read-only cache costs speed on the next run, never the answer
