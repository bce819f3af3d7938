"""What is installed in the target environment, and how to put it back.

`capture` runs the target script (probes/target_script.py, mode env-state) in
the target Python, never importing torch. It lists every distribution with its
version and a digest of its RECORD, and fingerprints the protected ones (torch, triton, the CUDA libraries) by
the size and mtime of every file they own: a reinstall of the same version
rewrites the files and changes the fingerprint, so "torch is unchanged"
means byte-for-byte the same distribution, not just the same version.

`backup` copies the files of distributions an install is about to replace;
`restore` puts them back after pip has removed what the install brought.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ...recipes import protected
from ..core.errors import AidoctorError
from ..core.facts import canonical_name
from ..core.jsonio import last_json_object
from ..core.system import System
from ..probes import pyenv, target_script


def is_protected(name: str) -> bool:
    """One of the distributions the recipes declare that no install may replace (`Tool.protects`)."""
    return any(group.covers(name) for group in protected())


def protected_stack(conjunction: str = "and") -> str:
    """What the protected distributions are called, as the recipes name them: "torch, triton and the CUDA libraries"."""
    labels = [group.label for group in protected()]
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} {conjunction} {labels[-1]}"


def protected_patterns() -> tuple[str, ...]:
    """The protected distributions as names and `prefix*` patterns, for what a plan says it leaves out."""
    return (*_protected_names(), *(f"{prefix}*" for prefix in _protected_prefixes()))


def _protected_names() -> tuple[str, ...]:
    return tuple(sorted(name for group in protected() for name in group.names))


def _protected_prefixes() -> tuple[str, ...]:
    return tuple(prefix for group in protected() for prefix in group.prefixes)


@dataclass(frozen=True)
class Dist:
    name: str
    version: str
    dist_info: str
    record_sha256: str | None
    fingerprint: str | None = None  # protected distributions only
    requires: tuple[str, ...] = ()  # Requires-Dist, markers and all
    installer: str | None = None  # protected distributions only: "conda", "pip", "uv"... (conda-meta, INSTALLER)
    in_env: bool = True  # False: seen from outside the environment (a --system-site-packages venv's base)

    @property
    def by_conda(self) -> bool:
        return self.installer == "conda"


@dataclass(frozen=True)
class EnvState:
    prefix: str
    base_prefix: str
    conda: bool
    purelib: str
    writable: bool
    python_tag: str
    dists: Mapping[str, Dist]

    @property
    def is_virtual(self) -> bool:
        return self.prefix != self.base_prefix or self.conda

    def version(self, name: str) -> str | None:
        dist = self.dists.get(canonical_name(name))
        return None if dist is None else dist.version

    def protected(self) -> dict[str, Dist]:
        return {name: dist for name, dist in self.dists.items() if is_protected(name)}

    def to_json(self) -> dict:
        """The target script's own format, so `state_from_json` reads a saved snapshot as it reads a capture."""
        return {"prefix": self.prefix, "base_prefix": self.base_prefix, "conda": self.conda, "purelib": self.purelib,
                "writable": self.writable, "python_tag": self.python_tag,
                "dists": {key: {"name": d.name, "version": d.version, "dist_info": d.dist_info,
                                "record_sha256": d.record_sha256, "fingerprint": d.fingerprint,
                                "requires": list(d.requires), "installer": d.installer, "in_env": d.in_env}
                          for key, d in self.dists.items()}}

    def pins(self) -> list[str]:
        """Constraints that hold the protected distributions where they are."""
        return [f"{dist.name}=={dist.version}" for dist in sorted(self.protected().values(), key=lambda d: d.name)]

    def conda_pins(self) -> list[str]:
        """Pins that hold even with --allow-torch-change: pip must never replace what conda installed, since
        conda would still list the package and its files and a later `conda install` or `conda remove` would
        break the environment (https://docs.conda.io/projects/conda/en/latest/user-guide/tasks/manage-environments.html#using-pip-in-an-environment)."""
        return [f"{dist.name}=={dist.version}" for dist in sorted(self.protected().values(), key=lambda d: d.name)
                if dist.by_conda]


def parse_env_state(text: str) -> EnvState:
    data = last_json_object(text)
    if data is None:
        raise ValueError("it printed no JSON object")
    return state_from_json(data)


def state_from_json(data: Mapping) -> EnvState:
    """Raises KeyError, TypeError or ValueError on a malformed state."""
    dists = {name: Dist(info["name"], info["version"], info["dist_info"], info.get("record_sha256"),
                        info.get("fingerprint"), tuple(info.get("requires") or ()), info.get("installer"),
                        info.get("in_env") is not False) for name, info in data["dists"].items()}
    return EnvState(data["prefix"], data["base_prefix"], bool(data["conda"]), data["purelib"], bool(data["writable"]),
                    data["python_tag"], dists)


def capture(system: System, python: str, timeout: float = 60.0) -> EnvState:
    argv = (python, "-I", "-c", pyenv.SCRIPT, "env-state", ",".join(_protected_names()), ",".join(_protected_prefixes()))
    result = system.run(argv, timeout=timeout)
    if not result.ok:
        raise AidoctorError(f"could not read the target environment: {result.failure()}")
    try:
        return parse_env_state(result.stdout)
    except (ValueError, KeyError, IndexError) as exc:
        raise AidoctorError(f"could not read the target environment: unexpected answer ({exc})") from None


