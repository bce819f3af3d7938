"""The script aidoctor runs inside the target Python, in one of two modes (its first argument).

    report                    the Python version and build, the C library (glibc or musl and its version),
                              Rosetta 2, every installed distribution with its Requires-Dist, and how
                              torch was built (probes/pyenv.py)
    env-state NAMES PREFIXES  every .dist-info with its RECORD digest, Requires-Dist and, for the comma-separated
                              protected NAMES and name PREFIXES, a fingerprint of every file it owns
                              (install/envstate.py: what an install changes, and what a rollback restores)

It prints one JSON object. It runs inside the target interpreter, so: standard
library only, Python >= 3.8 syntax, ASCII only (tests check all three), and
nothing imported that is not needed (the whole `aidoctor check` aims at 250 ms).
It never imports torch (1.8-3 s, and it can initialise CUDA): torch/version.py
is read as text, and the CUDA arch list is the string that
`torch.cuda.get_arch_list()` returns, read from the library it is compiled into.
aidoctor's host side imports it too, for `record` and for tests of its parts.
"""

import json
import os
import re
import sys

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


def elf_interpreter(image):
    """The program interpreter (PT_INTERP) an ELF executable names, e.g. "/lib/ld-musl-aarch64.so.1".

    None for a static or non-ELF file. This is where pip (packaging's _musllinux)
    looks to decide that a Python is linked against musl.
    """
    import struct
    if image[:4] != b"\x7fELF":
        return None
    order = "<" if image[5] == 1 else ">"
    if image[4] == 2:
        phoff = struct.unpack_from(order + "Q", image, 0x20)[0]
        phentsize, phnum = struct.unpack_from(order + "HH", image, 0x36)
        layout, fields = order + "IIQ", (0, 2)  # p_type, p_flags, p_offset
        size_at = 0x20  # p_filesz
    else:
        phoff = struct.unpack_from(order + "I", image, 0x1C)[0]
        phentsize, phnum = struct.unpack_from(order + "HH", image, 0x2A)
        layout, fields = order + "II", (0, 1)  # p_type, p_offset
        size_at = 0x10
    for i in range(phnum):
        header = phoff + i * phentsize
        values = struct.unpack_from(layout, image, header)
        if values[fields[0]] == 3:  # PT_INTERP
            offset = values[fields[1]]
            size = struct.unpack_from(order + ("Q" if image[4] == 2 else "I"), image, header + size_at)[0]
            return image[offset:offset + size].split(b"\x00")[0].decode("ascii", "replace")
    return None


MUSL_VERSION = re.compile(r"^Version (\d+\.\d+[^\s]*)", re.M)


def parse_musl_loader(text):
    """musl's version from what its loader prints when run bare ("musl libc (x86_64)\\nVersion 1.2.5\\n...")."""
    if not text.startswith("musl libc"):
        return None
    match = MUSL_VERSION.search(text)
    return match.group(1) if match else None


