"""`aidoctor fit` run as a user runs it: output, JSON, side by side, model sources, bad input, no torch.

The package-index answers behind the QLoRA tie (bitsandbytes, mlx-lm verdicts) come from the recorded
index cache in tests/fixtures/index through --offline, as in test_cli.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aidoctor.doctor.core.errors import BadInput
from aidoctor.doctor.fit.config import fetch_hub_config

from ..recorded import recorded_cache

FIXTURES = Path(__file__).parents[1] / "fixtures"
PROFILES = Path(__file__).parents[2] / "doctor" / "check" / "profiles"
AIDOCTOR = Path(sys.executable).parent / "aidoctor"


@pytest.fixture
def run(tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(FIXTURES / "index" / "cache", cache)

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AIDOCTOR_CACHE_DIR": str(cache)}
        return subprocess.run([str(AIDOCTOR), "fit", *args, "--offline"], capture_output=True, text=True, env=env,
                              timeout=60)

    return run


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_fit_on_a_profile_shows_breakdown_verdict_speed_and_changes(run):
    result = run("llama-3.1-8b", "--profile", "rtx-4090", "--method", "full")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in ("rtx-4090  usable 25.8 GB", "optimizer states (adamw)", "logits and loss", "CUDA context",
                 "verdict: does not fit", "training:", "generation:", "cheapest changes that make it fit:",
                 "--method lora", "ZeRO-Offload"):
        assert text in out, text


def test_json_side_by_side(run):
    result = run("qwen3-30b-a3b", "--profile", "dgx-spark", "--profile", "mac-studio-m4-max", "--method", "qlora", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema"] == "aidoctor.fit/1"
    assert data["model"]["params"] > 30e9 and data["model"]["active_params"] < 3.5e9
    spark, mac = data["machines"]
    assert (spark["machine"], mac["machine"]) == ("dgx-spark", "mac-studio-m4-max")
    assert spark["quantized_path"]["tool"] == "bitsandbytes" and mac["quantized_path"]["tool"] == "mlx-lm"
    assert spark["recipe"]["quantized_base"] == "nf4" and mac["recipe"]["quantized_base"] == "mlx-q4"
    assert mac["framework"] == "mlx-lm" and mac["recipe"]["lora_layers"] == 16
    for plan in data["machines"]:
        assert plan["verdict"] in ("fits", "tight", "does not fit")
        components = sum(c["gb"] for c in plan["memory"]["components"] if not c["in_host_ram"])
        assert components == pytest.approx(plan["memory"]["peak_gb"], abs=0.05)
        assert plan["speed"]["train_tokens_per_s"]["low"] < plan["speed"]["train_tokens_per_s"]["high"]
    assert mac["hardware"]["usable_gb"] == pytest.approx(128 * 0.78, abs=0.1)


def test_unified_memory_gets_no_offload_saving(run):
    spark = json.loads(run("llama-3.1-8b", "--profile", "dgx-spark", "--framework", "unsloth", "--json").stdout)
    plan = spark["machines"][0]
    assert plan["memory"]["host_gb"] == 0
    assert any("saves nothing" in note for note in plan["notes"])
    rtx = json.loads(run("llama-3.1-8b", "--profile", "rtx-4090", "--framework", "unsloth", "--json").stdout)
    assert rtx["machines"][0]["memory"]["host_gb"] > 0


def test_inference_with_gguf_weights_and_context(run):
    result = run("llama-3.1-70b", "--profile", "mac-studio-m4-max", "--method", "inference", "--weights", "q4_k_m",
                 "--context", "32768", "--json")
    plan = json.loads(result.stdout)["machines"][0]
    kv = next(c for c in plan["memory"]["components"] if c["key"] == "kv")
    assert kv["gb"] == pytest.approx(320 * 1024 * 32768 / 1e9, rel=0.01)  # 320 KiB per token (capacity.md 2.8)
    assert plan["verdict"] == "fits"
    assert plan["speed"]["decode_tokens_per_s"]["high"] < 13


def test_qlora_without_a_4bit_path_names_the_tool_and_the_nearest_method(run, tmp_path):
    facts = json.loads((PROFILES / "mac-studio-m4-max.json").read_text())["facts"]
    facts["python_translated"] = True  # an x86_64 Python under Rosetta: no MLX wheels
    path = tmp_path / "rosetta.json"
    path.write_text(json.dumps(facts))
    line = one_line_error(run("llama-3.1-8b", "--method", "qlora", "--facts", str(path)))
    assert "mlx-lm is unsupported" in line and "--method lora" in line


@pytest.mark.parametrize("args, expected", [
    (("lama-3.1-8bb",), "did you mean llama-3.1-8b"),
    (("llama-3.1-8b", "--seq-len", "-5"), "--seq-len -5"),
    (("llama-3.1-8b", "--seq-len", "99999999"), "--seq-len 99999999"),
    (("llama-3.1-8b", "--batch", "0"), "--batch 0"),
    (("llama-3.1-8b", "--method", "dpo"), "--method 'dpo'"),
    (("llama-3.1-8b", "--lora-targets", "q,attn"), "--lora-targets"),
    (("llama-3.1-8b", "--weights", "q9"), "--weights 'q9'"),
    (("llama-3.1-8b", "--framework", "keras"), "--framework 'keras'"),
    (("llama-3.1-8b", "--profile", "nope"), "unknown profile 'nope'"),
])
def test_bad_input_is_one_line_and_exit_2(run, args, expected):
    assert expected in one_line_error(run(*args, *(() if "--profile" in args else ("--profile", "h100"))))


def test_partial_and_malformed_config_name_the_problem(run, tmp_path):
    partial = tmp_path / "partial" / "config.json"
    partial.parent.mkdir()
    partial.write_text(json.dumps({"hidden_size": 2048, "num_attention_heads": 16, "num_hidden_layers": 4,
                                   "vocab_size": 1000}))
    assert "missing key 'intermediate_size'" in one_line_error(run(str(partial), "--profile", "h100"))
    broken = tmp_path / "broken.json"
    broken.write_text("{\"hidden_size\": 2048,")
    assert "not valid JSON" in one_line_error(run(str(broken), "--profile", "h100"))
    negative = tmp_path / "negative.json"
    negative.write_text(json.dumps({"hidden_size": -1}))
    assert "hidden_size must be a positive number" in one_line_error(run(str(negative), "--profile", "h100"))


def test_model_folder_uses_the_safetensors_index(run, tmp_path):
    folder = tmp_path / "my-llama"
    folder.mkdir()
    config = {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
              "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256, "tie_word_embeddings": True,
              "torch_dtype": "bfloat16"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 2471645184},
                                                                     "weight_map": {}}))
    data = json.loads(run(str(folder), "--profile", "h100", "--method", "inference", "--json").stdout)
    assert "model.safetensors.index.json" in data["model"]["source"]
    weights = next(c for c in data["machines"][0]["memory"]["components"] if c["key"] == "weights")
    assert weights["gb"] == pytest.approx(2.4716, abs=0.001)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {}}))
    assert "metadata.total_size" in one_line_error(run(str(folder), "--profile", "h100"))


def test_hub_config_comes_from_the_cache_offline(run, tmp_path):
    cached = tmp_path / "cache" / "hub" / "someone--tiny" / "config.json"  # under AIDOCTOR_CACHE_DIR
    cached.parent.mkdir(parents=True)
    cached.write_text(json.dumps({"hidden_size": 512, "intermediate_size": 1536, "num_hidden_layers": 4,
                                  "num_attention_heads": 8, "vocab_size": 32000}))
    result = run("someone/tiny", "--profile", "h100", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"]["name"] == "someone/tiny"
    assert "--offline" in one_line_error(run("someone/other", "--profile", "h100"))


def test_unreachable_hub_is_a_clear_message(tmp_path):
    with pytest.raises(BadInput, match="cannot be reached"):
        fetch_hub_config("someone/tiny", tmp_path, offline=False, timeout=2, hub="http://127.0.0.1:9")


def test_list_models_and_profiles_and_compare(run, tmp_path):
    listing = subprocess.run([str(AIDOCTOR), "fit", "--list-models"], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and "gpt-oss-120b" in listing.stdout and "openai/gpt-oss-120b" in listing.stdout
    profiles = subprocess.run([str(AIDOCTOR), "profiles"], capture_output=True, text=True, timeout=60).stdout
    assert "25.8 GB at 1008 GB/s" in profiles and "165.2 TFLOPS" in profiles and "450 W" in profiles
    compare = subprocess.run([str(AIDOCTOR), "compare", "dgx-spark", "rtx-4090", "--offline", "--json"],
                             capture_output=True, text=True, timeout=120,
                             env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                  "AIDOCTOR_CACHE_DIR": str(recorded_cache())})
    capacity = json.loads(compare.stdout)["capacity"]
    cells = {(c["model"], c["method"], c["machine"]): c["verdict"] for c in capacity}
    assert cells[("llama-3.1-70b", "qlora", "dgx-spark")] == "fits"
    assert cells[("llama-3.1-70b", "qlora", "rtx-4090")] == "does not fit"
    assert cells[("llama-3.1-8b", "lora", "rtx-4090")] in ("fits", "tight")


def test_fit_never_imports_torch(tmp_path):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "aidoctor.doctor", "fit", "llama-3.1-8b",
                             "--profile", "dgx-spark", "--offline"], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "torch" not in imported and "transformers" not in imported
