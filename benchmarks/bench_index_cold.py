"""Time a cold `aidoctor check`: an empty package-index cache, the live index, all twenty tools.

    python benchmarks/bench_index_cold.py [--runs 5] [--profile dgx-spark] [--aidoctor PATH]

Each run gets a fresh, empty AIDOCTOR_CACHE_DIR, so every tool on the index is
fetched over the network; a built-in profile has nothing installed, so every
tool is asked for. The figure depends on the network: compare runs made one
after the other on the same machine (for a before/after, point --aidoctor at
the other checkout's entry point).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", default="dgx-spark")
    parser.add_argument("--aidoctor", default=str(Path(sys.executable).parent / "aidoctor"))
    args = parser.parse_args()
    times, verdicts = [], 0
    for _ in range(args.runs):
        cache = tempfile.mkdtemp(prefix="aidoctor-cold-")
        try:
            start = time.perf_counter()
            done = subprocess.run([args.aidoctor, "check", "--profile", args.profile, "--json", "--timeout", "20"],
                                  capture_output=True, text=True, timeout=300,
                                  env=dict(os.environ, AIDOCTOR_CACHE_DIR=cache))
            times.append(time.perf_counter() - start)
            verdicts = len(json.loads(done.stdout)["verdicts"])
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    print(json.dumps({"machine": f"{os.uname().machine}, {os.cpu_count()} cores", "profile": args.profile,
                      "runs": args.runs, "verdicts": verdicts, "cold_check_median_s": round(statistics.median(times), 3),
                      "cold_check_s": [round(t, 3) for t in times]}, indent=2))


if __name__ == "__main__":
    main()
