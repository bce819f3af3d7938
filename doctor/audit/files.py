"""The audit's read of the target environment: each distribution's RECORD, then the binaries it names.

This is the only module of the audit that touches the file system. It runs
in aidoctor's own process and reads the target's files directly: the target
Python reports its sys.path (doctor/probes/pyenv.py) and its site-packages are
on this same file system, so nothing has to be parsed inside an interpreter
that may be older than the parsers, no second interpreter start is paid, and
the cache lives with aidoctor. Nothing audited is ever imported.

Each file costs a stat; a binary whose (path, size, mtime) is in the cache
costs nothing more, else the parsers read its headers through an mmap (only
the pages they touch are read). Every problem is one line about one file.
"""

from __future__ import annotations

import csv
import io
import json
import mmap
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..core.facts import canonical_name
from .binary import BinaryFacts, parse_binary, sniff
from .image import Malformed

MAX_RECORD_BYTES = 32 << 20  # torch's RECORD is about 2 MB
CACHE_NAME = "audit-v1.json"
MAX_CACHE_ENTRIES = 200_000
_BINARY_NAME = re.compile(r"\.(?:so(?:\.\d+)*|dylib|pyd|dll)$")
_PTXAS = re.compile(r"(?:^|/)bin/ptxas(?:-[\w.]+)?$")


@dataclass(frozen=True)
class FileAudit:
    dist: str  # canonical distribution name
    path: str  # as its RECORD names it, relative to the site-packages folder
    facts: BinaryFacts | None
    reason: str | None = None  # why there are no facts: one line

    def to_json(self) -> dict:
        out: dict = {"dist": self.dist, "path": self.path}
        if self.facts is not None:
            out["facts"] = self.facts.to_json()
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def is_audited(path: str) -> bool:
    return bool(_BINARY_NAME.search(path) or _PTXAS.search(path))


def parse_record(text: str) -> list[str]:
    """The paths a RECORD lists (csv: path, hash, size)."""
    return [row[0] for row in csv.reader(io.StringIO(text)) if row and row[0]]


_HINTS = (".so", ".dylib", ".pyd", ".dll", "ptxas")


def audited_paths(text: str) -> list[str]:
    """The binaries a RECORD lists. torch's has 15,000 rows: rows that cannot name a binary are dropped by a
    substring test before the csv reader sees them (a quoted path with a newline in it is not a binary's)."""
    rows = "\n".join(line for line in text.splitlines() if any(hint in line for hint in _HINTS))
    return [path for path in dict.fromkeys(parse_record(rows)) if is_audited(path)]


def dist_infos(site_dirs: Sequence[str]) -> dict[str, Path]:
    """Canonical name -> its .dist-info folder, the first one on sys.path winning as for import."""
    found: dict[str, Path] = {}
    for entry in site_dirs:
        try:
            names = sorted(os.listdir(entry))
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                key = canonical_name(name[:-len(".dist-info")].rpartition("-")[0] or name[:-10])
                found.setdefault(key, Path(entry) / name)
    return found


class Cache:
    """Parsed facts by (path, size, mtime) in one JSON file in the user cache."""

    def __init__(self, folder: Path | None) -> None:
        self.path = None if folder is None else folder / CACHE_NAME
        self.entries: dict[str, dict] = {}
        self.changed = False
        if self.path is not None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self.entries = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                pass

    def get(self, path: str, size: int, mtime: int) -> tuple[BinaryFacts | None, str | None] | None:
        entry = self.entries.get(path)
        if not isinstance(entry, dict) or entry.get("size") != size or entry.get("mtime") != mtime:
            return None
        try:
            facts = None if entry.get("facts") is None else BinaryFacts.from_json(entry["facts"])
        except (KeyError, ValueError, TypeError, AttributeError):
            return None  # an entry of an older layout: parse again
        return facts, entry.get("reason")

    def put(self, path: str, size: int, mtime: int, audit: FileAudit) -> None:
        if len(self.entries) >= MAX_CACHE_ENTRIES:
            self.entries.clear()
        self.entries[path] = {"size": size, "mtime": mtime, "reason": audit.reason,
                              "facts": None if audit.facts is None else audit.facts.to_json()}
        self.changed = True

    def record_paths(self, record: str, size: int, mtime: int) -> list[str] | None:
        """The binaries a RECORD listed when it had this size and mtime (reading torch's costs 10-20 ms)."""
        entry = self.entries.get(f"RECORD {record}")
        if isinstance(entry, dict) and entry.get("size") == size and entry.get("mtime") == mtime:
            paths = entry.get("paths")
            if isinstance(paths, list) and all(isinstance(p, str) for p in paths):
                return paths
        return None

    def put_record_paths(self, record: str, size: int, mtime: int, paths: list[str]) -> None:
        self.entries[f"RECORD {record}"] = {"size": size, "mtime": mtime, "paths": paths}
        self.changed = True

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(self.entries), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            pass  # a cache that cannot be written only costs time next run


