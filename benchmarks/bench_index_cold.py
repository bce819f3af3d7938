"""Time a cold `aidoctor check`: an empty package-index cache, the live index, all twenty tools.

    python benchmarks/bench_index_cold.py [--runs 7] [--profile dgx-spark | --facts FILE] [--against CHECKOUT]

Each run gets a fresh, empty AIDOCTOR_CACHE_DIR, so every tool on the index is
fetched over the network; a built-in profile has nothing installed, so every
tool is asked for (a facts file with torch installed also makes the chosen
files' own metadata count). `--against` times another checkout of aidoctor
(e.g. `git worktree add --detach /tmp/base main`) in the same loop, run for
run alternately, so the network's ups and downs fall on both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def importable(checkout: Path, into: Path) -> Path:
    """A folder that makes `checkout` importable as the aidoctor package (as pyproject's package-dir maps it)."""
    package = into / "aidoctor"
    package.mkdir(parents=True)
    for part in ("doctor", "recipes", "wheels"):
        (package / part).symlink_to(checkout / part)
    return into


def cold_run(pythonpath: Path, source: list[str]) -> tuple[float, int]:
    cache = tempfile.mkdtemp(prefix="aidoctor-cold-")
    try:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "aidoctor.doctor", "check", *source, "--json", "--timeout", "20"],
                              capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, AIDOCTOR_CACHE_DIR=cache, PYTHONPATH=str(pythonpath)))
        seconds = time.perf_counter() - start
        return seconds, len(json.loads(done.stdout)["verdicts"])
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--profile", default="dgx-spark")
    parser.add_argument("--facts", type=Path)
    parser.add_argument("--against", type=Path, help="another aidoctor checkout to time alternately")
    args = parser.parse_args()
    source = ["--facts", str(args.facts)] if args.facts else ["--profile", args.profile]
    with tempfile.TemporaryDirectory() as work:
        checkouts = {"this": importable(ROOT, Path(work) / "this")}
        if args.against:
            checkouts["against"] = importable(args.against.resolve(), Path(work) / "against")
        times: dict[str, list[float]] = {name: [] for name in checkouts}
        verdicts = {}
        for _ in range(args.runs):
            for name, path in checkouts.items():
                seconds, verdicts[name] = cold_run(path, source)
                times[name].append(seconds)
    result = {"machine": f"{os.uname().machine}, {os.cpu_count()} cores", "source": " ".join(source),
              "runs": args.runs}
    for name, values in times.items():
        result[name] = {"verdicts": verdicts[name], "cold_check_median_s": round(statistics.median(values), 3),
                        "cold_check_s": [round(t, 2) for t in values]}
    if args.against:
        result["ratio"] = round(result["this"]["cold_check_median_s"] / result["against"]["cold_check_median_s"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
