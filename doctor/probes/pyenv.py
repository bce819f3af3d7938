"""The target Python: the interpreter a user trains with, inspected from outside.

aidoctor runs in an environment of its own (pipx, uv tool) and inspects another
interpreter given by path. It runs that interpreter once, `python -c SCRIPT`,
under a hard timeout. SCRIPT needs only the standard library of Python >= 3.8
and prints one JSON object: the Python version, glibc, whether the process runs
under Rosetta 2, every installed distribution, the Requires-Dist of the
training tools and how torch was built. It never imports torch (1.8-3 s, and
it can initialise CUDA): torch/version.py is read as text, and the CUDA arch
list is the string that `torch.cuda.get_arch_list()` returns, read from the
library it is compiled into (`scan_arch_list` in REPORT_SOURCE).

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

import json
from typing import Any, Iterable, Protocol

from ..core.facts import FactState, TorchBuild, canonical_name
from ..core.system import CommandResult, System
from .base import Partial

# The facts this probe owns; probes.OWNED["python"] lists the same.
FACTS = ("python", "python_translated", "glibc", "packages", "requires", "torch_build")

DOES_NOT_EXIST = "does not exist"
NOT_PYTHON = "not a Python interpreter"
UNSUPPORTED = "unsupported Python"

VERSION_ONLY = "--version-only"

# Runs inside the target interpreter, so: standard library only, Python >= 3.8
# syntax, ASCII only (tests check all three), and nothing imported that is not
# needed (the whole `aidoctor check` aims at 250 ms). Run as __main__ it prints
# the report; tests exec it under another name to reach its functions.
REPORT_SOURCE = r'''
import json, os, re, sys

TOOLS = set(sys.argv[1:])  # canonical names of the tools whose Requires-Dist the rules read
ERRORS = {}


def attempt(key, fn):
    try:
        return fn()
    except Exception as exc:  # one broken part must not cost the whole report
        ERRORS[key] = "%s: %s" % (type(exc).__name__, exc)
        return None


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def glibc():
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (AttributeError, ValueError, OSError):  # macOS, Windows, musl
        return None
    if text and text.startswith("glibc "):
        return text.split()[1]
    return None


def translated():
    """Whether this process is an x86_64 binary that Rosetta 2 translates (asked per process)."""
    if sys.platform != "darwin":
        return False
    import ctypes
    sysctlbyname = ctypes.CDLL("/usr/lib/libSystem.B.dylib").sysctlbyname
    # Declared, so that newlen goes over as a full size_t on arm64 and x86_64.
    sysctlbyname.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_size_t),
                             ctypes.c_void_p, ctypes.c_size_t]
    value = ctypes.c_int(0)
    size = ctypes.c_size_t(ctypes.sizeof(value))
    if sysctlbyname(b"sysctl.proc_translated", ctypes.byref(value), ctypes.byref(size), None, 0) != 0:
        return False  # ENOENT: an Intel Mac, where nothing is translated
    return value.value == 1


HEADER_END = re.compile(r"\r?\n\r?\n")


def headers(text):
    """Name, Version and Requires-Dist from METADATA or PKG-INFO.

    Only the header block is read: `dist.metadata` runs email.parser over the
    whole file, description included, about 0.7 ms a distribution here.
    """
    end = HEADER_END.search(text)
    fields = {}
    requires = []
    for line in text[:end.start() if end else len(text)].splitlines():
        key, sep, value = line.partition(":")
        if not sep or line[:1] in (" ", "\t"):  # continuation lines of License and the like
            continue
        key = key.strip().lower()
        if key == "requires-dist":
            requires.append(value.strip())
        elif key in ("name", "version") and key not in fields:
            fields[key] = value.strip()
    return fields.get("name"), fields.get("version"), requires


def metadata_files():
    """Each installed distribution's METADATA (or PKG-INFO), in sys.path order.

    A plain directory walk: importing importlib.metadata alone costs about 19 ms,
    most of this probe's budget. Zipped eggs are skipped.
    """
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            path = os.path.join(entry, name)
            if name.endswith(".dist-info"):
                yield os.path.join(path, "METADATA")
            elif name.endswith(".egg-info"):
                yield os.path.join(path, "PKG-INFO") if os.path.isdir(path) else path


def read(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def distributions():
    packages, requires = {}, {}
    for path in metadata_files():  # the first one found wins, as for pip
        try:
            text = read(path)
        except OSError:
            continue
        if not text:
            continue
        name, version, reqs = headers(text)
        if not name or not version:
            continue
        key = canonical(name)
        if key in packages:
            continue
        packages[key] = version
        if key in TOOLS:
            requires[key] = reqs
    return packages, requires


def assigned(text, name):
    """The string assigned to `name` in torch/version.py ("cuda: Optional[str] = '13.0'"); None for None."""
    match = re.search(r"^%s\b[^=\n]*=\s*(?:'([^'\n]*)'|\"([^\"\n]*)\")" % name, text, re.M)
    return None if match is None else match.group(1) if match.group(1) is not None else match.group(2)


def torch_dir():
    """torch's package folder, found the way `import torch` would find it, without importing it."""
    import importlib.util
    spec = importlib.util.find_spec("torch")  # a top-level spec: nothing is imported
    # No spec, or a namespace left behind by an uninstall (no __init__.py): no torch to import.
    if spec is None or spec.origin in (None, "namespace") or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


