"""The wheelhouse: every wheel aidoctor builds or downloads, kept with its provenance.

Layout of a wheelhouse directory ROOT (flat, so pip can read it as it is):

    ROOT/<wheel filename>                   the wheel
    ROOT/<wheel filename>.provenance.json   its sidecar: hash, size, key, source, build flags, smoke test
    ROOT/simple/index.html                  a PEP 503 index of the projects ...
    ROOT/simple/<project>/index.html        ... and of each project's wheels, with their sha256
    ROOT/.lock                              flock'ed by every change

`pip install --find-links ROOT` and `pip install --index-url file://ROOT/simple` both install from it,
offline. A wheel built from source carries the key it was built for (GPU arch, CUDA, torch, flags) as a
build tag, `name-version-1k<key_id>-py-abi-plat.whl`, so one version built for two machines never collides.

This module is the store's only file-system boundary. Every change happens under an exclusive flock
and reaches its final name by `os.replace` from a temporary file in ROOT, so processes adding at the
same time never leave a half-written wheel, sidecar or index.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from ..doctor.core.errors import TamperedWheel, WheelhouseError
from ..doctor.core.jsonio import utc_timestamp
from .simple_index import project_page, projects_page

SIDECAR_SCHEMA = "aidoctor.wheel/1"
SIDECAR_SUFFIX = ".provenance.json"
LOCK_TIMEOUT_S = 600.0
LOCK_POLL_S = 0.05
CHUNK = 1 << 20  # hash and copy in 1 MiB pieces: torch wheels are GBs
TEMP_PREFIX = ".tmp-"  # never ends in .whl, so an interrupted write is never taken for a wheel
# The fields `add` computes; provenance may not overwrite them.
COMPUTED_FIELDS = frozenset(
    {"schema", "filename", "original_filename", "sha256", "size", "project", "version", "tags", "added", "key",
     "key_id"}
)
CHOOSE_ANOTHER = "choose another with --wheelhouse DIR (or AIDOCTOR_WHEELHOUSE)"


@dataclass(frozen=True)
class StoredWheel:
    filename: str
    path: Path
    sha256: str
    project: str  # normalized (PEP 503)
    version: str
    key_id: str | None  # None for a wheel used as downloaded
    provenance: dict[str, Any]  # the whole sidecar


@dataclass(frozen=True)
class Problem:
    filename: str
    what: str

    def __str__(self) -> str:
        return f"{self.filename}: {self.what}"


def key_id_for(key: Mapping[str, Any]) -> str:
    """12 hex digits naming a build key: the same key gives the same id whatever its dict order."""
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


class Wheelhouse:
    """A wheelhouse directory. `Wheelhouse.open(root)` is the way in: it checks the directory can be written."""

    def __init__(self, root: Path, *, lock_timeout: float = LOCK_TIMEOUT_S) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout
        self._held_lock: int | None = None  # the flock mode held, so nested use does not wait on itself

    @classmethod
    def open(cls, root: Path, *, create: bool = True, lock_timeout: float = LOCK_TIMEOUT_S) -> Wheelhouse:
        """The wheelhouse at root, checked to be a directory this process can write."""
        root = Path(root).expanduser()
        try:
            if create:
                root.mkdir(parents=True, exist_ok=True)
            elif not root.is_dir():
                raise WheelhouseError(f"no wheelhouse at {root}; {CHOOSE_ANOTHER}")
            tempfile.TemporaryFile(dir=root).close()  # the only sure test of "can write here" (root, ro mounts, ACLs)
        except OSError as exc:
            raise WheelhouseError(f"cannot use {root} as the wheelhouse: {exc.strerror or exc}; {CHOOSE_ANOTHER}")
        return cls(root.resolve(), lock_timeout=lock_timeout)

    @property
    def lock_path(self) -> Path:
        return self.root / ".lock"

    @contextlib.contextmanager
    def lock(self, *, shared: bool = False, timeout: float | None = None) -> Iterator[None]:
        """Hold ROOT/.lock: exclusive for a change, shared for a read that must see whole adds only.

        Nested use on the same object reuses the lock already held, so a caller may hold it around add().
        """
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        if self._held_lock is not None:
            if mode == fcntl.LOCK_EX and self._held_lock == fcntl.LOCK_SH:
                raise RuntimeError("cannot change the wheelhouse while holding its lock for reading")
            yield
            return
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise WheelhouseError(f"cannot open the wheelhouse lock {self.lock_path}: {exc.strerror}; {CHOOSE_ANOTHER}")
        try:
            self._acquire(fd, mode, self.lock_timeout if timeout is None else timeout)
            self._held_lock = mode
            try:
                yield
            finally:
                self._held_lock = None
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _acquire(self, fd: int, mode: int, timeout: float) -> None:
        # flock has no timeout of its own: poll without blocking until the deadline.
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WheelhouseError(
                        f"the wheelhouse lock {self.lock_path} is still held by another process after {timeout:g} s; "
                        f"wait for the other aidoctor to finish, or {CHOOSE_ANOTHER}"
                    ) from None
                time.sleep(LOCK_POLL_S)

    # Adding and changing

    def add(self, wheel_path: Path, provenance: Mapping[str, Any], *, key: Mapping[str, Any] | None = None,
            replace: bool = False) -> StoredWheel:
        """Copy a wheel in with its provenance; a wheel built for `key` is renamed with the key's build tag.

        Adding the same bytes under the same name again keeps the first record and returns it. Different
        bytes under a stored name raise WheelhouseError unless `replace`.
        """
        wheel_path = Path(wheel_path)
        clashing = COMPUTED_FIELDS & provenance.keys()
        if clashing:
            raise ValueError(f"provenance may not set {', '.join(sorted(clashing))}: add() computes them")
        key_id = None if key is None else key_id_for(key)
        filename = _valid_wheel_name(wheel_path.name)
        if key_id is not None:
            filename = _with_build_tag(filename, key_id)
        with self.lock():
            self._remove_leftover_temp_files()
            try:
                temp, sha256, size = self._copy_to_temp(wheel_path)
            except OSError as exc:
                raise WheelhouseError(f"cannot copy {wheel_path} into the wheelhouse {self.root}: "
                                      f"{exc.strerror or exc}")
            try:
                sidecar = _new_sidecar(filename, wheel_path.name, sha256, size, key, key_id, provenance)
                stored = self._put(filename, temp, sidecar, replace=replace)
            finally:
                temp.unlink(missing_ok=True)
            self._write_index()
        return stored

    def record_smoke(self, stored: StoredWheel, result: Mapping[str, Any]) -> StoredWheel:
        """Keep a smoke test's result, dated, in the wheel's sidecar."""
        with self.lock():
            sidecar = self._sidecar_or_error(stored.filename)
            if sidecar["sha256"] != stored.sha256:
                # Another process replaced the wheel since it was tested: the result is not about these bytes.
                raise WheelhouseError(f"{stored.filename} was replaced in {self.root} after it was tested; "
                                      f"the smoke result was not recorded, run the test again")
            sidecar["smoke"] = {**result, "date": utc_timestamp()}
            self._write_text(self._sidecar_path(stored.filename), _sidecar_text(sidecar))
        return self._stored(stored.filename, sidecar)

    def remove(self, filename: str) -> None:
        """Take a wheel and its sidecar out of the store and the index (what verify's problems call for)."""
        with self.lock():
            paths = [self.root / filename, self._sidecar_path(filename)]
            if not any(path.exists() for path in paths):
                raise WheelhouseError(f"{filename} is not in the wheelhouse {self.root}")
            for path in paths:
                path.unlink(missing_ok=True)
            self._write_index()

    def write_simple_index(self) -> None:
        """Regenerate ROOT/simple from the sidecars."""
        with self.lock():
            self._write_index()

    # Reading

    def wheels(self) -> list[StoredWheel]:
        """Every wheel with a readable sidecar, by project and version (verify() reports the others)."""
        stored = []
        for sidecar_path in self.root.glob(f"*.whl{SIDECAR_SUFFIX}"):
            filename = sidecar_path.name[: -len(SIDECAR_SUFFIX)]
            try:
                stored.append(self._stored(filename, _read_sidecar(sidecar_path, filename)))
            except ValueError:
                continue
        return sorted(stored, key=lambda wheel: (wheel.project, Version(wheel.version), wheel.filename))

    def find(self, project: str, *, version: str | None = None, key_id: str | None = None,
             include_unkeyed: bool = True) -> list[StoredWheel]:
        """Stored wheels of a project; key_id keeps only built wheels of that key (plus unkeyed ones)."""
        name = canonicalize_name(project)
        return [
            wheel for wheel in self.wheels()
            if wheel.project == name
            and (version is None or Version(wheel.version) == Version(version))
            and _key_selected(wheel, key_id, include_unkeyed)
        ]

    def checked_path(self, stored: StoredWheel) -> Path:
        """The wheel's path, once its bytes are proven to be the ones stored: call it right before installing."""
        try:
            actual = file_sha256(stored.path)
        except OSError as exc:
            raise WheelhouseError(f"wheel {stored.path} cannot be read ({exc.strerror}); "
                                  f"run `aidoctor wheels verify`, then rebuild or download it again")
        if actual != stored.sha256:
            raise TamperedWheel(stored.path, stored.sha256, actual)
        return stored.path

    def verify(self, only: Iterable[str] | None = None) -> list[Problem]:
        """What is wrong with the store, or with the wheels named in `only`: [] when every hash holds."""
        with self.lock(shared=True):
            return self._problems(only)

    def _problems(self, only: Iterable[str] | None) -> list[Problem]:
        if only is None:
            names = {path.name for path in self.root.glob("*.whl")}
            names |= {path.name[: -len(SIDECAR_SUFFIX)] for path in self.root.glob(f"*.whl{SIDECAR_SUFFIX}")}
        else:
            names = set(only)
        return [Problem(name, what) for name in sorted(names) if (what := self._problem(name))]

    def _problem(self, filename: str) -> str | None:
        wheel, sidecar_path = self.root / filename, self._sidecar_path(filename)
        if not sidecar_path.exists():
            return "no provenance sidecar" if wheel.exists() else "not in the wheelhouse"
        try:
            sidecar = _read_sidecar(sidecar_path, filename)
        except ValueError as exc:
            return str(exc)
        if not wheel.exists():
            return "the wheel file is missing (its sidecar remains)"
        size = wheel.stat().st_size
        if size != sidecar["size"]:
            return f"size is {size} bytes, {sidecar['size']} when stored"
        actual = file_sha256(wheel)
        if actual != sidecar["sha256"]:
            return f"sha256 is {actual}, {sidecar['sha256']} when stored"
        return None

    # Export

    def export(self, dest: Path, *, key_id: str | None = None) -> list[StoredWheel]:
        """Copy the unkeyed wheels, and the built ones of key_id (all of them if None), into the wheelhouse at dest.

        Nothing is copied if any selected wheel fails verification.
        """
        target = Wheelhouse.open(dest, lock_timeout=self.lock_timeout)
        if target.root == self.root:
            raise WheelhouseError(f"cannot export the wheelhouse {self.root} into itself; choose another directory")
        exported = []
        with self.lock(shared=True), target.lock():
            selected = [wheel for wheel in self.wheels() if _key_selected(wheel, key_id, include_unkeyed=True)]
            problems = self._problems(wheel.filename for wheel in selected)
            if problems:
                raise WheelhouseError(f"not exported: {len(problems)} wheel(s) in {self.root} fail verification "
                                      f"({'; '.join(map(str, problems))}); run `aidoctor wheels verify`")
            for wheel in selected:
                exported.append(target._put_copy(wheel))
            target._write_index()
        return exported

    def _put_copy(self, wheel: StoredWheel) -> StoredWheel:
        temp, sha256, _ = self._copy_to_temp(wheel.path)
        try:
            if sha256 != wheel.sha256:  # changed between verification and copy
                raise TamperedWheel(wheel.path, wheel.sha256, sha256)
            return self._put(wheel.filename, temp, dict(wheel.provenance), replace=False)
        finally:
            temp.unlink(missing_ok=True)

    # Writing files: only under the exclusive lock

    def _put(self, filename: str, temp: Path, sidecar: dict[str, Any], *, replace: bool) -> StoredWheel:
        """Move a copied wheel (temp, already hashed into sidecar) to its name, then write its sidecar."""
        target = self.root / filename
        text = _sidecar_text(sidecar)  # before the wheel moves: provenance that is not JSON must not leave it bare
        existing = self._stored_or_none(filename)
        if existing is not None and existing.sha256 == sidecar["sha256"]:
            if not (target.exists() and file_sha256(target) == existing.sha256):
                os.replace(temp, target)  # the stored copy was damaged or lost: the same bytes restore it
            return existing
        if existing is not None and not replace:
            raise WheelhouseError(
                f"{self.root} already holds a different {filename} (sha256 {existing.sha256}, new "
                f"{sidecar['sha256']}); remove it first or add with replace"
            )
        os.replace(temp, target)
        self._write_text(self._sidecar_path(filename), text)
        return self._stored(filename, sidecar)

    def _write_index(self) -> None:
        by_project: dict[str, list[StoredWheel]] = {}
        for wheel in self.wheels():
            by_project.setdefault(wheel.project, []).append(wheel)
        simple = self.root / "simple"
        for project, wheels in by_project.items():
            (simple / project).mkdir(parents=True, exist_ok=True)
            self._write_text(simple / project / "index.html", project_page(project, wheels))
        for stale in simple.iterdir():
            if stale.is_dir() and stale.name not in by_project:
                shutil.rmtree(stale)
        self._write_text(simple / "index.html", projects_page(sorted(by_project)))

    def _copy_to_temp(self, source: Path) -> tuple[Path, str, int]:
        """Copy source to a temporary file in ROOT, hashing while copying: one read of a multi-GB wheel."""
        digest, size = hashlib.sha256(), 0
        handle, temp = self._temp_file()
        try:
            with handle, open(source, "rb") as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
                    size += len(chunk)
                _sync(handle)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp, digest.hexdigest(), size

    def _write_text(self, target: Path, text: str) -> None:
        handle, temp = self._temp_file()
        try:
            with handle:
                handle.write(text.encode("utf-8"))
                _sync(handle)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _temp_file(self) -> tuple[BinaryIO, Path]:
        # Not mkstemp: its 0600 mode would survive the rename, and other users of a shared wheelhouse
        # could not read the wheel. os.open with 0666 applies the umask like any other new file.
        temp = self.root / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        return os.fdopen(fd, "wb"), temp

    def _remove_leftover_temp_files(self) -> None:
        # Only a writer holding the exclusive lock creates temp files, so any found now were left by
        # a process that died mid-write.
        for leftover in self.root.glob(f"{TEMP_PREFIX}*"):
            leftover.unlink(missing_ok=True)

    # Sidecars

    def _sidecar_path(self, filename: str) -> Path:
        return self.root / f"{filename}{SIDECAR_SUFFIX}"

    def _sidecar_or_error(self, filename: str) -> dict[str, Any]:
        try:
            return _read_sidecar(self._sidecar_path(filename), filename)
        except ValueError as exc:
            raise WheelhouseError(f"{filename} in {self.root}: {exc}; run `aidoctor wheels verify`")

    def _stored_or_none(self, filename: str) -> StoredWheel | None:
        try:
            return self._stored(filename, _read_sidecar(self._sidecar_path(filename), filename))
        except ValueError:
            return None

    def _stored(self, filename: str, sidecar: dict[str, Any]) -> StoredWheel:
        project, version, _, _ = parse_wheel_filename(filename)
        return StoredWheel(filename, self.root / filename, sidecar["sha256"], project, str(version),
                           sidecar.get("key_id"), sidecar)


def _key_selected(wheel: StoredWheel, key_id: str | None, include_unkeyed: bool) -> bool:
    if wheel.key_id is None:
        return include_unkeyed
    return key_id is None or wheel.key_id == key_id


def _valid_wheel_name(filename: str) -> str:
    try:
        parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise WheelhouseError(f"{filename} is not a wheel file name ({exc}); only wheels go into the wheelhouse")
    return filename


def _with_build_tag(filename: str, key_id: str) -> str:
    """name-version-1k<key_id>-py-abi-plat.whl: a build tag must start with a digit, and pip ignores the rest."""
    parts = filename[: -len(".whl")].split("-")  # a valid wheel name has no "-" inside its fields
    tagged = "-".join([parts[0], parts[1], f"1k{key_id}", *parts[-3:]]) + ".whl"
    return _valid_wheel_name(tagged)


def _new_sidecar(filename: str, original_filename: str, sha256: str, size: int, key: Mapping[str, Any] | None,
                 key_id: str | None, provenance: Mapping[str, Any]) -> dict[str, Any]:
    project, version, _, tags = parse_wheel_filename(filename)
    return {
        "schema": SIDECAR_SCHEMA,
        "filename": filename,
        "original_filename": original_filename,
        "sha256": sha256,
        "size": size,
        "project": project,
        "version": str(version),
        "tags": sorted(str(tag) for tag in tags),
        "added": utc_timestamp(),
        "key": None if key is None else dict(key),
        "key_id": key_id,
        **provenance,
    }


def _read_sidecar(path: Path, filename: str) -> dict[str, Any]:
    """The sidecar's fields; ValueError saying what is wrong with it."""
    parse_wheel_filename(filename)  # InvalidWheelFilename is a ValueError too
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"sidecar {path.name} cannot be read: {exc.strerror}")
    except ValueError as exc:
        raise ValueError(f"sidecar {path.name} is not valid JSON: {exc}")
    if not (isinstance(sidecar, dict) and sidecar.get("schema") == SIDECAR_SCHEMA
            and sidecar.get("filename") == filename and isinstance(sidecar.get("sha256"), str)
            and isinstance(sidecar.get("size"), int)):
        raise ValueError(f"sidecar {path.name} is not an {SIDECAR_SCHEMA} record of {filename}")
    return sidecar


def _sidecar_text(sidecar: Mapping[str, Any]) -> str:
    return json.dumps(sidecar, indent=2) + "\n"


def file_sha256(path: Path) -> str:
    """A file's sha256, read in chunks (wheels can be hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sync(handle: BinaryIO) -> None:
    # On disk before the rename makes it visible: a crash leaves the old file or the new one, never a torn one.
    handle.flush()
    os.fsync(handle.fileno())


