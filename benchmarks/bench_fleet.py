"""Fleet benchmarks, with the targets the fleet issue sets.

merge:   merging N reports into a matrix (read, validate, dedupe, collapse, drift) against merely reading and
         json-parsing the same N files, side by side in one run. Target: at most 3x.
collect: `fleet collect` across H hosts behind a real loopback sshd whose check takes 1 s each. Target: about
         the time of the slowest few, not the sum (H s).

    .venv/bin/python benchmarks/bench_fleet.py merge [--reports 10000]
    .venv/bin/python benchmarks/bench_fleet.py collect [--hosts 20] [--jobs 16]

The reports are copies of the real ones in tests/fixtures/reports, varied the way a fleet varies: one machine
in 25 has its own torch build, one in 40 another driver, and every machine has its own label and id. Machines
of a kind share their verdicts' wording, which the merge exploits; `--distinct` measures the worst case,
where every report's reasons are its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aidoctor.doctor.fleet.matrix import build_matrix  # noqa: E402
from aidoctor.doctor.fleet.reportfile import load_inputs  # noqa: E402

from tests import sshd  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "reports"


def make_reports(folder: Path, count: int, distinct: bool = False) -> None:
    bases = [json.loads((FIXTURES / name).read_text()) for name in ("report-x86.json", "report-arm64-qemu.json")]
    for i in range(count):
        report = json.loads(json.dumps(bases[i % 2]))
        report["label"], report["machine_id"] = f"node-{i:05d}", f"{i:016x}"
        if i % 25 == 0:
            report["facts"]["torch_build"] = {"version": f"2.{i % 7}.0+cu130", "cuda": "13.0", "arch_list": None}
        if i % 40 == 0:
            report["facts"]["nvidia_driver"] = f"580.{i % 3}"
        if distinct:  # the worst case: no two machines share a verdict's wording
            for verdict in report["verdicts"]:
                verdict["reasons"] = [f"{reason} ({i})" for reason in verdict["reasons"]]
        (folder / f"{i:05d}.json").write_text(json.dumps(report, indent=2))


def bench_merge(count: int, distinct: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_reports(folder, count, distinct)
        files = sorted(folder.glob("*.json"))
        size = sum(f.stat().st_size for f in files)
        parse_times, merge_times = [], []
        for _ in range(3):  # alternate, so the page cache and CPU warm-up favour neither side
            start = time.perf_counter()
            for path in files:
                json.loads(path.read_bytes())
            parse_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            matrix = build_matrix(load_inputs([folder]))
            merge_times.append(time.perf_counter() - start)
        parse, merge = min(parse_times), min(merge_times)
        print(f"{count} reports{' with distinct verdicts' if distinct else ''}, {size / 1e6:.0f} MB: json.loads of every file {parse:.2f} s; "
              f"merge into a matrix {merge:.2f} s ({len(matrix.columns)} columns, {len(matrix.drift)} drift lines); "
              f"ratio {merge / parse:.2f} (target <= 3)")


def bench_collect(hosts: int, jobs: int) -> None:
    reason = sshd.available()
    if reason:
        sys.exit(f"bench_fleet collect: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        report = FIXTURES / "report-x86.json"
        server = sshd.LoopbackSshd(tmp_path / "sshd", {"slow": f"sleep 1; cat {report}"})
        server.start()
        try:
            hosts_file = tmp_path / "hosts.txt"
            hosts_file.write_text("".join(f"127.0.0.1:{server.ports['slow']} host-{i}\n" for i in range(hosts)))
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "aidoctor.doctor", "fleet", "collect", "--hosts",
                                     str(hosts_file), "--ssh-config", str(server.ssh_config), "--remote-command",
                                     "check", "--jobs", str(jobs), "-o", str(tmp_path / "out")],
                                    capture_output=True, text=True, timeout=600)
            seconds = time.perf_counter() - start
        finally:
            server.stop()
        if result.returncode != 0:
            sys.exit(f"collect failed: {result.stderr[-2000:]}")
        print(f"collect from {hosts} hosts taking 1 s each, --jobs {jobs}: {seconds:.1f} s wall "
              f"(sum of the hosts: {hosts} s; waves of {jobs}: {-(-hosts // jobs)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    merge = sub.add_parser("merge")
    merge.add_argument("--reports", type=int, default=10_000)
    merge.add_argument("--distinct", action="store_true", help="no two reports share a verdict's wording")
    collect = sub.add_parser("collect")
    collect.add_argument("--hosts", type=int, default=20)
    collect.add_argument("--jobs", type=int, default=16)
    args = parser.parse_args()
    if args.what == "merge":
        bench_merge(args.reports, args.distinct)
    else:
        bench_collect(args.hosts, args.jobs)


if __name__ == "__main__":
    main()