# `torch.cuda.get_arch_list()` splits the string `torch._C._cuda_getArchFlags()`
# returns: a space-separated C string literal compiled into libtorch_python,
# e.g. "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120\0" in the 2.15.0 x86_64 wheel,
# in .rodata. The byte before it need not be a NUL (2.9.1 packs it right after
# another literal), so only the NUL after it anchors the match. One pattern per
# first token: a pattern that starts with a literal is searched for with a fast
# substring search, about ten times faster than one that starts with (?:sm|compute).
_ARCH_REST = rb"_\d{2,3}[af]?(?: (?:sm|compute)_\d{2,3}[af]?)*(?=\x00)"
ARCH_STRINGS = (re.compile(rb"sm" + _ARCH_REST), re.compile(rb"compute" + _ARCH_REST))
LIBRARIES = ("libtorch_python.so", "torch_python.dll")  # Linux, Windows: CUDA builds exist for both


def rodata(image):
    """(start, end) of an ELF file's .rodata sections, where string literals live; [] if not ELF."""
    import struct
    if image[:4] != b"\x7fELF":
        return []
    order = "<" if image[5] == 1 else ">"
    if image[4] == 2:
        shoff = struct.unpack_from(order + "Q", image, 0x28)[0]
        layout = order + "IIQQQQ"
    else:
        shoff = struct.unpack_from(order + "I", image, 0x20)[0]
        layout = order + "IIIIII"
    shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", image, 0x3A if image[4] == 2 else 0x2E)
    sections = [struct.unpack_from(layout, image, shoff + i * shentsize) for i in range(shnum)]
    names = sections[shstrndx][4]
    found = []
    for name, _, _, _, offset, size in sections:
        if image[names + name:image.find(b"\x00", names + name)].startswith(b".rodata"):
            found.append((offset, offset + size))
    return found


def longest_arch_string(image, spans):
    best = b""
    for start, end in spans:
        for match in (m for pattern in ARCH_STRINGS for m in pattern.finditer(image, start, end)):
            if len(match.group()) > len(best):
                best = match.group()
    return best


def scan_arch_list(path):
    """The arch list compiled into `path`: .rodata first (about 1 MB), the whole file if not there.

    None when it cannot be read or holds no such string; the rest of the build is still reported.
    """
    import mmap
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as image:
            try:
                spans = rodata(image)
            except (ValueError, IndexError):  # struct.error is a ValueError: a truncated or odd ELF
                spans = []
            best = longest_arch_string(image, spans) or longest_arch_string(image, [(0, len(image))])
    except (OSError, ValueError):  # unreadable, or empty (mmap refuses those)
        return None
    return best.decode("ascii").split() if best else None


