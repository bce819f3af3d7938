"""A model's shape, from a Hugging Face config.json or the built-in catalog.

The parameter count is exact arithmetic on the config (GQA, tied embeddings,
MoE experts, biases), the way capacity.md section 3 derives its N column.
"""

from __future__ import annotations

import difflib
import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping

from ..core.errors import BadInput

LINEARS = ("q", "k", "v", "o", "gate", "up", "down")


class ModelConfigError(BadInput):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")


class UnknownModel(BadInput):
    def __init__(self, name: str, nearest: list[str]) -> None:
        hint = f"did you mean {', '.join(nearest)}? " if nearest else ""
        super().__init__(f"unknown model {name!r}: {hint}give a catalog name (`aidoctor fit --list-models`), "
                         "a config.json, a model folder or a Hub repo id such as Qwen/Qwen2.5-7B")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str
    hidden: int
    intermediate: int  # dense MLP width; for MoE the width of one expert
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool
    experts: int = 0  # 0: dense
    experts_active: int = 0
    qkv_bias: bool = False
    stored_bytes: int | None = None  # model.safetensors.index.json total_size, when known
    stored_dtype_bytes: float | None = None

    @property
    def moe(self) -> bool:
        return self.experts > 0

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(d_in, d_out) of each linear of one layer; for MoE, of one expert's MLP linears."""
        q, kv, h, i = self.heads * self.head_dim, self.kv_heads * self.head_dim, self.hidden, self.intermediate
        return {"q": (h, q), "k": (h, kv), "v": (h, kv), "o": (q, h), "gate": (h, i), "up": (h, i), "down": (i, h)}

    @property
    def attention_params_per_layer(self) -> int:
        shapes = self.linear_shapes()
        n = sum(a * b for name, (a, b) in shapes.items() if name in ("q", "k", "v", "o"))
        if self.qkv_bias:
            n += shapes["q"][1] + 2 * shapes["k"][1]
        return n + 2 * self.hidden  # two RMSNorm weights

    @property
    def mlp_params_per_layer(self) -> int:
        one = 3 * self.hidden * self.intermediate
        if not self.moe:
            return one
        return self.experts * one + self.hidden * self.experts  # experts + router

    @property
    def mlp_active_params_per_layer(self) -> int:
        one = 3 * self.hidden * self.intermediate
        return one * self.experts_active + self.hidden * self.experts if self.moe else one

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def head_params(self) -> int:
        return 0 if self.tied else self.vocab * self.hidden

    @property
    def layer_params(self) -> int:
        return self.layers * (self.attention_params_per_layer + self.mlp_params_per_layer)

    @property
    def total_params(self) -> int:
        return self.layer_params + self.embedding_params + self.head_params + self.hidden

    @property
    def active_params(self) -> int:
        """Parameters that do work per token: active experts, attention, the LM head (the embedding is only indexed)."""
        return self.layers * (self.attention_params_per_layer + self.mlp_active_params_per_layer) + self.vocab * self.hidden

    @property
    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * 2  # K and V, bf16

    def lora_params(self, rank: int, targets: tuple[str, ...], layers: int | None = None) -> int:
        shapes = self.linear_shapes()
        per_layer = 0
        for name in targets:
            d_in, d_out = shapes[name]
            copies = self.experts if (self.moe and name in ("gate", "up", "down")) else 1
            per_layer += copies * rank * (d_in + d_out)
        return per_layer * (self.layers if layers is None else min(layers, self.layers))


def _number(config: Mapping[str, Any], keys: tuple[str, ...], where: str, default: Any = None) -> Any:
    for key in keys:
        value = config.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ModelConfigError(where, f"{key} must be a positive number, not {value!r}")
            return int(value)
    if default is not None:
        return default
    raise ModelConfigError(where, f"missing key {keys[0]!r}" + (f" (or {', '.join(keys[1:])})" if len(keys) > 1 else ""))


def parse_config(config: Any, name: str, source: str) -> ModelSpec:
    """A ModelSpec from the keys of a Hugging Face config.json (a multimodal one's text_config is used)."""
    where = f"config of {name}"
    if not isinstance(config, dict):
        raise ModelConfigError(where, "is not a JSON object")
    if isinstance(config.get("text_config"), dict) and "hidden_size" not in config:
        config = {**config["text_config"], **{k: v for k, v in config.items() if k == "tie_word_embeddings"}}
    hidden = _number(config, ("hidden_size", "n_embd", "d_model"), where)
    heads = _number(config, ("num_attention_heads", "n_head"), where)
    experts = _number(config, ("num_experts", "num_local_experts", "n_routed_experts"), where, default=0)
    intermediate = (_number(config, ("moe_intermediate_size", "intermediate_size"), where) if experts
                    else _number(config, ("intermediate_size", "n_inner", "ffn_hidden_size"), where))
    return ModelSpec(
        name=name, source=source, hidden=hidden, intermediate=intermediate,
        layers=_number(config, ("num_hidden_layers", "n_layer"), where),
        heads=heads,
        kv_heads=_number(config, ("num_key_value_heads",), where, default=heads),
        head_dim=_number(config, ("head_dim",), where, default=hidden // heads),
        vocab=_number(config, ("vocab_size",), where),
        tied=bool(config.get("tie_word_embeddings", False)),
        experts=experts,
        experts_active=_number(config, ("num_experts_per_tok", "experts_per_token"), where, default=1) if experts else 0,
        qkv_bias=bool(config.get("attention_bias", False)),
    )


@dataclass(frozen=True)
class CatalogEntry:
    key: str
    title: str
    hub: str
    source: str
    spec: ModelSpec


@functools.cache
def catalog() -> dict[str, CatalogEntry]:
    data = json.loads(resources.files(__package__).joinpath("catalog.json").read_text())
    return {key: CatalogEntry(key, e["title"], e["hub"], e["source"], parse_config(e["config"], key, e["source"]))
            for key, e in data["models"].items()}


def find_in_catalog(name: str) -> ModelSpec | None:
    wanted = name.strip().lower()
    for entry in catalog().values():
        if wanted in (entry.key, entry.hub.lower(), entry.title.lower()):
            return entry.spec
    return None


def nearest_names(name: str) -> list[str]:
    keys = list(catalog())
    return difflib.get_close_matches(name.strip().lower(), keys, n=3, cutoff=0.5)