def audit_environment(site_dirs: Sequence[str], dists: Iterable[str] | None,
                      cache_dir: Path | None) -> tuple[FileAudit, ...]:
    """Every binary of the named distributions (None: of all), in the order RECORD lists them."""
    infos = dist_infos(site_dirs)
    wanted = sorted(infos) if dists is None else [d for d in dict.fromkeys(dists) if d in infos]
    cache = Cache(cache_dir)
    audits: list[FileAudit] = []
    for dist in wanted:
        audits += _audit_dist(dist, infos[dist], cache)
    cache.save()
    return tuple(audits)


def _audit_dist(dist: str, info: Path, cache: Cache) -> list[FileAudit]:
    record = info / "RECORD"
    where = f"{info.name}/RECORD"
    try:
        stat_result = record.stat()
        paths = cache.record_paths(str(record), stat_result.st_size, stat_result.st_mtime_ns)
        if paths is None:
            if stat_result.st_size > MAX_RECORD_BYTES:
                return [FileAudit(dist, where, None, f"RECORD is larger than {MAX_RECORD_BYTES} bytes")]
            paths = audited_paths(record.read_text(encoding="utf-8", errors="replace"))
            cache.put_record_paths(str(record), stat_result.st_size, stat_result.st_mtime_ns, paths)
    except OSError as exc:
        return [FileAudit(dist, where, None, f"cannot read RECORD: {exc.strerror or exc}")]
    except csv.Error as exc:
        return [FileAudit(dist, where, None, f"RECORD is not valid CSV: {exc}")]
    site = info.parent
    return [_audit_file(dist, site, path, cache) for path in paths]


def _audit_file(dist: str, site: Path, relative: str, cache: Cache) -> FileAudit:
    full = os.path.normpath(os.path.join(site, relative))
    try:
        info = os.stat(full)
    except FileNotFoundError:
        return FileAudit(dist, relative, None, "RECORD names this file but it is missing: reinstall the distribution")
    except OSError as exc:  # ELOOP for a symlink loop, EACCES, ...
        return FileAudit(dist, relative, None, f"cannot read it: {exc.strerror or exc}")
    if not stat.S_ISREG(info.st_mode):
        return FileAudit(dist, relative, None, "not a regular file")
    cached = cache.get(full, info.st_size, info.st_mtime_ns)
    if cached is not None:
        return FileAudit(dist, relative, *cached)
    audit = FileAudit(dist, relative, *_parse_file(full, info.st_size, ptxas=bool(_PTXAS.search(relative))))
    if audit.facts is not None or audit.reason is not None:
        cache.put(full, info.st_size, info.st_mtime_ns, audit)
    return audit


def _parse_file(path: str, size: int, *, ptxas: bool) -> tuple[BinaryFacts | None, str | None]:
    if size == 0:
        return None, "empty file"
    try:
        with open(path, "rb") as handle:
            if sniff(handle.read(8)) is None:
                # a linker script named libfoo.so, a text file: not a binary, nothing to judge
                return None, None
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as image:
                return parse_binary(image, ptxas=ptxas), None
    except Malformed as exc:
        return None, str(exc)
    except (OSError, ValueError) as exc:
        return None, f"cannot read it: {getattr(exc, 'strerror', None) or exc}"


def by_dist(audits: Iterable[FileAudit]) -> Mapping[str, tuple[FileAudit, ...]]:
    grouped: dict[str, list[FileAudit]] = {}
    for audit in audits:
        grouped.setdefault(audit.dist, []).append(audit)
    return {dist: tuple(items) for dist, items in grouped.items()}