def musl_version(executable):
    """musl's version if `executable` is linked against musl, else None: asked of its loader, as pip does.

    Only read where glibc did not answer; the loader is run with a timeout and no input.
    """
    import mmap
    with open(executable, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as image:
        loader = elf_interpreter(image)
    if not loader or "musl" not in os.path.basename(loader):
        return None
    import subprocess
    result = subprocess.run([loader], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, timeout=2)
    return parse_musl_loader(result.stderr.decode("ascii", "replace"))


def libc(glibc_version):
    """("glibc" or "musl" or None, musl's version or None) of this process on Linux; (None, None) elsewhere."""
    if not sys.platform.startswith("linux"):
        return None, None
    if glibc_version:
        return "glibc", None
    musl = musl_version(os.path.realpath(sys.executable))
    return ("musl", musl) if musl else (None, None)


def python_build():
    """"freethreaded" for a free-threaded CPython (3.13t and later), whose wheels are cp313t; else "default"."""
    if sys.version_info < (3, 13):
        return "default"  # no free-threaded builds before 3.13; sysconfig costs milliseconds to import
    import sysconfig
    return "freethreaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "default"


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


def metadata_files(with_eggs):
    """(folder, its METADATA or PKG-INFO) of each installed distribution, in sys.path order.

    A plain directory walk: importing importlib.metadata alone costs about 19 ms,
    most of this probe's budget. Zipped eggs are skipped; `with_eggs` False keeps
    only .dist-info folders, the ones that have a RECORD to back up from.
    """
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            path = os.path.join(entry, name)
            if name.endswith(".dist-info"):
                yield path, os.path.join(path, "METADATA")
            elif with_eggs and name.endswith(".egg-info"):
                yield path, os.path.join(path, "PKG-INFO") if os.path.isdir(path) else path


def read(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def distributions(with_eggs=True):
    """canonical name -> (name, version, Requires-Dist, folder); the first on sys.path wins, as for import."""
    found = {}
    for folder, path in metadata_files(with_eggs):
        try:
            text = read(path)
        except OSError:
            continue
        if not text:
            continue
        name, version, requires = headers(text)
        if name and version and canonical(name) not in found:
            found[canonical(name)] = (name, version, requires, folder)
    return found


def record(dist_info):
    """(sha256 of the RECORD, the absolute path of every file it lists); (None, []) without a RECORD.

    RECORD is CSV: a path that holds a comma is quoted, so it is read with csv, not split on commas.
    """
    import csv
    import hashlib
    try:
        with open(os.path.join(dist_info, "RECORD"), encoding="utf-8", newline="") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None, []
    site = os.path.dirname(dist_info)
    paths = [os.path.normpath(os.path.join(site, row[0])) for row in csv.reader(lines) if row and row[0]]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest(), paths


def fingerprint(paths):
    """The size and mtime of every file: a reinstall of the same version rewrites them and changes this."""
    import hashlib
    digest = hashlib.sha256()
    for path in sorted(paths):
        try:
            st = os.stat(path)
            digest.update(("%s %d %d\n" % (path, st.st_size, st.st_mtime_ns)).encode())
        except OSError:
            digest.update(("%s missing\n" % path).encode())
    return digest.hexdigest()


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


def pyvenv_cfg():
    """The venv's pyvenv.cfg (venv, virtualenv and uv write one at sys.prefix), or None."""
    try:
        with open(os.path.join(sys.prefix, "pyvenv.cfg"), encoding="utf-8", errors="replace") as handle:
            return handle.read(4096)
    except OSError:
        return None


def report():
    found = attempt("packages", distributions)
    glibc_version = attempt("glibc", glibc)
    libc_name, musl = attempt("libc", lambda: libc(glibc_version)) or (None, None)
    return {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "virtualenv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "conda": os.path.isdir(os.path.join(sys.prefix, "conda-meta")),
        "conda_root": os.path.isdir(os.path.join(sys.prefix, "condabin")),
        "pyvenv_cfg": attempt("environment", pyvenv_cfg),
        "machine": os.uname().machine if hasattr(os, "uname") else None,
        "platform": sys.platform,
        "path": [entry for entry in sys.path if entry],  # where the binary audit finds each RECORD
        "python_build": attempt("python_build", python_build),
        "glibc": glibc_version,
        "libc": libc_name,
        "musl": musl,
        "translated": attempt("python_translated", translated),
        "packages": None if found is None else {key: d[1] for key, d in found.items()},
        "requires": None if found is None else {key: d[2] for key, d in found.items()},
        "torch": attempt("torch_build", torch_build),
        "errors": ERRORS,
    }


def inside(path, prefix):
    """Whether `path` lies in the environment at `prefix`: pip installs and uninstalls only there."""
    prefix = os.path.join(os.path.realpath(prefix), "")
    return os.path.realpath(path).startswith(prefix)


def installer(dist_info, conda_records):
    """Who installed a distribution: conda when a conda-meta record lists its files, else its INSTALLER file.

    conda-meta/<name>-<version>-<build>.json lists every file of a conda package, relative to the prefix
    (conda's PrefixRecord); conda-build also writes "conda" into INSTALLER (conda/conda-build@f914e7b).
    """
    relative = os.path.relpath(dist_info, sys.prefix).replace(os.sep, "/") + "/"
    needle = json.dumps(relative)[1:-1]
    if any(needle in text for text in conda_records):
        return "conda"
    try:
        return read(os.path.join(dist_info, "INSTALLER")).strip() or None
    except OSError:
        return None


def conda_records():
    """The text of every conda-meta record in this environment (none outside conda)."""
    folder = os.path.join(sys.prefix, "conda-meta")
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except OSError:
        return []
    texts = []
    for name in names:
        try:
            texts.append(read(os.path.join(folder, name)))
        except OSError:
            continue
    return texts


def env_state(protected, prefixes):
    import sysconfig
    dists = {}
    records = None
    for key, (name, version, requires, dist_info) in distributions(with_eggs=False).items():
        record_sha, files = record(dist_info)
        info = {"name": name, "version": version, "dist_info": dist_info, "record_sha256": record_sha,
                "requires": requires, "in_env": inside(dist_info, sys.prefix)}
        if key in protected or key.startswith(prefixes):
            info["fingerprint"] = fingerprint(files)
            records = conda_records() if records is None else records
            info["installer"] = installer(dist_info, records)
        dists[key] = info
    purelib = sysconfig.get_paths()["purelib"]
    return {
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "conda": os.path.isdir(os.path.join(sys.prefix, "conda-meta")),
        "purelib": purelib,
        "writable": os.access(purelib, os.W_OK),
        "python_tag": "cp%d%d" % sys.version_info[:2],
        "dists": dists,
    }


def main(argv):
    # `python -c` puts the current directory first on sys.path; the user's training
    # script would not see a torch/ or *.egg-info in aidoctor's working directory.
    if sys.path and sys.path[0] == "":
        del sys.path[0]
    mode, args = (argv[0], argv[1:]) if argv else ("", [])
    if mode == "report":
        print(json.dumps(report()))
    elif mode == "env-state":
        names, prefixes = args
        print(json.dumps(env_state(set(names.split(",")) - {""}, tuple(p for p in prefixes.split(",") if p))))
    else:
        sys.exit("aidoctor's target script: unknown mode %r (report or env-state)" % mode)


if __name__ == "__main__":
    main(sys.argv[1:])
