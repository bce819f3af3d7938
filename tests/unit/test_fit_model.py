"""The planner's arithmetic against the numbers capacity.md derives from the configs (sections 2.4, 2.8, 3)."""

from __future__ import annotations

import pytest

from aidoctor.doctor.core.hardware import Hardware, MemoryKind
from aidoctor.doctor.fit.memory import GB, Method, Optimizer, Precision, Recipe, Weights, breakdown
from aidoctor.doctor.fit.models import catalog
from aidoctor.doctor.fit.plan import Fit, Options, Target, plan_machine

PUBLISHED_N = {"llama-3.1-8b": 8.03e9, "llama-3.1-70b": 70.6e9, "llama-3.2-1b": 1.24e9, "llama-3.2-3b": 3.21e9,
               "qwen2.5-7b": 7.61e9, "qwen2.5-14b": 14.7e9, "qwen2.5-72b": 72.7e9, "qwen3-8b": 8.2e9,
               "qwen3-32b": 32.8e9, "qwen3-30b-a3b": 30.53e9, "mistral-7b-v0.3": 7.25e9, "gemma-2-9b": 9.24e9,
               "gpt-oss-20b": 20.91e9, "gpt-oss-120b": 116.83e9}


@pytest.mark.parametrize("key", sorted(PUBLISHED_N))
def test_parameter_counts_match_the_published_sizes(key):
    assert catalog()[key].spec.total_params == pytest.approx(PUBLISHED_N[key], rel=0.01)


def test_every_catalog_entry_carries_a_source():
    entries = catalog()
    assert len(entries) >= 16
    assert all("https://" in e.source for e in entries.values())


def test_moe_active_parameters():
    assert catalog()["qwen3-30b-a3b"].spec.active_params == pytest.approx(3.04e9, rel=0.01)  # 3.35B less the embedding
    assert catalog()["gpt-oss-20b"].spec.active_params == pytest.approx(3.61e9, rel=0.01)  # published "3.6B"


def test_lora_parameters_and_kv_cache():
    llama = catalog()["llama-3.1-8b"].spec
    assert llama.lora_params(16, ("q", "k", "v", "o", "gate", "up", "down")) == 41_943_040
    assert llama.lora_params(8, ("q", "v", "o", "gate", "up", "down")) == 19_660_800
    kib = {"llama-3.1-8b": 128, "llama-3.1-70b": 320, "qwen2.5-7b": 56, "qwen3-8b": 144, "qwen3-30b-a3b": 96,
           "gemma-2-9b": 336, "gpt-oss-120b": 72}
    for key, value in kib.items():
        assert catalog()[key].spec.kv_bytes_per_token == value * 1024, key


def test_optimizer_recipes_per_parameter():
    spec = catalog()["llama-3.2-1b"].spec
    n = spec.total_params

    def static(**kw):
        parts = breakdown(spec, Recipe(Method.FULL, 512, 1, **kw))
        return sum(parts.get(k) for k in ("weights", "gradients", "optimizer")) / n

    assert static() == pytest.approx(8.0)  # pure bf16 AdamW: LLaMA-Factory's 8x
    assert static(precision=Precision.MIXED) == pytest.approx(18.0)
    assert static(optimizer=Optimizer.ADAMW_8BIT) == pytest.approx(6.0)


def test_qlora_weights_keep_embeddings_in_bf16():
    spec = catalog()["llama-3.1-70b"].spec
    weights = breakdown(spec, Recipe(Method.QLORA, 512, 1)).get("weights")
    embeddings = 2 * 2 * spec.vocab * spec.hidden
    assert embeddings / GB == pytest.approx(4.2, abs=0.05)  # capacity.md 2.2
    assert weights == pytest.approx(embeddings + (spec.total_params - 2 * spec.vocab * spec.hidden) * 4.127 / 8, rel=0.01)
    assert breakdown(spec, Recipe(Method.INFERENCE, 1, 1, weights=Weights.Q4_K_M)).get("weights") / GB == pytest.approx(
        43.1, abs=0.3)


def _machine(kind, gb, fraction=None):
    return Target("m", Hardware(kind, gb, 500, 256, None, 100, None, gpu_working_set_fraction=fraction), None, None)


def test_apple_wired_limit_is_offered_first_when_it_is_enough():
    spec = catalog()["qwen2.5-14b"].spec
    plan = plan_machine(spec, Options(method=Method.LORA, seq_len=8192), _machine(MemoryKind.APPLE, 64, 0.70))
    assert plan.fit is not Fit.FITS
    assert plan.changes and plan.changes[0].what.startswith("sudo sysctl iogpu.wired_limit_mb=")


def test_zero_offload_is_offered_on_discrete_gpus_only():
    spec = catalog()["llama-3.1-8b"].spec
    discrete = plan_machine(spec, Options(method=Method.FULL), _machine(MemoryKind.DISCRETE, 48))
    unified = plan_machine(spec, Options(method=Method.FULL), _machine(MemoryKind.UNIFIED_NVIDIA, 48))
    assert any("ZeRO-Offload" in c.what for c in discrete.changes)
    assert not any("ZeRO-Offload" in c.what or "paged" in c.what for c in unified.changes)
