"""The planner against every published figure it can express (benchmarks/data/fit_published.json).

Targets from issue 13: median peak-memory error within 15%, and the fits / does-not-fit call
right for every published point. benchmarks/bench_fit.py prints the same table.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_fit.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_fit", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_point_names_its_source(bench):
    data = bench.load()
    assert len(data["points"]) >= 60
    for point in data["points"] + data["decode"]:
        assert point["source"].startswith("https://"), point["id"]
    for name, config in data["models"].items():
        assert config["_source"].startswith("https://"), name


def test_median_peak_memory_error_within_15_percent(bench):
    rows = bench.memory_rows(bench.load())
    median, _ = bench.summary([r["error"] for r in rows if r["error"] is not None])
    assert median <= bench.MEMORY_TARGET, f"median |error| {median:.1%}"


def test_fits_call_right_for_every_published_point(bench):
    wrong = [(r["id"], round(r["predicted_gb"], 2)) for r in bench.memory_rows(bench.load())
             if r["fits_called"] != r["fits_expected"]]
    assert wrong == []


def test_decode_speed_ranges_hold_most_published_runs(bench):
    rows = bench.decode_rows(bench.load())
    inside = sum(r["in_range"] for r in rows)
    assert inside >= 0.8 * len(rows), f"{inside}/{len(rows)} inside"
