"""What re-applying rules for a missing fact's plausible values costs `aidoctor check`.

    python benchmarks/bench_uncertainty.py [--runs 11] [--profile h100]

Two figures. In process: every tool's rules judged on the profile, whose facts leave `cuda_toolkit` unknown
(so judge_rules tries "none" and each CUDA release for the open rules), against the same machine with
`cuda_toolkit` known (nothing open). End to end: the median of `--runs` runs of
`aidoctor check --profile NAME --offline --json`, which is what a user waits for.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import time
import timeit

from aidoctor.doctor.check.profiles import load
from aidoctor.doctor.core.derive import derive
from aidoctor.doctor.dsl.rules import Ctx, judge_rules
from aidoctor.recipes import all_tools
from packaging.version import Version


def rules_ms(machine, repeat: int = 50) -> float:
    tools = list(all_tools().values())

    def once() -> None:
        for tool in tools:
            judge_rules(tool.rules, Ctx(machine, Version("1.0")))

    return timeit.timeit(once, number=repeat) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--profile", default="h100")
    args = parser.parse_args()
    machine = derive(load(args.profile).machine)
    known = dataclasses.replace(machine, cuda_toolkit="12.8")
    print(f"rules of every tool, {args.profile} as recorded (missing: {sorted(machine.missing())}): "
          f"{rules_ms(machine):.2f} ms")
    print(f"rules of every tool, {args.profile} with cuda_toolkit 12.8: {rules_ms(known):.2f} ms")
    command = [sys.executable, "-m", "aidoctor.doctor", "check", "--profile", args.profile, "--offline", "--json"]
    subprocess.run(command, stdout=subprocess.DEVNULL, check=False)  # warm the page cache
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True, timeout=120)
        times.append((time.perf_counter() - started) * 1000)
    print(f"{' '.join(command[1:])}: median of {args.runs} {statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()
