"""Which Python to inspect, and what kind of environment it runs in.

`choose_target` turns `--python` (or, without it, the active environment) into
one interpreter path, once, at the CLI boundary, so that every later command
(a build that runs in another folder included) runs the same interpreter:

- a relative path becomes absolute with `Path.absolute()`, never `.resolve()`:
  a venv's bin/python is a symlink to the base interpreter, and running the
  base interpreter leaves the venv;
- a symlink that lives outside any environment (`~/bin/trainpy ->
  ~/train/.venv/bin/python`) is followed link by link until the path lies in
  an environment: Python finds its venv from pyvenv.cfg beside or above the
  path it was started by, so the outer link would start the base Python;
- a folder (a venv or conda env) means its interpreter, bin/python;
- without `--python`: VIRTUAL_ENV, else CONDA_PREFIX, else python3 on PATH;
  an active environment whose interpreter is gone (a removed venv) is an error,
  never a silent fall back to another Python.

`describe_environment` names the environment from what the target reports
(sys.prefix, sys.base_prefix, its pyvenv.cfg, a conda-meta folder): the
terminal header shows it; in reports its path is an identifier.
"""

from __future__ import annotations

import enum
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..core.errors import BadInput, TargetPythonError

# A venv's interpreter, POSIX then Windows.
INTERPRETERS = (Path("bin") / "python", Path("Scripts") / "python.exe")
MAX_LINKS = 40  # as the kernel's own limit on symlinks in one lookup


def choose_target(given: str | None, env: Mapping[str, str]) -> str:
    """The interpreter to inspect, as an absolute path (or python3's path on PATH)."""
    if given:
        return _resolve_given(given)
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        prefix = env.get(variable)
        if not prefix:
            continue
        python = interpreter_in(Path(prefix))
        if python is None:
            raise BadInput(f"{variable} is {prefix}, which has no bin/python (was the environment removed?): "
                           f"deactivate it, or pass --python PATH")
        return str(python)
    return shutil.which("python3") or sys.executable


def interpreter_in(folder: Path) -> Path | None:
    """A venv's or conda env's interpreter (bin/python), if the folder holds one."""
    for relative in INTERPRETERS:
        candidate = folder / relative
        if candidate.exists():
            return candidate
    return None


def _resolve_given(given: str) -> str:
    separated = os.sep in given or (os.altsep is not None and os.altsep in given)
    if not separated and not Path(given).is_dir():
        return given  # a command name (`python3.12`): looked up on PATH when it runs
    path = Path(given).expanduser().absolute()
    if path.is_dir():
        python = interpreter_in(path)
        if python is None:
            raise TargetPythonError(given, "is a folder with no bin/python in it; give a venv or conda env folder, "
                                           "or the interpreter itself")
        return str(python)
    return str(_into_environment(path))


def _into_environment(path: Path) -> Path:
    """Follow `path`'s symlinks one at a time until the path lies in an environment; else leave it as given."""
    current = path
    for _ in range(MAX_LINKS):
        if environment_root(current) is not None or not current.is_symlink():
            break
        current = Path(os.path.normpath(current.parent / os.readlink(current)))
    return current if environment_root(current) is not None else path


def environment_root(python: Path) -> Path | None:
    """The venv or conda env `python` belongs to: the folder above bin/ holding pyvenv.cfg or conda-meta/."""
    for folder in (python.parent, python.parent.parent):
        if (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir():
            return folder
    return None


# -- what kind of environment the target runs in --


class EnvKind(str, enum.Enum):
    VENV = "venv"
    UV_VENV = "uv venv"
    VIRTUALENV = "virtualenv"
    CONDA = "conda env"
    SYSTEM = "no virtual environment"


@dataclass(frozen=True)
class Environment:
    prefix: str
    kind: EnvKind
    name: str | None = None  # a conda env's name (`base`, or its folder under envs/)
    system_site_packages: bool = False

    def label(self) -> str:
        """`venv`, `uv venv, system site-packages`, `conda env train`."""
        words = self.kind.value + (f" {self.name}" if self.name else "")
        return words + (", system site-packages" if self.system_site_packages else "")

    def to_json(self) -> dict:
        return {"prefix": self.prefix, "kind": self.kind.value, "name": self.name,
                "system_site_packages": self.system_site_packages}

    @classmethod
    def from_json(cls, data: Any) -> "Environment | None":
        if not isinstance(data, dict) or not isinstance(data.get("prefix"), str):
            return None
        try:
            kind = EnvKind(data.get("kind"))
        except ValueError:
            return None
        name = data.get("name") if isinstance(data.get("name"), str) else None
        return cls(data["prefix"], kind, name, data.get("system_site_packages") is True)


def environment_at(prefix: str, base_prefix: str) -> Environment:
    """The environment at `prefix`, read from its files (pyvenv.cfg, conda-meta/, condabin/)."""
    folder = Path(prefix)
    try:
        cfg: str | None = (folder / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        cfg = None
    return describe_environment(prefix, base_prefix, cfg, (folder / "conda-meta").is_dir(),
                                (folder / "condabin").is_dir())


def parse_pyvenv_cfg(text: str) -> dict[str, str]:
    """pyvenv.cfg's `key = value` lines, keys lowercased (venv, virtualenv and uv all write this format)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def describe_environment(prefix: str, base_prefix: str, pyvenv_cfg: str | None, conda: bool,
                         conda_root: bool = False) -> Environment:
    """`conda`: prefix/conda-meta exists; `conda_root`: prefix/condabin exists (conda's base env has it)."""
    if conda:
        parent = Path(prefix).parent
        name = Path(prefix).name if parent.name == "envs" else ("base" if conda_root else None)
        return Environment(prefix, EnvKind.CONDA, name)
    if pyvenv_cfg is None:
        return Environment(prefix, EnvKind.SYSTEM if prefix == base_prefix else EnvKind.VENV)
    cfg = parse_pyvenv_cfg(pyvenv_cfg)
    kind = EnvKind.UV_VENV if "uv" in cfg else EnvKind.VIRTUALENV if "virtualenv" in cfg else EnvKind.VENV
    return Environment(prefix, kind, system_site_packages=cfg.get("include-system-site-packages", "").lower() == "true")


def display_path(path: str, cwd: Path, home: Path | None) -> str:
    """`path` as a person would type it here: relative below the current folder, `~/...` below home."""
    target = Path(path)
    for base, shown in ((cwd, None), (home, "~")):
        if base is None:
            continue
        try:
            rest = target.relative_to(base)
        except ValueError:
            continue
        if shown is None:
            return str(rest) if str(rest) != "." else "."
        return f"~/{rest}" if str(rest) != "." else "~"
    return path
