"""The target Python: the interpreter a user trains with, inspected from outside.

aidoctor runs in an environment of its own (pipx, uv tool) and inspects another
interpreter given by path. It runs that interpreter once, `python -c SCRIPT`,
under a hard timeout. SCRIPT needs only the standard library of Python >= 3.8
and prints one JSON object: the Python version and build (free-threaded or not),
its C library (glibc and its version, or musl and its version as pip reads it:
the interpreter's PT_INTERP loader, run bare), whether the process runs
under Rosetta 2, every installed distribution with its Requires-Dist, and how
torch was built. It never imports torch (1.8-3 s, and it can initialise CUDA):
torch/version.py is read as text, and the CUDA arch list is the string that
`torch.cuda.get_arch_list()` returns, read from the library it is compiled into
(`scan_arch_list` in target_script.py).

When the target cannot be inspected at all, every fact this probe owns is
missing in the state BAD_TARGET and `unknown["python"]` begins with one of
these prefixes, so the CLI can turn the probe's own result into a one-line
usage error (`interpreter_error`) instead of running the interpreter a second time:

- "does not exist"            the path, or the command on PATH, is not there
- "not a Python interpreter"  it cannot be executed, exits with an error, or prints no report
- "unsupported Python"        Python older than 3.8: "unsupported Python 2.7.18; aidoctor inspects Python >= 3.8"

Other reasons ("the target Python did not answer within 5 s", a failure of the
script itself) leave the facts unknown (or timed out) without being a usage error. Reasons
never contain the interpreter's path: paths can hold user names, so
sys.executable goes into `identifiers` only.
"""

from __future__ import annotations

import os
from importlib import resources
from typing import Any, Mapping, Protocol

from ..core.facts import FactState, TorchBuild, canonical_name
from ..core.jsonio import last_json_object
from ..core.system import CommandResult, System
from .base import Partial
from .target import choose_target, describe_environment

# The facts this probe owns; probes.OWNED["python"] lists the same.
FACTS = ("python", "python_build", "python_translated", "glibc", "libc", "musl", "packages", "requires",
         "torch_build")

DOES_NOT_EXIST = "does not exist"
NOT_PYTHON = "not a Python interpreter"
UNSUPPORTED = "unsupported Python"

VERSION_ONLY = "--version-only"

# The script run inside the target interpreter (target_script.py: stdlib only, Python >= 3.8), as text.
SOURCE = resources.files(__package__).joinpath("target_script.py").read_text(encoding="ascii")

# Python 2 and 3.0-3.7 cannot compile SOURCE; this guard compiles everywhere, so
# an old interpreter still says what it is. With VERSION_ONLY it stops there. Otherwise the
# first argument is target_script's mode: `report` here, `env-state` for install/envstate.py.
SCRIPT = (
    "import json, sys\n"
    f"if sys.version_info < (3, 8) or sys.argv[1:] == [{VERSION_ONLY!r}]:\n"
    "    print(json.dumps({'python': '.'.join(map(str, sys.version_info[:3])),"
    " 'too_old': sys.version_info < (3, 8)}))\n"
    "    sys.exit(0)\n"
    f"exec(compile({SOURCE!r}, '<aidoctor>', 'exec'))\n"
)


def target_python(given: str | None, env: Mapping[str, str] | None = None) -> str:
    """The interpreter to inspect: the one given, else the active virtual environment's (venv or conda), else
    python3 on PATH; how each is read (a folder, a relative path, a link, a removed venv) is target.choose_target."""
    return choose_target(given, os.environ if env is None else env)


def probe(system: System, timeout: float, *, python: str) -> Partial:
    """Every installed distribution and its Requires-Dist: no tool list, so the probe can start before the
    tool registry is loaded (the caller keeps the requirements it needs)."""
    result = system.run([python, "-c", SCRIPT, "report"], timeout)
    failure = _run_failure(result, timeout)
    return _all_unknown(*failure) if failure else parse_target_report(result.stdout)


def check_interpreter(system: System, python: str, timeout: float) -> str | None:
    """Why `python` cannot be inspected at all (one line, see the prefixes above), or None.

    Cheap: the target only prints its version. A timeout is not an error here;
    `probe` reports it as unknown facts.
    """
    result = system.run([python, "-c", SCRIPT, VERSION_ONLY], timeout)
    failure = _run_failure(result, timeout)
    return interpreter_error(_all_unknown(*failure) if failure else parse_target_report(result.stdout))


class _Found(Protocol):
    """A probe's Partial or a Machine: both say why a fact is missing and in which state."""

    unknown: Any
    states: Any


def interpreter_error(found: _Found) -> str | None:
    """The usage error a probe (or a Machine) recorded, if the target is no usable Python."""
    if found.states.get("python") is FactState.BAD_TARGET:
        return found.unknown["python"]
    return None


