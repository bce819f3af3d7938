"""pip's own answer: which file `pip install NAME` takes on a machine we do not have.

    PIP_CONFIG_FILE=/dev/null python tests/pip_oracle.py TARGETS.json NAME... > picks.json

TARGETS.json is a list of facts objects with a "name" (os, arch, glibc or libc/musl, macos, python,
python_build). For each target this runs pip's PackageFinder (sdists allowed, as a plain `pip install`) with
pip's vendored packaging made to see that machine: platform.system(), sysconfig.get_platform(),
platform.mac_ver(), the glibc and musl versions. pip then derives the target's tags itself, exactly as
`packaging.tags.sys_tags()` does there. `pip --platform` cannot do this: it takes the given tags literally,
with no manylinux ladder and no priority among them. Each project page is fetched once for all targets.

Prints {"pip": VERSION, "picks": {target: {name: filename or null}}}.
"""

from __future__ import annotations

import functools
import json
import sys
import types

from pip import __version__ as pip_version
from pip._internal.index.collector import LinkCollector
from pip._internal.index.package_finder import PackageFinder
from pip._internal.models.search_scope import SearchScope
from pip._internal.models.selection_prefs import SelectionPreferences
from pip._internal.models.target_python import TargetPython
from pip._internal.network.session import PipSession
from pip._vendor.packaging import _manylinux, _musllinux, tags

INDEX_URL = "https://pypi.org/simple"
REAL_PLATFORM = tags.platform


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


def pretend(target: dict) -> None:
    """Make pip's packaging see the target machine."""
    system = {"linux": "Linux", "darwin": "Darwin", "windows": "Windows"}[target["os"]]
    arch = target["arch"]
    if target["os"] == "darwin":
        machine = "x86_64" if target.get("python_translated") or arch == "x86_64" else "arm64"
        platform_name = f"macosx-{target['macos']}-{machine}"
    elif target["os"] == "windows":
        machine = "ARM64" if arch == "aarch64" else "AMD64"
        platform_name = "win-arm64" if arch == "aarch64" else "win-amd64"
    else:
        machine, platform_name = arch, f"linux-{arch}"
    tags.platform = types.SimpleNamespace(
        system=lambda: system, machine=lambda: machine,
        mac_ver=lambda: (target.get("macos", ""), ("", "", ""), machine),
        python_implementation=REAL_PLATFORM.python_implementation, python_version=REAL_PLATFORM.python_version)
    tags.sysconfig = types.SimpleNamespace(get_platform=lambda: platform_name,
                                           get_config_var=lambda name: None)
    tags._32_BIT_INTERPRETER = False
    musl = target.get("libc") == "musl"
    glibc = (-1, -1) if musl else _version(target["glibc"])[:2] if target.get("glibc") else (-1, -1)
    _manylinux._get_glibc_version = lambda: _manylinux._GLibCVersion(*glibc)
    _manylinux._have_compatible_abi = lambda executable, archs: True
    musl_version = _version(target["musl"])[:2] if musl else None
    _musllinux._get_musl_version = lambda executable: (_musllinux._MuslVersion(*musl_version) if musl_version
                                                       else None)


def main() -> None:
    targets = json.loads(open(sys.argv[1]).read())
    names = sys.argv[2:]
    session = PipSession(retries=2)
    collector = LinkCollector(session=session, search_scope=SearchScope.create([], [INDEX_URL], False))
    # One fetch per project page, whichever target asks.
    collector.fetch_response = functools.lru_cache(maxsize=None)(collector.fetch_response)
    picks: dict[str, dict[str, str | None]] = {}
    for target in targets:
        pretend(target)
        python = _version(target["python"])
        abi = f"cp{python[0]}{python[1]}" + ("t" if target.get("python_build") == "freethreaded" else "")
        target_python = TargetPython(py_version_info=python, abis=[abi], implementation="cp")
        finder = PackageFinder.create(collector, SelectionPreferences(allow_yanked=True), target_python)
        picks[target["name"]] = {}
        for name in names:
            found = finder.find_best_candidate(name).best_candidate
            picks[target["name"]][name] = None if found is None else found.link.filename
    json.dump({"pip": pip_version, "picks": picks}, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
