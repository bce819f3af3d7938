"""Smoke tests that prove a tool trains: the harness and scripts, the parser, the runner and the store.

The outputs below were recorded by really running the scripts (build_script + the target Python) in a venv
with the local CPU torch wheel 2.13.0+cpu and, from PyPI, peft 0.21.2, transformers 5.23.0, trl 1.16.0
(AIDOCTOR_SMOKE_DEVICE=cpu unless said otherwise):
PEFT_PASS (peft), TORCH_LR_SCALE_0 (torch, AIDOCTOR_SMOKE_LR_SCALE=0), TRITON_ON_CPU (triton), BAD_LR_SCALE
(torch, AIDOCTOR_SMOKE_LR_SCALE=fast: the harness dies before its first line), NO_TORCH (torch, run by an
interpreter without torch). Each is stdout, a newline, then stderr, as run_smoke passes them.

The tests marked `network` build one venv for the session (the CPU torch wheel from /opt/wheels, the tools from
PyPI: a few minutes) and run the CPU-capable scripts for real. The GPU scripts (triton, flash_attn, xformers,
unsloth, causal_conv1d, mamba_ssm) and deepspeed (which needs a source build) are only compiled here;
mamba_ssm's recorded run without a GPU is in tests/test_recipe_mamba.py.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import signal
import sys
from pathlib import Path

import pytest

import aidoctor.recipes
from aidoctor.doctor.install import smoke
from aidoctor.doctor.core.errors import UnknownTool
from aidoctor.doctor.core.smoke_store import SmokeStore
from aidoctor.doctor.install.smoke import (
    GENERIC_FAILURES, SmokeResult, build_script, likely_cause, load_script, parse_smoke_output, run_smoke,
    script_for, script_names, signatures_for,
)
from aidoctor.doctor.core.system import CommandResult
from aidoctor.doctor.dsl.recipe import KnownFailure
from aidoctor.recipes import all_tools

SMOKE_DIR = Path(aidoctor.recipes.__file__).parent / "smoke"

PEFT_PASS = r'''AIDOCTOR-SMOKE {"begin": "device", "kernel": null}
AIDOCTOR-SMOKE {"check": "device", "ok": true, "seconds": 1.389, "detail": "cpu, torch 2.13.0+cpu", "kernel": null, "device": "cpu"}
AIDOCTOR-SMOKE {"begin": "LoRA trains a tiny Llama", "kernel": "lora"}
AIDOCTOR-SMOKE {"check": "LoRA trains a tiny Llama", "ok": true, "seconds": 17.131, "detail": "28 adapter tensors, 8704 of 37536 parameters trainable; 28 gradients finite, norm 0.61; loss 5.62 -> 1.497 (-73%) over 20 steps", "kernel": "lora"}
AIDOCTOR-SMOKE {"begin": "adapter saves and reloads", "kernel": "save_pretrained"}
AIDOCTOR-SMOKE {"check": "adapter saves and reloads", "ok": true, "seconds": 0.054, "detail": "reloaded logits max abs error 0 (atol 0.0001, rtol 0.0001)", "kernel": "save_pretrained"}
AIDOCTOR-SMOKE {"result": "pass", "tool": "peft", "device": "cpu", "failed": null, "kernel": null, "error": null, "versions": {"torch": "2.13.0+cpu", "peft": "0.21.2"}, "seconds": 22.847}

Failed to load CPU gemm_4bit_forward from kernels-community: No module named 'kernels'. Please make sure you already `pip install kernels` and the kernels >= 0.11.1
/tmp/sv/lib/python3.11/site-packages/transformers/modeling_utils.py:3303: FutureWarning: `is_gradient_checkpointing` is deprecated and will be removed in v6. Use `is_activation_checkpointing` instead.
  warnings.warn(
'''

TORCH_LR_SCALE_0 = r'''AIDOCTOR-SMOKE {"begin": "device", "kernel": null}
AIDOCTOR-SMOKE {"check": "device", "ok": true, "seconds": 0.67, "detail": "cpu, torch 2.13.0+cpu", "kernel": null, "device": "cpu"}
AIDOCTOR-SMOKE {"begin": "matmul vs float64", "kernel": "matmul"}
AIDOCTOR-SMOKE {"check": "matmul vs float64", "ok": true, "seconds": 0.144, "detail": "matmul max abs error 2.15e-05 (atol 0.05, rtol 0.01)", "kernel": "matmul"}
AIDOCTOR-SMOKE {"begin": "AdamW trains a tiny transformer", "kernel": "adamw"}
AIDOCTOR-SMOKE {"check": "AdamW trains a tiny transformer", "ok": false, "seconds": 12.401, "detail": "30 gradients finite, norm 0.628; float32; loss 4.363 -> 4.363 (-0%) over 30 steps", "kernel": "adamw", "error": "AssertionError: loss fell 0% (4.363 -> 4.363) over 30 steps; a working install falls >= 30%", "trace": "Traceback (most recent call last):\n  File \"/tmp/tmpsdxk2wj7/aidoctor_smoke_torch.py\", line 97, in check\n    yield record\n  File \"/tmp/tmpsdxk2wj7/aidoctor_smoke_torch.py\", line 440, in main\n    assert_learns(losses, min_drop=0.3)\n  File \"/tmp/tmpsdxk2wj7/aidoctor_smoke_torch.py\", line 127, in assert_learns\n    raise AssertionError(\"loss fell %.0f%% (%.4g -> %.4g) over %d steps; a working install falls >= %.0f%%\"\nAssertionError: loss fell 0% (4.363 -> 4.363) over 30 steps; a working install falls >= 30%\n"}
AIDOCTOR-SMOKE {"result": "fail", "tool": "torch", "device": "cpu", "failed": "AdamW trains a tiny transformer", "kernel": "adamw", "error": "AssertionError: loss fell 0% (4.363 -> 4.363) over 30 steps; a working install falls >= 30%", "versions": {"torch": "2.13.0+cpu"}, "seconds": 13.229}

'''

TRITON_ON_CPU = r'''AIDOCTOR-SMOKE {"begin": "device", "kernel": null}
AIDOCTOR-SMOKE {"check": "device", "ok": true, "seconds": 0.83, "detail": "cpu, torch 2.13.0+cpu", "kernel": null, "device": "cpu"}
AIDOCTOR-SMOKE {"begin": "cuda device", "kernel": "triton"}
AIDOCTOR-SMOKE {"check": "cuda device", "ok": false, "seconds": 0.0, "detail": null, "kernel": "triton", "error": "RuntimeError: no CUDA device: triton's kernels need an NVIDIA GPU, and the device here is cpu", "trace": "Traceback (most recent call last):\n  File \"/tmp/tmp12klmpyp/aidoctor_smoke_triton.py\", line 97, in check\n    yield record\n  File \"/tmp/tmp12klmpyp/aidoctor_smoke_triton.py\", line 180, in require_cuda\n    raise RuntimeError(\"no CUDA device: %s's kernels need an NVIDIA GPU, and the device here is %s\"\nRuntimeError: no CUDA device: triton's kernels need an NVIDIA GPU, and the device here is cpu\n"}
AIDOCTOR-SMOKE {"result": "fail", "tool": "triton", "device": "cpu", "failed": "cuda device", "kernel": "triton", "error": "RuntimeError: no CUDA device: triton's kernels need an NVIDIA GPU, and the device here is cpu", "versions": {"torch": "2.13.0+cpu", "triton": null}, "seconds": 0.839}

'''

BAD_LR_SCALE = r'''
Traceback (most recent call last):
  File "/tmp/tmpw9c6l5k1/aidoctor_smoke_torch.py", line 36, in <module>
    LR_SCALE = float(os.environ.get("AIDOCTOR_SMOKE_LR_SCALE") or 1.0)
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
ValueError: could not convert string to float: 'fast'
'''

NO_TORCH = r'''AIDOCTOR-SMOKE {"begin": "device", "kernel": null}
AIDOCTOR-SMOKE {"check": "device", "ok": false, "seconds": 0.0, "detail": null, "kernel": null, "error": "ModuleNotFoundError: No module named 'torch'", "trace": "Traceback (most recent call last):\n  File \"/tmp/tmptodfvwet/aidoctor_smoke_torch.py\", line 97, in check\n    yield record\n  File \"/tmp/tmptodfvwet/aidoctor_smoke_torch.py\", line 254, in run\n    device = _state[\"device\"] = record[\"device\"] = final[\"device\"] = pick_device(framework)\n                                                                     ^^^^^^^^^^^^^^^^^^^^^^\n  File \"/tmp/tmptodfvwet/aidoctor_smoke_torch.py\", line 203, in pick_device\n    import torch\nModuleNotFoundError: No module named 'torch'\n"}
AIDOCTOR-SMOKE {"result": "fail", "tool": "torch", "device": null, "failed": "device", "kernel": null, "error": "ModuleNotFoundError: No module named 'torch'", "versions": {"torch": null}, "seconds": 0.017}

'''


# ---------------------------------------------------------------- the scripts


def test_there_is_one_script_per_tool():
    names = script_names()
    assert set(names) == {"torch", "triton", "flash_attn", "bitsandbytes", "xformers", "deepspeed", "unsloth", "peft",
                          "trl", "transformers", "accelerate", "mlx", "mlx_lm", "causal_conv1d", "mamba_ssm"}
    tools = all_tools()
    assert [n for n in names if n.replace("_", "-") not in tools] == []


def test_the_smoke_folder_is_not_a_recipe_module():
    # recipes/__init__.py imports every module pkgutil lists; a folder without __init__.py is not listed
    assert "smoke" not in {m.name for m in pkgutil.iter_modules(aidoctor.recipes.__path__)}
    assert not (SMOKE_DIR / "__init__.py").exists()


@pytest.mark.parametrize("name", script_names())
def test_each_script_compiles_after_the_harness_and_ends_in_run(name):
    source = build_script(load_script(name))
    compile(source, f"aidoctor_smoke_{name}.py", "exec")  # a __future__ import in a tool script would fail here
    tree = ast.parse(source)
    last = tree.body[-1]
    assert isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and last.value.func.id == "run"
    assert last.value.args[0].value == name.replace("_", "-")  # the tool id the result carries
    # Only the standard library at the top level: a missing or broken tool fails a check, it cannot crash the file.
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert all(m.split(".")[0] in sys.stdlib_module_names for m in modules), (name, modules)


def test_the_harness_and_the_runner_agree_on_the_prefix():
    tree = ast.parse((SMOKE_DIR / "_harness.py").read_text())
    constants = {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) for target in node.targets if isinstance(target, ast.Name)}
    assert constants["PREFIX"] == smoke.PREFIX


def test_script_names_take_tool_ids():
    assert script_for("flash-attn") == "flash_attn"
    assert script_for("MLX-LM") == "mlx_lm"
    assert script_for("flash_attn.py") == "flash_attn"  # as a Recipe's `smoke` names it
    assert load_script("mlx-lm") == (SMOKE_DIR / "mlx_lm.py").read_text()
    with pytest.raises(UnknownTool, match="known tools: accelerate, bitsandbytes"):
        script_for("tensorflow")
    with pytest.raises(UnknownTool):
        script_for("_harness")


# ---------------------------------------------------------------- the parser, on real outputs


def test_a_pass():
    result = parse_smoke_output(PEFT_PASS, tool="peft", returncode=0, seconds=23.4)
    assert result.passed and result.tool == "peft" and result.device == "cpu"
    assert [c.name for c in result.checks] == ["device", "LoRA trains a tiny Llama", "adapter saves and reloads"]
    assert all(c.ok for c in result.checks)
    assert result.checks[1].kernel == "lora" and "loss 5.62 -> 1.497 (-73%)" in result.checks[1].detail
    assert result.versions == {"torch": "2.13.0+cpu", "peft": "0.21.2"}
    assert (result.failed, result.kernel, result.error, result.cause, result.tail) == (None, None, None, None, "")
    assert result.seconds == 23.4  # the runner's clock, when it gives one


def test_a_run_that_learns_nothing_fails_at_its_training_check():
    result = parse_smoke_output(TORCH_LR_SCALE_0, tool="torch", returncode=1)
    assert not result.passed and result.device == "cpu"
    assert (result.failed, result.kernel) == ("AdamW trains a tiny transformer", "adamw")
    assert result.error.startswith("AssertionError: loss fell 0% (4.363 -> 4.363) over 30 steps")
    assert result.cause.startswith("it runs but does not learn")
    assert [c.ok for c in result.checks] == [True, True, False]
    assert result.checks[2].error == result.error
    assert "in assert_learns" in result.tail  # the failing check's traceback is kept
    assert result.seconds == 13.229  # the script's own clock otherwise


def test_no_cuda_device_is_a_failure_with_its_cause():
    result = parse_smoke_output(TRITON_ON_CPU, tool="triton", returncode=1)
    assert (result.passed, result.failed, result.kernel, result.device) == (False, "cuda device", "triton", "cpu")
    assert result.cause.startswith("no CUDA device")


def test_a_crash_before_the_first_line_is_the_last_traceback_line():
    result = parse_smoke_output(BAD_LR_SCALE, tool="torch", returncode=1)
    assert not result.passed and result.checks == () and result.failed is None
    assert result.error == "ValueError: could not convert string to float: 'fast'"
    assert result.cause == result.error  # no known cause: the traceback's last line is the cause


def test_an_interpreter_without_torch():
    result = parse_smoke_output(NO_TORCH, tool="torch", returncode=1)
    assert (result.failed, result.device) == ("device", None)
    assert result.error == "ModuleNotFoundError: No module named 'torch'"
    assert result.cause == "the target Python cannot import torch: it is not installed there (or not for this Python)"


def test_a_script_killed_inside_a_check_names_that_check():
    cut = "\n".join(PEFT_PASS.splitlines()[:3])  # what is left when a SIGKILL lands in the training check
    result = parse_smoke_output(cut, tool="peft", returncode=-signal.SIGKILL)
    assert (result.passed, result.failed, result.kernel) == (False, "LoRA trains a tiny Llama", "lora")
    assert result.error == "killed by SIGKILL" and "out-of-memory killer" in result.cause
    assert parse_smoke_output(cut, tool="peft", returncode=-signal.SIGSEGV).error == "killed by SIGSEGV"
    assert parse_smoke_output("", tool="peft", returncode=None).error == "the smoke script printed no result"


def test_a_pass_line_alone_proves_nothing():
    assert not parse_smoke_output(PEFT_PASS, tool="peft", returncode=1).passed  # a pass, then a bad exit
    lines = PEFT_PASS.splitlines()
    device_only = "\n".join(lines[:2] + [lines[6]])  # the device check and the final pass line, nothing trained
    result = parse_smoke_output(device_only, tool="peft", returncode=0)
    assert not result.passed and "none beyond the device" in result.error
    lying = TORCH_LR_SCALE_0.replace('"result": "fail"', '"result": "pass"')
    assert not parse_smoke_output(lying, tool="torch", returncode=0).passed


@pytest.mark.parametrize("text", [PEFT_PASS, TORCH_LR_SCALE_0, TRITON_ON_CPU, BAD_LR_SCALE, NO_TORCH])
def test_results_round_trip_through_json(text):
    result = parse_smoke_output(text, tool="torch", returncode=1, seconds=1.5)
    assert SmokeResult.from_json(json.loads(json.dumps(result.to_json()))) == result


# ---------------------------------------------------------------- known causes, on real error messages


def failed(error: str, tail: str = "") -> SmokeResult:
    return SmokeResult(tool="x", passed=False, device="cuda", error=error, tail=tail)


@pytest.mark.parametrize("error, tail, expected", [
    # bitsandbytes#1930: PyPI's aarch64 wheel on a Jetson Orin, at the first quantize_4bit
    ("RuntimeError: Error named symbol not found at line 233 in file /src/csrc/ops.cu", "",
     "bitsandbytes/issues/1930"),
    ("RuntimeError: CUDA error: no kernel image is available for execution on the device", "",
     "TORCH_CUDA_ARCH_LIST"),
    # flash-attention#931: a wheel built for another torch
    ("ImportError: /usr/local/lib/python3.10/dist-packages/flash_attn_2_cuda.cpython-310-x86_64-linux-gnu.so: "
     "undefined symbol: _ZN3c104cuda9SetDeviceEi", "", "flash-attention/issues/1644"),
    # triton#8539 on a DGX Spark: the telling line comes after the first, in the traceback
    ("PTXASError: PTXAS error: Internal Triton PTX codegen error",
     "`ptxas` stderr:\nptxas fatal   : Value 'sm_121a' is not defined for option 'gpu-name'\n", "TRITON_PTXAS_PATH"),
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of "
     "79.19 GiB of which 6.94 MiB is free.", "", "ran out of memory"),
    ("killed by SIGKILL", "", "out-of-memory killer"),
    ("RuntimeError: no CUDA device: unsloth's kernels need an NVIDIA GPU, and the device here is mps", "",
     "no CUDA device"),
    ("RuntimeError: CPUAdamBuilder().is_compatible() is False: the cpu_adam op can be neither built nor loaded here",
     "", "DS_BUILD_CPU_ADAM=1"),
    ("did not finish within 600 s (in check 'torch.compile train steps')", "", "did not finish in time"),
])
def test_known_causes(error, tail, expected):
    assert expected in likely_cause(failed(error, tail))


@pytest.mark.parametrize("tool, error, expected", [
    ("flash-attn", "RuntimeError: FlashAttention only supports Ampere GPUs or newer.", "compute capability 8.0"),
    ("xformers", "NotImplementedError: No operator found for `memory_efficient_attention_forward` with inputs:",
     "rebuild it for this GPU"),
    ("unsloth", "NotImplementedError: Unsloth cannot find any torch accelerator? You need a GPU.",
     "unslothai/unsloth/issues/3553"),
    ("bitsandbytes", "AssertionError: roundtrip error 0.9000 of the block absmax exceeds NF4's bound 0.2000",
     "beyond tolerance"),
])
def test_each_recipe_knows_its_own_failures(tool, error, expected):
    result = SmokeResult(tool=tool, passed=False, device="cuda", error=error)
    assert expected in likely_cause(result)
    assert any(f.matches(error) for f in all_tools()[tool].recipe.known_failures)  # declared in its recipe
    assert not any(f.matches(error) for f in GENERIC_FAILURES)


def test_the_tools_own_failures_come_first_then_the_generic_ones_then_the_others():
    signatures = signatures_for("triton")
    own = all_tools()["triton"].recipe.known_failures
    assert signatures[:len(own)] == own and own
    assert signatures[len(own):len(own) + len(GENERIC_FAILURES)] == GENERIC_FAILURES
    assert all_tools()["bitsandbytes"].recipe.known_failures[0] in signatures[len(own) + len(GENERIC_FAILURES):]


def test_every_known_failure_with_a_source_links_it():
    failures = [f for tool in all_tools().values() if tool.recipe for f in tool.recipe.known_failures]
    assert failures and all(f.source is None or f.source.startswith("https://") for f in failures)
    with pytest.raises(ValueError, match="must be a link"):
        KnownFailure("x", "y", "issue 12")


def test_no_cause_for_a_pass_or_an_unknown_failure():
    assert likely_cause(parse_smoke_output(PEFT_PASS, tool="peft")) == ""
    assert likely_cause(failed("ValueError: could not convert string to float: 'fast'")) == ""


# ---------------------------------------------------------------- the runner, through a recorded System


class RecordingSystem:
    """Answers run() with one recorded output, and notes what it was asked and what the script file held."""

    def __init__(self, stdout: str = "", stderr: str = "", returncode: int | None = 0, timed_out: bool = False,
                 error: str | None = None) -> None:
        self.answer = (stdout, stderr, returncode, timed_out, error)
        self.calls: list[dict] = []

    def run(self, argv, timeout, env=None):
        script = Path(argv[1])
        self.calls.append({"argv": tuple(argv), "timeout": timeout, "env": dict(env or {}),
                           "script": script.read_text() if script.exists() else None,
                           "folder": sorted(p.name for p in script.parent.iterdir()) if script.exists() else None})
        stdout, stderr, returncode, timed_out, error = self.answer
        return CommandResult(tuple(argv), returncode, stdout, stderr, timed_out=timed_out, error=error)

    def read_text(self, path):
        return None

    def which(self, name):
        return None

    def environ(self):
        return {"PATH": "/usr/bin", "HOME": "/home/someone"}


def test_run_smoke_runs_the_combined_script_as_a_file_in_an_empty_folder():
    system = RecordingSystem(stdout=PEFT_PASS)
    result = run_smoke(system, "/envs/train/bin/python", "flash-attn", env={"AIDOCTOR_SMOKE_DEVICE": "cuda"})
    (call,) = system.calls
    python, script = call["argv"]
    assert python == "/envs/train/bin/python" and Path(script).name == "aidoctor_smoke_flash_attn.py"
    assert call["folder"] == ["aidoctor_smoke_flash_attn.py"]  # nothing else on the script's sys.path[0]
    assert call["script"] == build_script(load_script("flash_attn"))
    assert call["timeout"] == 600.0
    assert call["env"]["AIDOCTOR_SMOKE_DEVICE"] == "cuda" and call["env"]["PATH"] == "/usr/bin"  # added, not replaced
    assert not Path(script).parent.exists()  # removed afterwards
    assert result.passed and result.tool == "peft"  # the tool the output names
    assert isinstance(result.seconds, float)


def test_run_smoke_when_the_script_hangs():
    cut = "\n".join(PEFT_PASS.splitlines()[:3])
    system = RecordingSystem(stdout=cut, returncode=None, timed_out=True, error="python did not answer within 5 s")
    result = run_smoke(system, "python", "peft", timeout=5)
    assert not result.passed and result.failed == "LoRA trains a tiny Llama"
    assert result.error == "did not finish within 5 s (in check 'LoRA trains a tiny Llama')"
    assert result.cause.startswith("the smoke test did not finish in time")


def test_run_smoke_when_the_interpreter_is_missing():
    system = RecordingSystem(returncode=None, error="/nope/python: command not found")
    result = run_smoke(system, "/nope/python", "torch")
    assert (result.passed, result.tool, result.checks) == (False, "torch", ())
    assert result.cause == "the target Python /nope/python could not be run: /nope/python: command not found"


# ---------------------------------------------------------------- the store


def test_the_store_lives_in_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AIDOCTOR_CACHE_DIR", str(tmp_path))
    assert SmokeStore().directory == tmp_path / "smoke"


def test_the_store_keeps_the_latest_result_per_tool_and_environment(tmp_path):
    store = SmokeStore(tmp_path / "smoke")
    passed = parse_smoke_output(PEFT_PASS, tool="peft", returncode=0)
    failed_torch = parse_smoke_output(TORCH_LR_SCALE_0, tool="torch", returncode=1)
    assert store.load("/envs/a") == {}
    store.save("/envs/a", passed)
    store.save("/envs/a", failed_torch)
    store.save("/envs/b/", passed)  # the same prefix as "/envs/b"
    loaded = store.load("/envs/a")
    assert sorted(loaded) == ["peft", "torch"]
    assert SmokeResult.from_json(loaded["torch"]) == failed_torch
    assert loaded["peft"]["saved_at"] > 0
    assert sorted(store.load("/envs/b")) == ["peft"]
    assert store.path("/envs/a").parent == tmp_path / "smoke" and len(store.path("/envs/a").stem) == 16
    store.save("/envs/a", replace_passed := SmokeResult(tool="torch", passed=True, device="cpu"))
    assert SmokeResult.from_json(store.load("/envs/a")["torch"]) == replace_passed


def test_the_store_shrugs_off_a_bad_file_and_a_read_only_place(tmp_path):
    store = SmokeStore(tmp_path / "smoke")
    store.path("/envs/a").parent.mkdir(parents=True)
    store.path("/envs/a").write_text("{not json")
    assert store.load("/envs/a") == {}
    blocked = SmokeStore(tmp_path / "a-file")
    (tmp_path / "a-file").write_text("")
    blocked.save("/envs/a", parse_smoke_output(PEFT_PASS, tool="peft"))  # no error: the result was reported
    assert blocked.load("/envs/a") == {}


# ---------------------------------------------------------------- real runs in a real venv


def test_the_failure_line_names_the_check_and_kernel_only_when_known():
    at_kernel = SmokeResult(tool="bitsandbytes", passed=False, device="cuda", failed="quantize_4bit round trip",
                            kernel="quantize_4bit", error="RuntimeError: named symbol not found")
    assert at_kernel.failure() == ("failed at quantize_4bit round trip (kernel quantize_4bit): "
                                   "RuntimeError: named symbol not found")
    before_any_check = SmokeResult(tool="peft", passed=False, device=None,
                                   error="ModuleNotFoundError: No module named 'peft'")
    assert before_any_check.failure() == "failed: ModuleNotFoundError: No module named 'peft'"