def parse_target_report(text: str) -> Partial:
    """Facts from what SCRIPT printed (its last JSON line: a .pth or sitecustomize may print first)."""
    data = last_json_object(text)
    if data is None:
        return _all_unknown(f"{NOT_PYTHON} (it printed no report)", FactState.BAD_TARGET)
    python = _text(data.get("python"))
    if data.get("too_old"):
        return _all_unknown(f"{UNSUPPORTED} {python}; aidoctor inspects Python >= 3.8", FactState.BAD_TARGET)
    errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
    part = Partial()
    facts = part.facts
    facts["python"] = python
    if isinstance(data.get("translated"), bool):
        facts["python_translated"] = data["translated"]
    facts["glibc"] = _text(data.get("glibc"))
    facts["libc"] = _choice(data.get("libc"), ("glibc", "musl"))
    facts["musl"] = _text(data.get("musl")) if facts["libc"] == "musl" else None
    facts["python_build"] = _choice(data.get("python_build"), ("default", "freethreaded"))
    if isinstance(data.get("packages"), dict):
        facts["packages"] = {canonical_name(k): v for k, v in data["packages"].items() if isinstance(v, str)}
    if isinstance(data.get("requires"), dict):
        facts["requires"] = {canonical_name(k): tuple(r for r in v if isinstance(r, str))
                             for k, v in data["requires"].items() if isinstance(v, list)}
    torch = data.get("torch")
    if isinstance(torch, dict):
        facts["torch_build"] = _torch_build(torch)
    for key in ("python", "python_build", "python_translated", "packages", "requires"):
        if facts.get(key) is None:
            part.unknown[key] = _error_reason(errors.get("packages" if key == "requires" else key))
    # No glibc (macOS, musl), no libc on macOS and no torch are answers; only a failure to read them is unknown.
    for key in ("glibc", "torch_build", "libc"):
        if key in errors:
            part.unknown[key] = _error_reason(errors[key])
    if facts["libc"] == "musl" and facts["musl"] is None:
        part.unknown["musl"] = "the musl loader did not print its version"
    elif "libc" in errors:
        part.unknown["musl"] = part.unknown["libc"]
    elif facts["libc"] is None and data.get("platform") == "linux" and "libc" in data:
        # pip then offers this interpreter neither manylinux nor musllinux wheels
        part.unknown["libc"] = ("the target Python reports no glibc and names no musl loader (a statically "
                                "linked interpreter?)")
    target = {key: data[key] for key in ("executable", "implementation", "virtualenv", "machine", "platform")
              if key in data}
    if isinstance(data.get("path"), list):
        target["sys_path"] = [entry for entry in data["path"] if isinstance(entry, str)]
    if isinstance(torch, dict) and _text(torch.get("git_version")):
        target["torch_git_version"] = torch["git_version"]
    part.identifiers["target_python"] = target
    if isinstance(data.get("prefix"), str) and isinstance(data.get("base_prefix"), str):
        cfg = data.get("pyvenv_cfg")
        part.identifiers["environment"] = describe_environment(
            data["prefix"], data["base_prefix"], cfg if isinstance(cfg, str) else None, data.get("conda") is True,
            data.get("conda_root") is True).to_json()
    return part


def _torch_build(torch: dict[str, Any]) -> TorchBuild:
    cuda = _text(torch.get("cuda"))
    arch = torch.get("arch_list")
    if isinstance(arch, list):
        arch_list: tuple[str, ...] | None = tuple(a for a in arch if isinstance(a, str))
    elif cuda is None and _text(torch.get("hip")) is None:
        arch_list = ()  # a CPU build: torch.cuda.get_arch_list() is []
    else:
        arch_list = None  # a ROCm build (gfx targets, not read), or a CUDA build whose string was not found
    return TorchBuild(version=_text(torch.get("version")), cuda=cuda, arch_list=arch_list)


def _run_failure(result: CommandResult, timeout: float) -> tuple[str, FactState] | None:
    """Why the run gave no report, and the state that leaves the facts in; None when it exited 0."""
    if result.timed_out:
        return f"the target Python did not answer within {timeout:g} s", FactState.TIMED_OUT
    if result.error:
        if result.not_found:
            return DOES_NOT_EXIST, FactState.BAD_TARGET
        # "Permission denied"
        return f"{NOT_PYTHON} ({result.error.removeprefix(f'{result.argv[0]}: ')})", FactState.BAD_TARGET
    if result.returncode == 0:
        return None
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        # Python ran, and aidoctor's script failed in it: a bug to report, not the user's mistake.
        return f"the inspection script failed in the target Python: {lines[-1][:200]}", FactState.UNKNOWN
    fatal = next((line for line in lines if line.startswith("Fatal Python error")), lines[0] if lines else "")
    return (f"{NOT_PYTHON} (exited with {result.returncode}{': ' + fatal[:200] if fatal else ''})",
            FactState.BAD_TARGET)


def _all_unknown(reason: str, state: FactState) -> Partial:
    return Partial().lack(FACTS, reason, state)


def _error_reason(error: Any) -> str:
    if isinstance(error, str):
        return f"the target Python could not tell: {error}"
    return "the target Python did not report it"


def _choice(value: Any, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