def torch_build():
    folder = torch_dir()
    if folder is None:
        return None
    with open(os.path.join(folder, "version.py"), encoding="utf-8") as handle:
        text = handle.read()
    build = {name: assigned(text, name) for name in ("__version__", "cuda", "hip", "git_version")}
    build["version"] = build.pop("__version__")
    build["arch_list"] = None
    if build["cuda"]:
        for name in LIBRARIES:
            path = os.path.join(folder, "lib", name)
            if os.path.isfile(path):
                build["arch_list"] = scan_arch_list(path)
                break
    return build


def main():
    # `python -c` puts the current directory first on sys.path; the user's training
    # script would not see a torch/ or *.egg-info in aidoctor's working directory.
    if sys.path and sys.path[0] == "":
        del sys.path[0]
    report = {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "virtualenv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
        "machine": os.uname().machine if hasattr(os, "uname") else None,
        "platform": sys.platform,
        "glibc": attempt("glibc", glibc),
        "translated": attempt("python_translated", translated),
    }
    found = attempt("packages", distributions)
    report["packages"], report["requires"] = found if found else (None, None)
    report["torch"] = attempt("torch_build", torch_build)
    report["errors"] = ERRORS
    print(json.dumps(report))


if __name__ == "__main__":
    main()
'''

# Python 2 and 3.0-3.7 cannot compile REPORT_SOURCE; this guard compiles everywhere, so
# an old interpreter still says what it is. With VERSION_ONLY it stops there.
SCRIPT = (
    "import json, sys\n"
    f"if sys.version_info < (3, 8) or sys.argv[1:] == [{VERSION_ONLY!r}]:\n"
    "    print(json.dumps({'python': '.'.join(map(str, sys.version_info[:3])),"
    " 'too_old': sys.version_info < (3, 8)}))\n"
    "    sys.exit(0)\n"
    f"exec(compile({REPORT_SOURCE!r}, '<aidoctor>', 'exec'))\n"
)


def probe(system: System, timeout: float, *, python: str, tools: Iterable[str] = ()) -> Partial:
    """`tools`: canonical names of the distributions whose Requires-Dist to report."""
    result = system.run([python, "-c", SCRIPT, *sorted(tools)], timeout)
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
    data = _last_json_object(text)
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
    if isinstance(data.get("packages"), dict):
        facts["packages"] = {canonical_name(k): v for k, v in data["packages"].items() if isinstance(v, str)}
    if isinstance(data.get("requires"), dict):
        facts["requires"] = {canonical_name(k): tuple(r for r in v if isinstance(r, str))
                             for k, v in data["requires"].items() if isinstance(v, list)}
    torch = data.get("torch")
    if isinstance(torch, dict):
        facts["torch_build"] = _torch_build(torch)
    for key in ("python", "python_translated", "packages", "requires"):
        if facts.get(key) is None:
            part.unknown[key] = _error_reason(errors.get("packages" if key == "requires" else key))
    # No glibc (macOS, musl) and no torch are answers; only a failure to read them is unknown.
    for key in ("glibc", "torch_build"):
        if key in errors:
            part.unknown[key] = _error_reason(errors[key])
    target = {key: data[key] for key in ("executable", "implementation", "virtualenv", "machine", "platform")
              if key in data}
    if isinstance(torch, dict) and _text(torch.get("git_version")):
        target["torch_git_version"] = torch["git_version"]
    part.identifiers["target_python"] = target
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


def _last_json_object(text: str) -> dict[str, Any] | None:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def _error_reason(error: Any) -> str:
    if isinstance(error, str):
        return f"the target Python could not tell: {error}"
    return "the target Python did not report it"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
