"""aidoctor as one zip file that any Python >= 3.10 can run, for machines and containers that lack it.

`fleet collect` sends this file where it checks: over SSH on stdin, into a
container with the Docker API. It holds aidoctor and the pure-Python parts of
what `aidoctor report` imports (typer, rich, packaging, requests, platformdirs and theirs).
Compiled extensions are left out: they would not load on another
architecture, and the libraries used here fall back to pure Python
(charset_normalizer ships md.py beside md.so for that reason).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata as metadata
import importlib.util
import io
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .. import __version__

OUR_PACKAGES = ("aidoctor.doctor", "aidoctor.recipes", "aidoctor.wheels")
MAIN = "from aidoctor.doctor.cli import main\nmain()\n"


def _skipped(relative: str) -> bool:
    parts = relative.split("/")
    return ("__pycache__" in parts or relative.endswith((".so", ".pyd", ".pyc")) or parts[0].endswith(".dist-info")
            or parts[0] == ".." or parts[0].endswith(".data"))


def _dependency_closure() -> list[metadata.Distribution]:
    """aidoctor's run-time requirements and theirs, as installed here; extras are left out."""
    seen: dict[str, metadata.Distribution] = {}
    pending = [r for r in (metadata.requires("aidoctor") or [])]
    while pending:
        requirement = Requirement(pending.pop())
        name = canonicalize_name(requirement.name)
        # Extras are the collector's needs (docker talks to engines), not the report's.
        if name in seen or (requirement.marker and "extra" in str(requirement.marker)):
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a marker-only requirement for another Python, e.g. a backport
        seen[name] = dist
        pending += dist.requires or []
    return list(seen.values())


@functools.cache
def build() -> bytes:
    """The zip's bytes; deterministic for one installation (fixed dates, sorted names)."""
    files: dict[str, bytes] = {"__main__.py": MAIN.encode(), "aidoctor/__init__.py": b""}
    for package in OUR_PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations, package
        root = Path(list(spec.submodule_search_locations)[0])
        for path in root.rglob("*"):
            relative = path.relative_to(root).as_posix()
            if path.is_file() and not _skipped(relative):
                files[f"{package.replace('.', '/')}/{relative}"] = path.read_bytes()
    for dist in _dependency_closure():
        for entry in dist.files or ():
            relative = entry.as_posix()
            if not _skipped(relative):
                located = Path(str(dist.locate_file(entry)))
                if located.is_file():
                    files[relative] = located.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


@functools.cache
def file_name() -> str:
    """Versioned and content-addressed, so a stale copy on a remote is never run by mistake."""
    return f"aidoctor-{__version__}-{hashlib.sha256(build()).hexdigest()[:12]}.pyz"
