"""Training and generation speed as ranges, with the assumptions that produce them.

Training: tokens/s = MFU x dense BF16 peak / FLOPs per token, FLOPs per token = k*N + 6*L*q*s
(k = 6 full, 4 with frozen weights, +2 with recompute; causal attention at half of PaLM's
12*L*q*s; capacity.md 2.11), MFU a band per
framework from the implied MFU of published runs. Generation: tokens/s = eta x bandwidth /
bytes read per token (active weights in their format, the LM head, and the KV cache at that
depth; capacity.md 2.12), eta a band per weight format from published llama.cpp runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .memory import Method, Recipe, Weights, weight_bytes
from .models import ModelSpec

# Implied MFU counted with recompute (capacity.md 2.11): HF/LLaMA-Factory runs 15-30%, Unsloth and compiled
# torchtune up to about 50%. MLX and MPS against their measured matmul peak. A CPU against its vector peak.
MFU = {"hf": (0.15, 0.30), "llamafactory": (0.15, 0.35), "unsloth": (0.25, 0.45), "torchtune": (0.25, 0.45),
       "mlx-lm": (0.30, 0.60), "cpu": (0.10, 0.40)}
QLORA_DEQUANT = (0.57, 0.90)  # QLoRA vs LoRA speed: gpu_poor's 1/1.75 to LlamaFactory's measured 0.81-0.90
# eta = measured decode t/s x bytes per token / bandwidth (capacity.md 2.12): 16-bit 0.69-0.89, 8-bit 0.56-0.85,
# 4-bit 0.41-0.80 (dequantization and fixed per-token costs weigh more when fewer bytes are read).
ETA = ((12, (0.69, 0.89)), (6, (0.56, 0.85)), (0, (0.41, 0.80)))


@dataclass(frozen=True)
class SpeedRange:
    low: float
    high: float
    assumptions: str

    def to_json(self) -> dict:
        return {"low": round(self.low, 1), "high": round(self.high, 1), "assumptions": self.assumptions}


def train_flops_per_token(model: ModelSpec, recipe: Recipe) -> float:
    k = 6.0 if recipe.method is Method.FULL else 4.0
    if recipe.checkpointing:
        k += 2.0
    # 12*L*q*s counts the whole s x s product (PaLM); causal flash kernels skip the masked half
    attention = 6.0 * model.layers * model.heads * model.head_dim * recipe.seq_len
    return k * model.active_params + attention


def train_speed(model: ModelSpec, recipe: Recipe, tflops: float | None, framework: str) -> SpeedRange | None:
    if not tflops:
        return None
    low, high = MFU.get(framework, MFU["hf"])
    if recipe.method is Method.QLORA:
        low, high = low * QLORA_DEQUANT[0], high * QLORA_DEQUANT[1]
    flops = train_flops_per_token(model, recipe)
    k = "6N" if recipe.method is Method.FULL else "4N"
    return SpeedRange(low * tflops * 1e12 / flops, high * tflops * 1e12 / flops,
                      f"{flops / 1e9:.1f} GFLOP/token ({k}{' + 2N recompute' if recipe.checkpointing else ''} + attention "
                      f"at {recipe.seq_len} tokens), {tflops:g} TFLOPS dense BF16 at {low:.0%}-{high:.0%} MFU ({framework}"
                      f"{', QLoRA dequantization' if recipe.method is Method.QLORA else ''})")


def decode_bytes_per_token(model: ModelSpec, fmt: Weights, depth: int) -> float:
    """Active weights (the embedding is only indexed; the LM head is read in full) plus the KV cache at this depth."""
    embedding = model.embedding_params * (fmt.bits / 8 if fmt.gguf else 2.0)
    read_share = model.active_params / (model.total_params - model.embedding_params)  # MoE: active experts only
    return (weight_bytes(model, fmt) - embedding) * read_share + model.kv_bytes_per_token * depth

def decode_speed(model: ModelSpec, fmt: Weights, bandwidth_gbs: float | None, depth: int) -> SpeedRange | None:
    if not bandwidth_gbs:
        return None
    low, high = next(band for bits, band in ETA if fmt.bits > bits)
    per_token = decode_bytes_per_token(model, fmt, depth)
    return SpeedRange(low * bandwidth_gbs * 1e9 / per_token, high * bandwidth_gbs * 1e9 / per_token,
                      f"{per_token / 1e9:.2f} GB read per token ({fmt.value} weights{', active experts' if model.moe else ''}"
                      f" + KV at depth {depth}), {bandwidth_gbs:g} GB/s at eta {low:.2f}-{high:.2f}")
