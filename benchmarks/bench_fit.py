"""How far `aidoctor fit`'s planner is from every published figure it can express, and how fast `fit` answers.

Reads benchmarks/data/fit_published.json (each point with its source), predicts each
point's peak memory and fits call with the planner's own functions, and prints a table
with the median and worst error; then decode and training speed against the published
tokens/s; then the warm wall time of `aidoctor fit` (target: under 0.3 s).
tests/unit/test_fit_published.py asserts the targets on the same functions.

Usage: python benchmarks/bench_fit.py [--no-timing]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from aidoctor.doctor.core.hardware import Hardware, MemoryKind
from aidoctor.doctor.fit.memory import (GB, Loss, Method, Optimizer, Precision, Recipe, Weights, breakdown)
from aidoctor.doctor.fit.models import LINEARS, catalog, parse_config
from aidoctor.doctor.fit.plan import Fit, judge_fit
from aidoctor.doctor.fit.speed import decode_speed, train_speed

DATA = Path(__file__).resolve().parent / "data" / "fit_published.json"
MEMORY_TARGET = 0.15  # median |error| of peak memory


def load(path: Path = DATA) -> dict:
    return json.loads(path.read_text())


def model_spec(name: str, data: dict):
    if name in data["models"]:
        config = data["models"][name]
        return parse_config(config, name, config["_source"])
    return catalog()[name].spec


def hardware(gpu: dict) -> Hardware:
    kind = MemoryKind(gpu["kind"])
    return Hardware(kind, gpu["gb"], None, gpu["gb"], None, None, None,
                    gpu_addressable_gb=gpu["gb"] if kind is MemoryKind.UNIFIED_NVIDIA else None,
                    os_reserve_gb=8.0 if kind is MemoryKind.UNIFIED_NVIDIA else 0.0,
                    gpu_working_set_fraction=0.78 if kind is MemoryKind.APPLE else None)


def recipe(point: dict) -> Recipe:
    return Recipe(
        method=Method(point["method"]), seq_len=point.get("seq_len", 1), batch=point.get("batch", 1),
        checkpointing=point.get("checkpointing", False), checkpoint_offload=point.get("checkpoint_offload", False),
        lora_rank=point.get("lora_rank", 16), lora_targets=tuple(point.get("lora_targets", LINEARS)),
        optimizer=Optimizer(point.get("optimizer", "adamw")), precision=Precision(point.get("precision", "bf16")),
        optimizer_in_backward=point.get("optimizer_in_backward", False), adapter_fp32=point.get("adapter_fp32", False),
        loss=Loss(point.get("loss", "full-logits")), eager_attention=point.get("eager_attention", False),
        quant=Weights(point.get("quant", "nf4")), weights=Weights(point.get("weights", "bf16")),
        context=point.get("context", 4096))


def predict(point: dict, data: dict) -> tuple[float, Fit]:
    """Predicted peak GB on the point's GPU (the component alone when the point names one) and the fits call."""
    spec = model_spec(point["model"], data)
    machine = hardware(data["gpus"][point["gpu"]])
    parts = breakdown(spec, recipe(point))
    if point.get("component"):
        return parts.get(point["component"]) / GB, Fit.FITS
    peak = parts.device_bytes(machine.kind.unified) / GB + machine.runtime_overhead_gb
    return peak, judge_fit(peak, machine.usable_gb)


def memory_rows(data: dict) -> list[dict]:
    rows = []
    for point in data["points"]:
        peak, fit = predict(point, data)
        published = point.get("published_gb")
        rows.append({"id": point["id"], "published_gb": published, "predicted_gb": peak,
                     "error": (peak - published) / published if published else None,
                     "fits_expected": point["fits"], "fits_called": fit is not Fit.DOES_NOT_FIT, "source": point["source"]})
    return rows


def decode_rows(data: dict) -> list[dict]:
    rows = []
    for point in data["decode"]:
        speed = decode_speed(model_spec(point["model"], data), Weights(point["weights"]), point["bandwidth_gbs"],
                             point["depth"])
        mid = (speed.low + speed.high) / 2
        rows.append({"id": point["id"], "published": point["tokens_per_s"], "low": speed.low, "high": speed.high,
                     "error": (mid - point["tokens_per_s"]) / point["tokens_per_s"],
                     "in_range": speed.low <= point["tokens_per_s"] <= speed.high})
    return rows


def train_rows(data: dict) -> list[dict]:
    rows = []
    for point in data["points"]:
        if not point.get("tokens_per_s") or not point.get("tflops"):
            continue
        speed = train_speed(model_spec(point["model"], data), recipe(point), point["tflops"], point["framework"])
        mid = (speed.low + speed.high) / 2
        rows.append({"id": point["id"], "published": point["tokens_per_s"], "low": speed.low, "high": speed.high,
                     "error": (mid - point["tokens_per_s"]) / point["tokens_per_s"],
                     "in_range": speed.low <= point["tokens_per_s"] <= speed.high})
    return rows


def summary(errors: list[float]) -> tuple[float, float]:
    absolute = [abs(e) for e in errors]
    return statistics.median(absolute), max(absolute)


def time_fit(runs: int = 7) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of `aidoctor fit` for one model on one profile, after
    one warm-up run. On a shared machine the CPU time is the steadier figure: wall time grows with the load."""
    import resource

    command = [sys.executable, "-m", "aidoctor.doctor", "fit", "llama-3.1-8b", "--profile", "dgx-spark", "--offline"]
    subprocess.run(command, capture_output=True, check=True, timeout=60)
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, timeout=60)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    data = load()
    rows = memory_rows(data)
    print("| point | published GB | predicted GB | error | fits call |")
    print("|---|---|---|---|---|")
    for r in rows:
        call = "right" if r["fits_called"] == r["fits_expected"] else "WRONG"
        published = f"{r['published_gb']:.2f}" if r["published_gb"] else "-"
        error = f"{r['error']:+.0%}" if r["error"] is not None else "-"
        print(f"| {r['id']} | {published} | {r['predicted_gb']:.2f} | {error} | {call} ({'fits' if r['fits_expected'] else 'OOM'}) |")
    median, worst = summary([r["error"] for r in rows if r["error"] is not None])
    wrong = sum(r["fits_called"] != r["fits_expected"] for r in rows)
    print(f"\npeak memory: {sum(r['error'] is not None for r in rows)} points, median |error| {median:.1%}, "
          f"worst {worst:.1%}; fits calls: {len(rows) - wrong}/{len(rows)} right")
    for title, speed_rows in (("decode", decode_rows(data)), ("training", train_rows(data))):
        print(f"\n| {title} point | published t/s | planner range | error of the middle | in range |\n|---|---|---|---|---|")
        for r in speed_rows:
            print(f"| {r['id']} | {r['published']:,.1f} | {r['low']:,.1f}-{r['high']:,.1f} | {r['error']:+.0%} | "
                  f"{'yes' if r['in_range'] else 'no'} |")
        m, w = summary([r["error"] for r in speed_rows])
        print(f"{title} speed: {len(speed_rows)} points, median |error| {m:.1%}, worst {w:.1%}, "
              f"{sum(r['in_range'] for r in speed_rows)}/{len(speed_rows)} inside the range")
    if not args.no_timing:
        wall, cpu = time_fit()
        print(f"\naidoctor fit llama-3.1-8b --profile dgx-spark --offline: median {wall * 1000:.0f} ms wall, "
              f"{cpu * 1000:.0f} ms CPU, warm (target 300 ms), load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
