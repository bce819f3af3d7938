"""The memory breakdown of one training (or inference) plan: pure arithmetic, no I/O.

Every term is a function of the model's shape and the recipe (capacity.md sections 2.2-2.9).
The activation and logits constants are the per-token bytes measured for the Hugging Face
code path (capacity.md 7.5, re-measured here by benchmarks/measure_fit_cpu.py), and each
framework's loss kernel and checkpointing variant changes which of them apply.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from .models import LINEARS, ModelSpec


class Method(Enum):
    FULL = "full"
    LORA = "lora"
    QLORA = "qlora"
    INFERENCE = "inference"

    @property
    def adapters(self) -> bool:
        return self in (Method.LORA, Method.QLORA)


class Optimizer(Enum):
    ADAMW = "adamw"  # states in the parameters' dtype (torch.optim.AdamW)
    ADAMW_8BIT = "adamw-8bit"  # bitsandbytes: 2 B per parameter
    PAGED_ADAMW_8BIT = "paged-adamw-8bit"  # the same, evictable to host RAM over CUDA unified memory
    PAGED_ADAMW = "paged-adamw"  # 32-bit states, evictable
    SGD = "sgd"  # no state

    @property
    def paged(self) -> bool:
        return self in (Optimizer.PAGED_ADAMW_8BIT, Optimizer.PAGED_ADAMW)

    def state_bytes(self, param_bytes: float) -> float:
        if self in (Optimizer.ADAMW_8BIT, Optimizer.PAGED_ADAMW_8BIT):
            return 2.0
        if self is Optimizer.PAGED_ADAMW:
            return 8.0
        return 0.0 if self is Optimizer.SGD else 2 * param_bytes


class Precision(Enum):
    MIXED = "mixed"  # fp32 master weights and gradients, bf16 compute copy
    BF16 = "bf16"  # pure bf16: weights, gradients and AdamW states in bf16


class Loss(Enum):
    FULL_LOGITS = "full-logits"  # HF: fp32 upcast of b*s*V logits, log-softmax and gradient copies
    CHUNKED = "chunked"  # torchtune CEWithChunkedOutputLoss: bf16 logits, fp32 one chunk at a time
    CUT = "cut"  # cut cross-entropy (Unsloth, Liger-fused): no full logits tensor


class Checkpointing(Enum):
    ON = "on"
    OFF = "off"
    AUTO = "auto"  # on when the plan does not fit or is tight without it


class Weights(Enum):
    """Weight formats for inference (and QLoRA's base), with their real bits per weight."""

    BF16 = "bf16"
    FP8 = "fp8"
    INT8 = "int8"
    NF4 = "nf4"
    MXFP4 = "mxfp4"
    NVFP4 = "nvfp4"
    GPTQ_INT4 = "gptq-int4"
    Q8_0 = "q8_0"
    Q6_K = "q6_k"
    Q5_K_M = "q5_k_m"
    Q4_K_M = "q4_k_m"
    Q4_0 = "q4_0"
    Q3_K_M = "q3_k_m"
    MLX_Q4 = "mlx-q4"  # MLX 4-bit, group 64, fp16 scale and bias

    @property
    def bits(self) -> float:
        return BITS[self]

    @property
    def gguf(self) -> bool:
        return self.value.startswith("q")

    @property
    def quantized(self) -> bool:
        return self.bits < 16


# Bits per weight. nf4: NF4 + double quantization (QLoRA paper, 4 + 8/64 + 32/(64*256)); mxfp4: 4-bit + an
# 8-bit scale per 32; nvfp4: 0.5625 B/param (NeMo AutoModel docs); gptq-int4 at group 128: 4 + fp16 scale and
# 4-bit zero per 128. GGUF: the file averages llama.cpp's quantize tool prints for Llama-3 8B (the K-quants keep
# some tensors at higher precision); q8_0 and q4_0 are 8.5 and 4.5 by construction (capacity.md 2.2).
BITS = {Weights.BF16: 16.0, Weights.FP8: 8.0, Weights.INT8: 8.0, Weights.NF4: 4.127, Weights.MXFP4: 4.25,
        Weights.NVFP4: 4.5, Weights.GPTQ_INT4: 4.16, Weights.Q8_0: 8.5, Weights.Q6_K: 6.56, Weights.Q5_K_M: 5.69,
        Weights.Q4_K_M: 4.89, Weights.Q4_0: 4.5, Weights.Q3_K_M: 3.91, Weights.MLX_Q4: 4.5}

# Activation bytes saved per token per layer without checkpointing (HF transformers, bf16, SDPA or flash
# attention): the four i-wide MLP tensors (gate, up, SiLU output, product) at 2 B each, the q/k/v/attention-out
# tensors, and a calibrated per-h term for the norms' fp32 upcasts, residual inputs and transposed copies.
# Calibrated on benchmarks/data/fit_cpu_measurements.json (capacity.md 7.5 measured 54h full, 50h LoRA at i = 3.5h).
ACT_MLP_PER_I = 8.0
ACT_PER_H_FULL = 19.0
ACT_PER_H_ADAPTER = 15.0
ACT_FP32_ADAPTER_PER_INPUT = 2.8  # PEFT's default fp32 adapters cast each adapted layer's input (capacity.md 7.5)
ACT_EAGER_PER_HEAD_S2 = 5.9  # eager attention keeps the s x s scores (capacity.md 7.5)
LOGITS_HELD = {Loss.FULL_LOGITS: 4.0, Loss.CHUNKED: 2.0, Loss.CUT: 0.0}  # bytes per b*s*V element, forward to backward
LOGITS_PEAK = {Loss.FULL_LOGITS: 12.0, Loss.CHUNKED: 3.5, Loss.CUT: 0.0}  # at the start of backward
ALLOCATOR_SLACK = 0.05  # reserved minus allocated, as a share of what changes during a step (capacity.md 2.9)
GB = 1e9


@dataclass(frozen=True)
class Recipe:
    method: Method
    seq_len: int
    batch: int
    grad_accum: int = 1
    checkpointing: bool = False
    checkpoint_offload: bool = False  # Unsloth/torchtune move the checkpoints to host RAM
    lora_rank: int = 16
    lora_targets: tuple[str, ...] = LINEARS
    lora_layers: int | None = None  # mlx-lm adapts only the last N layers
    optimizer: Optimizer = Optimizer.ADAMW
    precision: Precision = Precision.BF16
    optimizer_in_backward: bool = False  # torchtune: no full gradient buffer
    adapter_fp32: bool = False  # PEFT's default upcast of adapters to fp32
    loss: Loss = Loss.FULL_LOGITS
    eager_attention: bool = False
    quant: Weights = Weights.NF4  # QLoRA's base format
    weights: Weights = Weights.BF16  # inference weights
    context: int = 4096  # inference: tokens in the KV cache

    def but(self, **changes) -> "Recipe":
        return replace(self, **changes)


@dataclass(frozen=True)
class Component:
    key: str
    label: str
    bytes: float
    host: bool = False  # lives in host RAM (offloaded); on unified memory that is the same pool
    # (paged optimizer states stay on the GPU while they fit: plan.py moves them when they do not)
    note: str = ""


@dataclass(frozen=True)
class Breakdown:
    components: tuple[Component, ...]
    transient_key: str  # which transient sets the peak: "logits", "recompute" or "none"

    def device_bytes(self, unified: bool) -> float:
        return sum(c.bytes for c in self.components if unified or not c.host)

    def host_bytes(self) -> float:
        return sum(c.bytes for c in self.components if c.host)

    def get(self, key: str) -> float:
        return sum(c.bytes for c in self.components if c.key == key)


def trained_params(model: ModelSpec, recipe: Recipe) -> int:
    if recipe.method is Method.FULL:
        return model.total_params
    if recipe.method.adapters:
        return model.lora_params(recipe.lora_rank, recipe.lora_targets, recipe.lora_layers)
    return 0


def weight_bytes(model: ModelSpec, fmt: Weights) -> float:
    """Quantized formats quantize the layers' linears; embeddings, LM head and norms stay bf16 (bitsandbytes, HF);
    a GGUF file's average bits cover every tensor."""
    if fmt is Weights.BF16:
        return 2.0 * model.total_params
    if fmt.gguf:
        return fmt.bits / 8 * model.total_params
    linears = model.layers * (model.attention_params_per_layer - 2 * model.hidden + model.mlp_params_per_layer)
    rest = model.total_params - linears
    return fmt.bits / 8 * linears + 2.0 * rest


def activation_bytes_per_token_layer(model: ModelSpec, recipe: Recipe) -> float:
    """Saved for backward per token per layer, no checkpointing."""
    shapes = model.linear_shapes()
    attention = 2.0 * (2 * shapes["q"][1] + 2 * shapes["k"][1])  # q, attention out, k, v in bf16
    per_h = ACT_PER_H_ADAPTER if recipe.method.adapters else ACT_PER_H_FULL
    mlp = ACT_MLP_PER_I * model.intermediate * (model.experts_active if model.moe else 1)
    total = per_h * model.hidden + attention + mlp
    if recipe.method.adapters and recipe.adapter_fp32:
        total += ACT_FP32_ADAPTER_PER_INPUT * sum(shapes[t][0] for t in recipe.lora_targets)
    if recipe.eager_attention:
        total += ACT_EAGER_PER_HEAD_S2 * model.heads * recipe.seq_len
    return total


def breakdown(model: ModelSpec, recipe: Recipe) -> Breakdown:
    if recipe.method is Method.INFERENCE:
        return _inference(model, recipe)
    tokens = recipe.seq_len * recipe.batch
    parts: list[Component] = []
    if recipe.method is Method.FULL:
        n = model.total_params
        if recipe.precision is Precision.MIXED:
            parts.append(Component("weights", "weights (fp32 master + bf16 copy)", 6.0 * n))
            grad_bytes, param_bytes = 4.0, 4.0
        else:
            parts.append(Component("weights", "weights (bf16)", 2.0 * n))
            grad_bytes, param_bytes = 2.0, 2.0
        if recipe.optimizer_in_backward:
            largest = max(model.vocab * model.hidden, max(a * b for a, b in model.linear_shapes().values()))
            parts.append(Component("gradients", "gradients (optimizer in backward: one tensor at a time)",
                                   grad_bytes * largest))
        else:
            parts.append(Component("gradients", f"gradients ({'fp32' if grad_bytes == 4 else 'bf16'})", grad_bytes * n))
        parts.append(Component("optimizer", f"optimizer states ({recipe.optimizer.value})",
                               recipe.optimizer.state_bytes(param_bytes) * n))
    else:
        base = Weights.BF16 if recipe.method is Method.LORA else recipe.quant
        parts.append(Component("weights", f"frozen weights ({base.value})", weight_bytes(model, base)))
        adapters = trained_params(model, recipe)
        adapter_bytes = 4.0 if recipe.adapter_fp32 else 2.0
        parts.append(Component("adapters", f"LoRA adapters r{recipe.lora_rank} ({adapters / 1e6:.1f}M params, "
                                           f"{'fp32' if recipe.adapter_fp32 else 'bf16'}, with gradients)",
                               2 * adapter_bytes * adapters))
        parts.append(Component("optimizer", f"optimizer states ({recipe.optimizer.value})",
                               recipe.optimizer.state_bytes(adapter_bytes) * adapters))
    per_layer = activation_bytes_per_token_layer(model, recipe)
    if recipe.checkpointing:
        saved = 2.0 * model.hidden * model.layers * tokens
        parts.append(Component("activations", "activations (checkpoints: one bf16 hidden state per layer)", saved,
                               host=recipe.checkpoint_offload))
        recompute = per_layer * tokens
    else:
        parts.append(Component("activations", "activations (no checkpointing)", per_layer * model.layers * tokens))
        recompute = 0.0
    logits = LOGITS_PEAK[recipe.loss] * tokens * model.vocab
    if recipe.method is Method.QLORA:
        # bitsandbytes dequantizes one weight to bf16 at a time
        recompute += 2.0 * max(a * b for a, b in model.linear_shapes().values())
    transient = max(logits, recompute)
    parts.append(Component("transient", "logits and loss at the start of backward" if logits >= recompute
                           else "recomputing one layer in backward", transient))
    dynamic = sum(c.bytes for c in parts if c.key in ("activations", "transient") and not c.host)
    parts.append(Component("overhead", "allocator slack", ALLOCATOR_SLACK * dynamic))
    return Breakdown(tuple(parts), "logits" if logits >= recompute else "recompute")


def _inference(model: ModelSpec, recipe: Recipe) -> Breakdown:
    weights = model.stored_bytes if (model.stored_bytes and recipe.weights is Weights.BF16
                                     and model.stored_dtype_bytes == 2) else weight_bytes(model, recipe.weights)
    kv = model.kv_bytes_per_token * recipe.context * recipe.batch
    # prefill of one 512-token chunk: logits (fp32) and one layer's activations
    work = 512 * recipe.batch * (4.0 * model.vocab + 2.0 * (model.hidden * 4 + 2 * model.intermediate))
    return Breakdown((Component("weights", f"weights ({recipe.weights.value})", weights),
                      Component("kv", f"KV cache ({recipe.context} tokens x {recipe.batch}, bf16)", kv),
                      Component("transient", "prefill buffers (512-token chunk)", work)), "none")
