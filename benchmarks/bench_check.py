"""Time `aidoctor check` against `python -m torch.utils.collect_env` in one virtual environment.

    python benchmarks/bench_check.py [--runs 9] [--venv bench-venv]

Creates (or reuses) a virtual environment with torch and aidoctor installed,
runs each command once to warm caches (the OS page cache, and aidoctor's
package-index cache, so no run waits on the network), then times `--runs`
runs of each and prints the medians and their ratio. The target is
aidoctor's median at most 10% of collect_env's, with all twenty verdicts.

The venv also holds three compiled tools besides torch (bitsandbytes, triton,
torchao), so the check's binary audit reads real shared objects: torch's
libraries with their CUDA fatbins, its nvidia-* dependencies, triton's ptxas.
The audit is on, as by default; warm runs find its answers in the cache
(keyed by path, size and mtime), and one cold run with an empty cache
(AIDOCTOR_CACHE_DIR pointing at a fresh folder, so the index is read from the
warm cache's copy) shows what a first check costs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPILED_TOOLS = ("bitsandbytes", "triton", "torchao")


def sh(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, text=True, capture_output=True, **kwargs)


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        sh(sys.executable, "-m", "venv", str(venv))
    have = sh(str(python), "-m", "pip", "list", "--format=json").stdout
    names = {p["name"].lower() for p in json.loads(have)}
    if "torch" not in names:
        print("installing torch into the benchmark venv (once)...", flush=True)
        sh(str(python), "-m", "pip", "install", "-q", "torch")
    missing = [tool for tool in COMPILED_TOOLS if tool not in names]
    if missing:
        print(f"installing {', '.join(missing)} into the benchmark venv (once)...", flush=True)
        sh(str(python), "-m", "pip", "install", "-q", *missing)
    # Installed as a user installs it (not editable: an editable finder costs imports on every run).
    sh(str(python), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(ROOT))
    sh(str(python), "-m", "pip", "install", "-q", str(ROOT))  # and aidoctor's own pinned dependencies
    return python


def timed(argv: list[str], runs: int, env: dict) -> tuple[list[float], str]:
    subprocess.run(argv, capture_output=True, env=env, timeout=300)  # warm-up
    times, output = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
        times.append(time.perf_counter() - start)
        output = done.stdout
    return times, output


def cold_audit(python: Path, aidoctor: list[str], env: dict) -> float:
    """One check whose audit cache is empty (the package index answers copied over, so only the audit is cold)."""
    warm = Path(sh(str(python), "-c", "from aidoctor.doctor.core.paths import cache_dir as d; print(d())",
                   env=env).stdout.strip())
    with tempfile.TemporaryDirectory() as scratch:
        if (warm / "index").is_dir():
            shutil.copytree(warm / "index", Path(scratch) / "index")
        start = time.perf_counter()
        subprocess.run(aidoctor, capture_output=True, env={**env, "AIDOCTOR_CACHE_DIR": scratch}, timeout=300)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--venv", type=Path, default=ROOT / "bench-venv")
    args = parser.parse_args()
    python = ensure_venv(args.venv)
    env = dict(os.environ, VIRTUAL_ENV=str(args.venv))
    aidoctor = [str(args.venv / "bin" / "aidoctor"), "check", "--python", str(python)]
    collect_env = [str(python), "-m", "torch.utils.collect_env"]

    aid_times, _ = timed(aidoctor, args.runs, env)  # the table, as people run it (piped: no colour)
    json_times, json_out = timed([*aidoctor, "--json"], args.runs, env)
    off_times, _ = timed([*aidoctor, "--audit", "off"], args.runs, env)
    ce_times, _ = timed(collect_env, args.runs, env)
    cold = cold_audit(python, aidoctor, env)
    report = json.loads(json_out)
    verdicts = report["verdicts"]
    audit = report.get("audit") or {"files": []}
    torch_version = sh(str(python), "-c", "import importlib.metadata as m; print(m.version('torch'))").stdout.strip()
    aid, ce = statistics.median(aid_times), statistics.median(ce_times)
    result = {
        "machine": f"{os.uname().machine}, {os.cpu_count()} cores",
        "python": sh(str(python), "-c", "import platform; print(platform.python_version())").stdout.strip(),
        "torch": torch_version,
        "runs": args.runs,
        "aidoctor_check_median_s": round(aid, 3),
        "aidoctor_check_json_median_s": round(statistics.median(json_times), 3),
        "aidoctor_check_audit_off_median_s": round(statistics.median(off_times), 3),
        "aidoctor_check_cold_audit_s": round(cold, 3),
        "collect_env_median_s": round(ce, 3),
        "ratio": round(aid / ce, 3),
        "aidoctor_verdicts": len(verdicts),
        "audited_files": len(audit["files"]),
        "audited_distributions": len({f["dist"] for f in audit["files"]}),
    }
    print(json.dumps(result, indent=2))
    if result["ratio"] > 0.10:
        print(f"target missed: aidoctor check takes {result['ratio']:.0%} of collect_env (target <= 10%)",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
