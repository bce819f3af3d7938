"""Measure the peak memory of real training steps of tiny Llama models on this CPU, for `aidoctor fit`'s planner.

Each case builds a Llama-architecture model from a LlamaConfig with random weights (no
downloads), in bf16, and trains it for three steps with torch AdamW (full fine-tune) or a
PEFT LoRA adapter, with or without gradient checkpointing. Each case runs in a fresh
subprocess so nothing of an earlier case is alive.

Memory is read two ways (capacity.md section 7.2):
- tensor bytes (primary): a TorchDispatchMode that adds the storage bytes of every tensor
  an op creates and subtracts them when the storage is freed, after registering the
  parameters, optimizer state and inputs; this gives the static bytes before the measured
  step, the bytes after forward, and the peak over the step, exactly (the CPU allocator has
  no statistics API);
- process peak (cross-check): VmHWM from /proc/self/status minus the RSS just before the
  first step, which adds allocator slack and kernel workspaces.

Needs torch, transformers and peft (`pip install -e '.[measure]'`); aidoctor itself never imports them.
Usage: python benchmarks/measure_fit_cpu.py [-o benchmarks/data/fit_cpu_measurements.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# One variable at a time around a base case (capacity.md section 7.4).
BASE = dict(hidden=512, layers=4, vocab=16000, seq=512, batch=2, method="full", checkpointing=False,
            adapter_dtype="bf16", rank=16)
VARIATIONS = [
    {},
    {"layers": 2}, {"layers": 8},
    {"hidden": 256}, {"hidden": 1024},
    {"vocab": 32000}, {"vocab": 64000},
    {"seq": 256}, {"seq": 1024},
    {"batch": 1}, {"batch": 4, "seq": 256},
    {"checkpointing": True}, {"checkpointing": True, "layers": 8},
    {"method": "lora"}, {"method": "lora", "layers": 8}, {"method": "lora", "checkpointing": True},
    {"method": "lora", "seq": 1024}, {"method": "lora", "vocab": 64000}, {"method": "lora", "rank": 64},
    {"method": "lora", "adapter_dtype": "fp32"}, {"method": "lora", "hidden": 1024},
]


def case_config(variation: dict) -> dict:
    case = {**BASE, **variation}
    h = case["hidden"]
    case.update(intermediate=int(3.5 * h), heads=h // 64, kv_heads=max(1, h // 256))
    return case


def run_case(case: dict) -> dict:
    import resource  # noqa: F401  (Linux: VmHWM is read from /proc)
    import weakref

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(1)
    torch.manual_seed(0)

    class LiveBytes(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.refs, self.current, self.peak = {}, 0, 0

        def track(self, *objects):
            for tensor in tree_flatten(objects)[0]:
                if not isinstance(tensor, torch.Tensor):
                    continue
                storage = tensor.untyped_storage()
                key = id(storage)
                if key in self.refs and self.refs[key]() is storage:
                    continue
                size = storage.nbytes()

                def gone(_, key=key, size=size):
                    self.current -= size
                    self.refs.pop(key, None)

                self.refs[key] = weakref.ref(storage, gone)
                self.current += size
                self.peak = max(self.peak, self.current)

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            self.track(out)
            return out

    config = LlamaConfig(hidden_size=case["hidden"], intermediate_size=case["intermediate"],
                         num_hidden_layers=case["layers"], num_attention_heads=case["heads"],
                         num_key_value_heads=case["kv_heads"], vocab_size=case["vocab"],
                         max_position_embeddings=max(2048, case["seq"]), tie_word_embeddings=False,
                         attn_implementation="sdpa")
    torch.set_default_dtype(torch.bfloat16)
    model = LlamaForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    model.config.use_cache = False
    if case["checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if case["method"] == "lora":
        from peft import LoraConfig, get_peft_model

        targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        model = get_peft_model(model, LoraConfig(r=case["rank"], lora_alpha=2 * case["rank"], lora_dropout=0.0,
                                                 target_modules=targets),
                               autocast_adapter_dtype=case["adapter_dtype"] == "fp32")
        if case["checkpointing"]:
            model.enable_input_require_grads()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    ids = torch.randint(0, case["vocab"], (case["batch"], case["seq"]))

    def step():
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    def vm_hwm() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM")

    def rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    rss_before = rss()
    losses = [step()]  # warm-up: the optimizer state exists after it
    live = LiveBytes()
    live.track(list(model.parameters()), list(model.buffers()), optimizer.state_dict()["state"], ids)
    static = live.current
    live.peak = static
    with live:
        loss = model(input_ids=ids, labels=ids).loss
        after_forward = live.current
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    losses.append(loss.item())
    losses.append(step())
    params = sum(p.numel() for p in model.parameters())
    return {
        "case": case,
        "params": params,
        "trainable_params": sum(p.numel() for p in trainable),
        "param_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
        "static_bytes": static,
        "after_forward_bytes": after_forward,
        "peak_bytes": live.peak,
        "process_peak_minus_baseline_bytes": vm_hwm() - rss_before,
        "losses": losses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=HERE / "data" / "fit_cpu_measurements.json")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case in this process
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return
    import peft
    import torch
    import transformers

    results = []
    for variation in VARIATIONS:
        case = case_config(variation)
        proc = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True,
                              timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if proc.returncode != 0:
            print(f"case {case} failed: {proc.stderr[-2000:]}", file=sys.stderr)
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(result)
        print(f"{variation or 'base'}: peak {result['peak_bytes'] / 2**20:.1f} MiB, static "
              f"{result['static_bytes'] / 2**20:.1f} MiB, process {result['process_peak_minus_baseline_bytes'] / 2**20:.1f} MiB",
              flush=True)
    load = os.getloadavg()
    data = {
        "schema": "aidoctor.fit-cpu-measurements/1",
        "method": "tensor bytes from a TorchDispatchMode storage tracker (primary); VmHWM minus the RSS before the "
                  "first step (cross-check); one fresh process per case; bf16 weights, torch AdamW, SDPA attention, "
                  "HF loss path (model(labels=...).loss, logits not kept), LoRA on all 7 linears with dropout 0",
        "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, load average {load[0]:.1f} at the end, 1 torch thread",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
                     "python": platform.python_version()},
        "results": results,
    }
    args.output.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {len(results)} cases to {args.output}")


if __name__ == "__main__":
    main()