def changed_protected(before: EnvState, after: EnvState) -> list[str]:
    """Protected distributions that were added, removed, or are no longer byte-for-byte the same."""
    return _changes(before.protected(), after.protected())


def drift(before: EnvState, after: EnvState) -> list[str]:
    """Every way `after` is not `before`: distributions added, removed, of another version, or whose files
    changed (RECORD digest; for torch and the CUDA libraries also each file's size and mtime). Empty: the same."""
    return _changes(before.dists, after.dists)


def _changes(old: Mapping[str, Dist], new: Mapping[str, Dist]) -> list[str]:
    changes = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a is None:
            changes.append(f"{b.name} {b.version} was added")
        elif b is None:
            changes.append(f"{a.name} {a.version} was removed")
        elif a.version != b.version:
            changes.append(f"{a.name} is {b.version}, was {a.version}")
        elif (a.record_sha256, a.fingerprint) != (b.record_sha256, b.fingerprint):
            changes.append(f"{a.name} {a.version}'s files changed")
    return changes


def differences(before: EnvState, after: EnvState) -> tuple[list[str], list[str]]:
    """(added, changed) distribution names between two states."""
    added = sorted(after.dists.keys() - before.dists.keys())
    changed = sorted(name for name in before.dists.keys() & after.dists.keys()
                     if before.dists[name].record_sha256 != after.dists[name].record_sha256
                     or before.dists[name].version != after.dists[name].version)
    return added, changed


def removable(before: EnvState, after: EnvState) -> list[str]:
    """What a rollback uninstalls: the distributions the install added or changed, inside the environment only.

    In a --system-site-packages venv pip installs over a base distribution by shadowing it in the venv
    ("Not uninstalling X ..., outside environment"); removing the venv's copy brings the base one back.
    """
    added, changed = differences(before, after)
    return [after.dists[name].name for name in added + changed if after.dists[name].in_env]


# -- backup and restore: the file-system side of a rollback --


def _owned_files(dist: Dist) -> list[Path]:
    """Every file its RECORD lists, read as the target script reads it (CSV: a quoted path may hold a comma)."""
    digest, paths = target_script.record(dist.dist_info)
    if digest is None:  # pip could not uninstall it either
        raise AidoctorError(f"{dist.name} {dist.version} has no readable RECORD in {dist.dist_info}, so it cannot "
                            "be backed up before the install replaces it; reinstall it with pip first")
    return [Path(path) for path in paths]


def folders_pip_writes(state: EnvState) -> list[Path]:
    """site-packages and the scripts folder: where an install cut short leaves files no RECORD lists yet."""
    return [Path(state.purelib), Path(state.prefix) / "bin"]


def list_entries(state: EnvState) -> dict[str, list[str]]:
    """The names in each folder pip writes to, for telling afterwards what an interrupted pip left behind."""
    listing = {}
    for folder in folders_pip_writes(state):
        try:
            listing[str(folder)] = sorted(os.listdir(folder))
        except OSError:
            continue
    return listing


def left_behind(entries: Mapping[str, list[str]]) -> list[Path]:
    """What is in those folders now and was not when `entries` was listed."""
    new = []
    for folder, names in entries.items():
        try:
            now = os.listdir(folder)
        except OSError:
            continue
        new += [Path(folder) / name for name in sorted(set(now) - set(names))]
    return new


def remove_left_behind(entries: Mapping[str, list[str]]) -> None:
    """Remove files and folders a killed pip wrote before their RECORD (pip writes RECORD last), and the `~name`
    stash folders it moves an old version into while replacing it (the backup restores that version)."""
    for path in left_behind(entries):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def backup(state: EnvState, names: list[str], dest: Path) -> Path:
    """Copy every file the named distributions own into `dest`; returns the manifest."""
    manifest: dict[str, list[str]] = {}
    for name in names:
        dist = state.dists[canonical_name(name)]
        if not dist.in_env:  # pip leaves a base distribution in place, so there is nothing to put back
            continue
        owned = []
        for path in _owned_files(dist):
            if path.is_file():
                target = dest / "files" / str(path).lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                owned.append(str(path))
        manifest[dist.name] = owned
    dest.mkdir(parents=True, exist_ok=True)
    manifest_path = dest / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest_path


def backed_up(manifest_path: Path) -> list[str]:
    """The distributions a backup holds."""
    return sorted(json.loads(manifest_path.read_text()))


def restore(manifest_path: Path) -> None:
    manifest = json.loads(manifest_path.read_text())
    files_root = manifest_path.parent / "files"
    for paths in manifest.values():
        for path in paths:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Beside it, then one rename: a restore cut short leaves each file whole, old or new, and never writes
            # into a file another hard link shares.
            staged = target.with_name(f".{target.name}.aidoctor-restore")
            shutil.copy2(files_root / path.lstrip("/"), staged)
            staged.replace(target)
