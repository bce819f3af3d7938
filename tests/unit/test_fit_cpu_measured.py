"""The planner's breakdown against real CPU training steps (benchmarks/data/fit_cpu_measurements.json).

benchmarks/measure_fit_cpu.py trained tiny Llama models (transformers + PEFT, random weights) and
recorded, per case, the live tensor bytes before the step (static) and at the step's peak. The
planner gets the same shapes and recipe (bf16 weights, torch AdamW, HF loss path, SDPA) and must
land within the stated tolerances: static within 3% (weights, gradients, optimizer and adapter
state are arithmetic), peak within 15% (activations and logits are calibrated terms).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aidoctor.doctor.fit.memory import Loss, Method, Optimizer, Precision, Recipe, breakdown
from aidoctor.doctor.fit.models import LINEARS, parse_config

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "fit_cpu_measurements.json"
STATIC_TOLERANCE = 0.03
PEAK_TOLERANCE = 0.15
RESULTS = json.loads(DATA.read_text())["results"]


def planned(result: dict):
    case = result["case"]
    spec = parse_config({"hidden_size": case["hidden"], "intermediate_size": case["intermediate"],
                         "num_hidden_layers": case["layers"], "num_attention_heads": case["heads"],
                         "num_key_value_heads": case["kv_heads"], "vocab_size": case["vocab"]}, "tiny", "measured")
    recipe = Recipe(method=Method(case["method"]), seq_len=case["seq"], batch=case["batch"],
                    checkpointing=case["checkpointing"], lora_rank=case["rank"], lora_targets=LINEARS,
                    optimizer=Optimizer.ADAMW, precision=Precision.BF16, adapter_fp32=case["adapter_dtype"] == "fp32",
                    loss=Loss.FULL_LOGITS)
    parts = breakdown(spec, recipe)
    static = sum(c.bytes for c in parts.components if c.key in ("weights", "gradients", "adapters", "optimizer"))
    if recipe.method is Method.FULL:
        static -= parts.get("gradients")  # zero_grad(set_to_none=True): no gradient is alive between steps
    else:
        static -= parts.get("adapters") / 2  # likewise the adapters' gradients
    # the tensor tracker counts exact bytes: no allocator slack
    peak = sum(c.bytes for c in parts.components if c.key != "overhead")
    if recipe.method is Method.FULL:
        peak -= parts.get("gradients")  # the peak comes at the start of backward, before gradients exist
    return spec, static, peak


def _id(result):
    case = result["case"]
    return (f"{case['method']}-h{case['hidden']}-L{case['layers']}-V{case['vocab']}-s{case['seq']}-b{case['batch']}"
            f"{'-ckpt' if case['checkpointing'] else ''}{'-r' + str(case['rank']) if case['method'] == 'lora' else ''}"
            f"{'-fp32' if case['adapter_dtype'] == 'fp32' and case['method'] == 'lora' else ''}")


def test_measurements_cover_the_sweep():
    cases = [r["case"] for r in RESULTS]
    assert len(cases) >= 15
    assert {c["method"] for c in cases} == {"full", "lora"}
    assert {c["checkpointing"] for c in cases} == {True, False}
    assert len({c["hidden"] for c in cases}) >= 3 and len({c["layers"] for c in cases}) >= 3
    assert all(r["losses"][0] == r["losses"][0] for r in RESULTS)  # the steps ran (finite losses)


@pytest.mark.parametrize("result", RESULTS, ids=_id)
def test_static_memory_matches(result):
    _, static, _ = planned(result)
    assert static == pytest.approx(result["static_bytes"], rel=STATIC_TOLERANCE)


@pytest.mark.parametrize("result", RESULTS, ids=_id)
def test_peak_memory_matches(result):
    _, _, peak = planned(result)
    assert peak == pytest.approx(result["peak_bytes"], rel=PEAK_TOLERANCE)
