"""Benchmark: a reinstall from the wheelhouse against the first install of the same tool.

For each tool, in fresh copies of one venv holding the CPU torch wheel:
the first `aidoctor install` (the source build or the download) into an
empty wheelhouse, then the same install into another fresh copy served from
the wheelhouse with the package index unreachable. Both runs include the
same probes, pip resolution and install; only getting the wheels differs.
The smoke test, the same in both, is left out (--no-smoke) so it does not
hide the difference. The build phase is also timed alone, from the wheel's
provenance.

    python benchmarks/bench_install.py [--tools deepspeed peft] [--json]

The README quotes its figures; the target is a wheelhouse hit at least 10x
faster than the source build it replaces.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CPU_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
NO_NETWORK = {"PIP_CONFIG_FILE": "/dev/null", "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
              "AIDOCTOR_INDEX_URL": "http://127.0.0.1:9/pypi"}


def aidoctor_command() -> Path:
    return Path(sys.executable).parent / "aidoctor"


def timed_install(tool: str, python: Path, wheelhouse: Path, cache: Path, extra_env: dict) -> float:
    env = {**os.environ, "AIDOCTOR_CACHE_DIR": str(cache), **extra_env}
    env.pop("VIRTUAL_ENV", None)
    started = time.perf_counter()
    result = subprocess.run([str(aidoctor_command()), "install", tool, "--python", str(python),
                             "--wheelhouse", str(wheelhouse), "--no-smoke"], capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"aidoctor install {tool} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def fresh_copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest / "bin" / "python"


def build_seconds(wheelhouse: Path, tool: str) -> float | None:
    for sidecar in wheelhouse.glob(f"{tool.replace('-', '_')}-*.provenance.json"):
        seconds = json.loads(sidecar.read_text()).get("build_seconds")
        if seconds is not None:
            return float(seconds)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools", nargs="+", default=["deepspeed", "peft"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not CPU_WHEEL.exists():
        sys.exit(f"needs {CPU_WHEEL}")
    work = Path(tempfile.mkdtemp(prefix="aidoctor-bench-"))
    template = work / "template"
    subprocess.run([sys.executable, "-m", "venv", str(template)], check=True)
    subprocess.run([str(template / "bin" / "python"), "-m", "pip", "install", "-q", str(CPU_WHEEL)], check=True)
    rows = []
    for tool in args.tools:
        wheelhouse, cache = work / f"wh-{tool}", work / f"cache-{tool}"
        first = timed_install(tool, fresh_copy(template, work / f"{tool}-first"), wheelhouse, cache, {})
        again = timed_install(tool, fresh_copy(template, work / f"{tool}-again"), wheelhouse, cache, NO_NETWORK)
        rows.append({"tool": tool, "first_s": round(first, 1), "wheelhouse_s": round(again, 1),
                     "ratio": round(first / again, 1), "build_s": build_seconds(wheelhouse, tool)})
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'tool':<12} {'first install':>14} {'from wheelhouse':>16} {'ratio':>6} {'build alone':>12}")
    for row in rows:
        build = f"{row['build_s']:.1f} s" if row["build_s"] is not None else "-"
        print(f"{row['tool']:<12} {row['first_s']:>12.1f} s {row['wheelhouse_s']:>14.1f} s {row['ratio']:>5.1f}x "
              f"{build:>12}")


if __name__ == "__main__":
    main()
