"""The tests' torch, got the way a user gets it: pip, with this machine's own pip configuration, for this Python.

pip is asked what it would install for `torch` on the running interpreter, first from what this machine already
holds (`--no-index`: its find-links), then from its indexes; a CUDA build from the index runs on a CPU too, so
whatever pip picks will do. That wheel is installed once, with its requirements, into a template venv kept in a
cache folder keyed by the Python version and the wheel pip picked (so CI pays once per machine); each test that
changes its venv gets a copy (`ProvidedTorch.clone`), a test that only reads may use the template's interpreter.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Seconds: asking pip what it would pick (metadata only), downloading the wheel (hundreds of MB, or a few GB with
# a CUDA build's libraries), installing it with its requirements, and the first `import torch`.
PICK_TIMEOUT = 180
DOWNLOAD_TIMEOUT = 1800
INSTALL_TIMEOUT = 1800
IMPORT_TIMEOUT = 300

# What the template's own torch says about itself: the oracle for tests that check what aidoctor reads.
TRUTH_SCRIPT = ("import json, torch; print(json.dumps({'version': torch.__version__, 'cuda': torch.version.cuda, "
                "'arch_list': torch.cuda.get_arch_list()}))")


class TorchUnavailable(Exception):
    """pip could not get torch for this Python with this machine's configuration; the message says why."""


@dataclass(frozen=True)
class Pick:
    """The distribution pip would install for a requirement: where it comes from and what it is."""

    url: str
    version: str
    sha256: str | None
    requires: tuple[str, ...]

    @property
    def filename(self) -> str:
        return unquote(Path(urlsplit(self.url).path).name)


@dataclass(frozen=True)
class ProvidedTorch:
    """torch installed in a template venv: its wheel, what torch says it is, and copies for tests to change."""

    wheel: Path
    template: Path
    version: str
    cuda: str | None
    arch_list: tuple[str, ...]
    requires: tuple[str, ...]

    @property
    def python(self) -> Path:
        """The template's interpreter, for tests that only read the environment (never install into it)."""
        return self.template / "bin" / "python"

    def clone(self, where: Path) -> Path:
        """A copy of the template at WHERE, its scripts pointing at the copy; returns the copy's python."""
        shutil.copytree(self.template, where, symlinks=True)
        relocate(where, self.template)
        return where / "bin" / "python"


def cache_root() -> Path:
    """Where templates are kept between sessions: AIDOCTOR_TEST_CACHE, else the user's cache folder."""
    if explicit := os.environ.get("AIDOCTOR_TEST_CACHE"):
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aidoctor-tests"


def pick(requirement: str, python: str = sys.executable, env: Mapping[str, str] | None = None) -> Pick:
    """What pip would install for REQUIREMENT in PYTHON: from find-links alone if they have it, else the indexes."""
    failures = []
    for sources in (["--no-index"], []):
        argv = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet",
                "--report", "-", *sources, requirement]
        result = _run(argv, PICK_TIMEOUT, env)
        if result.returncode == 0:
            return parse_report(result.stdout)
        failures.append(_last_line(result.stderr) or f"pip exited {result.returncode}")
    raise TorchUnavailable(f"pip cannot get {requirement} for Python {_version_of(python, env)}: "
                           f"not in this machine's find-links ({failures[0]}), nor on its indexes ({failures[1]})")


def parse_report(text: str) -> Pick:
    """The one distribution of a `pip install --dry-run --no-deps --report -` answer."""
    (item,) = json.loads(text)["install"]
    info, metadata = item["download_info"], item["metadata"]
    hashes = info.get("archive_info", {}).get("hashes", {})
    return Pick(url=info["url"], version=metadata["version"], sha256=hashes.get("sha256"),
                requires=tuple(metadata.get("requires_dist", ())))


def provide_torch(root: Path | None = None, python: str = sys.executable,
                  env: Mapping[str, str] | None = None) -> ProvidedTorch:
    """torch for PYTHON, from the cache when pip would pick the same wheel again, else installed now."""
    chosen = pick("torch", python, env)
    if not chosen.filename.endswith(".whl"):
        raise TorchUnavailable(f"pip would build torch from {chosen.filename}: the tests need a wheel")
    folder = (root or cache_root()) / f"py{_version_of(python, env)}-{chosen.filename.removesuffix('.whl')}"
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / ".lock"):  # another session (or engineer) may be building the same template
        truth_file = folder / "torch.json"
        if not truth_file.exists():
            _build(folder, chosen, python, env)
        truth = json.loads(truth_file.read_text())
    return ProvidedTorch(wheel=folder / chosen.filename, template=folder / "venv", version=truth["version"],
                         cuda=truth["cuda"], arch_list=tuple(truth["arch_list"]), requires=chosen.requires)


def _build(folder: Path, chosen: Pick, python: str, env: Mapping[str, str] | None) -> None:
    """Download the wheel, install it into a fresh template venv, and record what torch says it is (last)."""
    wheel, template = folder / chosen.filename, folder / "venv"
    if not wheel.exists():
        _check(_run([python, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(folder), chosen.url],
                    DOWNLOAD_TIMEOUT, env), f"downloading {chosen.url}")
    shutil.rmtree(template, ignore_errors=True)  # a template left half-built by an interrupted session
    _check(_run([python, "-m", "venv", str(template)], INSTALL_TIMEOUT, env), "creating the template venv")
    template_python = str(template / "bin" / "python")
    _check(_run([template_python, "-m", "pip", "install", "--quiet", str(wheel)], INSTALL_TIMEOUT, env),
           f"installing {wheel.name} with its requirements")
    result = _check(_run([template_python, "-c", TRUTH_SCRIPT], IMPORT_TIMEOUT, env), "importing torch")
    (folder / "torch.json").write_text(result.stdout)


def relocate(copy: Path, original: Path) -> None:
    """Point a copied venv's scripts and pyvenv.cfg at the copy: their shebangs name the original's python."""
    old, new = str(original).encode(), str(copy).encode()
    for path in [copy / "pyvenv.cfg", *(copy / "bin").iterdir()]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if old in data:
            path.write_bytes(data.replace(old, new))


def _run(argv: list[str], timeout: float, env: Mapping[str, str] | None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=None if env is None else dict(env))
    except subprocess.TimeoutExpired:
        raise TorchUnavailable(f"`{' '.join(argv[:4])} ...` did not finish within {timeout} s") from None


def _check(result: subprocess.CompletedProcess, doing: str) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise TorchUnavailable(f"{doing} failed: {_last_line(result.stderr) or f'exit {result.returncode}'}")
    return result


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _version_of(python: str, env: Mapping[str, str] | None) -> str:
    if python == sys.executable:
        return f"{sys.version_info[0]}.{sys.version_info[1]}"
    result = _check(_run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], 30, env),
                    f"asking {python} its version")
    return result.stdout.strip()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
