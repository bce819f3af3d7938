"""`aidoctor fit` as a function: a model, a recipe and machines in; per machine a breakdown, verdict,
speed ranges and the cheapest changes that make the plan fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Callable

from ..core.errors import BadInput
from ..core.hardware import Hardware, MemoryKind
from .memory import (
    GB, Breakdown, Checkpointing, Loss, Method, Optimizer, Precision, Recipe, Weights, breakdown, trained_params,
)
from .models import LINEARS, ModelSpec
from .models import catalog as catalog_models
from .speed import SpeedRange, decode_speed, train_speed

SCHEMA = "aidoctor.fit/1"
TIGHT_SHARE = 0.90  # above 90% of usable memory a run is at the mercy of fragmentation and the page cache
MAX_SEQ_LEN = 1 << 21
MAX_BATCH = 4096


class Fit(Enum):
    FITS = "fits"
    TIGHT = "tight"
    DOES_NOT_FIT = "does not fit"


@dataclass(frozen=True)
class Framework:
    name: str
    loss: Loss
    adapter_fp32: bool
    checkpointing: bool  # its default
    checkpoint_offload: bool = False
    full_optimizer: Optimizer = Optimizer.ADAMW
    optimizer_in_backward: bool = False
    lora_layers: int | None = None
    note: str = ""


FRAMEWORKS = {
    "hf": Framework("hf", Loss.FULL_LOGITS, adapter_fp32=True, checkpointing=False,
                    note="transformers Trainer + PEFT: fp32 logits for the loss, PEFT upcasts adapters to fp32"),
    "llamafactory": Framework("llamafactory", Loss.FULL_LOGITS, adapter_fp32=True, checkpointing=True,
                              note="LLaMA-Factory: HF underneath, gradient checkpointing on by default"),
    "unsloth": Framework("unsloth", Loss.CUT, adapter_fp32=False, checkpointing=True, checkpoint_offload=True,
                         note="Unsloth: cut cross-entropy (no full logits), checkpoints offloaded to host RAM"),
    "torchtune": Framework("torchtune", Loss.CHUNKED, adapter_fp32=False, checkpointing=True,
                           full_optimizer=Optimizer.PAGED_ADAMW_8BIT, optimizer_in_backward=True,
                           note="torchtune single-device recipes: chunked cross-entropy, activation checkpointing; "
                                "full: paged 8-bit AdamW in backward"),
    "mlx-lm": Framework("mlx-lm", Loss.FULL_LOGITS, adapter_fp32=False, checkpointing=False, lora_layers=16,
                        note="mlx-lm: adapters on the last 16 layers (--num-layers), --grad-checkpoint off by default"),
}


@dataclass(frozen=True)
class Options:
    """What the user asked for; None means 'the default for this machine and framework'."""

    method: Method = Method.LORA
    seq_len: int = 2048
    batch: int = 1
    grad_accum: int = 8
    checkpointing: Checkpointing = Checkpointing.AUTO
    lora_rank: int = 16
    lora_targets: tuple[str, ...] = LINEARS
    optimizer: Optimizer | None = None
    precision: Precision = Precision.BF16
    framework: str | None = None
    weights: Weights = Weights.BF16
    context: int = 4096


@dataclass(frozen=True)
class Target:
    label: str
    hardware: Hardware
    machine: Any  # facts.Machine, for the 4-bit path verdict
    quant_path: Callable[[str], "ToolVerdict"] | None = None


@dataclass(frozen=True)
class ToolVerdict:
    tool: str
    status: str  # the check's status value
    usable: bool
    reason: str


@dataclass(frozen=True)
class Change:
    what: str
    cost: str
    peak_gb: float
    saves_gb: float
    fit: Fit

    def to_json(self) -> dict:
        return {"change": self.what, "cost": self.cost, "peak_gb": round(self.peak_gb, 2),
                "saves_gb": round(self.saves_gb, 2), "verdict": self.fit.value}


@dataclass(frozen=True)
class MachinePlan:
    target: Target
    framework: Framework
    recipe: Recipe
    breakdown: Breakdown
    peak_gb: float
    host_gb: float
    fit: Fit
    changes: tuple[Change, ...]
    train: SpeedRange | None
    decode: SpeedRange | None
    quant_tool: ToolVerdict | None
    notes: tuple[str, ...] = ()
    paged_out: bool = False  # the optimizer states were evicted to host RAM

    def in_host_ram(self, component) -> bool:
        if self.target.hardware.kind.unified:
            return False
        return component.host or (self.paged_out and component.key == "optimizer")

    @property
    def usable_gb(self) -> float:
        return self.target.hardware.usable_gb

    @property
    def margin_gb(self) -> float:
        return self.usable_gb - self.peak_gb


@dataclass(frozen=True)
class FitResult:
    model: ModelSpec
    options: Options
    plans: tuple[MachinePlan, ...] = field(default_factory=tuple)


def check_options(options: Options) -> None:
    if not 1 <= options.seq_len <= MAX_SEQ_LEN:
        raise BadInput(f"--seq-len {options.seq_len}: give a sequence length from 1 to {MAX_SEQ_LEN}")
    if not 1 <= options.context <= MAX_SEQ_LEN:
        raise BadInput(f"--context {options.context}: give a context from 1 to {MAX_SEQ_LEN}")
    if not 1 <= options.batch <= MAX_BATCH:
        raise BadInput(f"--batch {options.batch}: give a micro-batch from 1 to {MAX_BATCH}")
    if not 1 <= options.grad_accum <= 65536:
        raise BadInput(f"--grad-accum {options.grad_accum}: give 1 to 65536 steps")
    if not 1 <= options.lora_rank <= 4096:
        raise BadInput(f"--lora-rank {options.lora_rank}: give a rank from 1 to 4096")
    unknown = [t for t in options.lora_targets if t not in LINEARS]
    if unknown or not options.lora_targets:
        raise BadInput(f"--lora-targets {','.join(options.lora_targets)}: pick from {','.join(LINEARS)}")
    if options.framework is not None and options.framework not in FRAMEWORKS:
        raise BadInput(f"--framework {options.framework!r}: pick one of {', '.join(FRAMEWORKS)}")


def default_framework(hardware: Hardware) -> str:
    return "mlx-lm" if hardware.kind is MemoryKind.APPLE else "hf"


def quant_format(hardware: Hardware) -> Weights:
    return Weights.MLX_Q4 if hardware.kind is MemoryKind.APPLE else Weights.NF4


def quant_tool_name(hardware: Hardware) -> str:
    return "mlx-lm" if hardware.kind is MemoryKind.APPLE else "bitsandbytes"


def make_recipe(options: Options, framework: Framework, hardware: Hardware, checkpointing: bool) -> Recipe:
    optimizer = options.optimizer or (framework.full_optimizer if options.method is Method.FULL else Optimizer.ADAMW)
    return Recipe(
        method=options.method, seq_len=options.seq_len, batch=options.batch, grad_accum=options.grad_accum,
        checkpointing=checkpointing, checkpoint_offload=framework.checkpoint_offload and checkpointing,
        lora_rank=options.lora_rank, lora_targets=options.lora_targets, lora_layers=framework.lora_layers,
        optimizer=optimizer, precision=options.precision,
        optimizer_in_backward=framework.optimizer_in_backward and options.method is Method.FULL,
        adapter_fp32=framework.adapter_fp32, loss=framework.loss, quant=quant_format(hardware),
        weights=options.weights, context=options.context,
        eager_attention=False,
    )


def peak_gb(model: ModelSpec, recipe: Recipe, hardware: Hardware) -> tuple[float, float, Breakdown]:
    """The accelerator peak and what sits in host RAM. Paged optimizer states stay on a discrete GPU while they
    fit and are evicted to host RAM (over CUDA unified memory) when they do not (capacity.md 6.1)."""
    parts = breakdown(model, recipe)
    device = parts.device_bytes(hardware.kind.unified) / GB + hardware.runtime_overhead_gb
    host = 0.0 if hardware.kind.unified else parts.host_bytes() / GB
    if recipe.optimizer.paged and hardware.kind is MemoryKind.DISCRETE and device > hardware.usable_gb:
        paged = parts.get("optimizer") / GB
        device, host = device - paged, host + paged
    return device, host, parts


def judge_plan(model: ModelSpec, recipe: Recipe, hardware: Hardware) -> tuple[float, Fit]:
    """The peak and the verdict; a plan that fits only by paging its optimizer out is at best tight."""
    peak, host, parts = peak_gb(model, recipe, hardware)
    fit = judge_fit(peak, hardware.usable_gb)
    if recipe.optimizer.paged and host > parts.host_bytes() / GB and fit is Fit.FITS:
        fit = Fit.TIGHT
    return peak, fit


def judge_fit(peak: float, usable: float) -> Fit:
    if peak <= TIGHT_SHARE * usable:
        return Fit.FITS
    return Fit.TIGHT if peak <= usable else Fit.DOES_NOT_FIT


def plan_machine(model: ModelSpec, options: Options, target: Target, with_changes: bool = True) -> MachinePlan:
    hardware = target.hardware
    framework = FRAMEWORKS[options.framework or default_framework(hardware)]
    notes: list[str] = [framework.note]
    quant_tool = None
    if options.method is Method.QLORA:
        quant_tool = target.quant_path(quant_tool_name(hardware)) if target.quant_path else None
        if quant_tool is not None and not quant_tool.usable:
            raise BadInput(f"QLoRA on {target.label} needs a 4-bit path, and {quant_tool.tool} is {quant_tool.status} "
                           f"there ({quant_tool.reason}); use --method lora, the nearest method that works")
    if options.checkpointing is Checkpointing.AUTO:
        checkpointing = framework.checkpointing
        if not checkpointing and options.method is not Method.INFERENCE:
            off = make_recipe(options, framework, hardware, False)
            checkpointing = judge_fit(peak_gb(model, off, hardware)[0], hardware.usable_gb) is not Fit.FITS
            if checkpointing:
                notes.append("gradient checkpointing turned on (auto): without it the plan does not fit comfortably")
    else:
        checkpointing = options.checkpointing is Checkpointing.ON
    recipe = make_recipe(options, framework, hardware, checkpointing)
    peak, host, parts = peak_gb(model, recipe, hardware)
    fit = judge_fit(peak, hardware.usable_gb)
    paged_out = recipe.optimizer.paged and host > parts.host_bytes() / GB
    if paged_out:
        fit = Fit.TIGHT if fit is Fit.FITS else fit
        notes.append("the optimizer states page out to host RAM: it fits, with slower steps")
    if hardware.kind.unified and (recipe.optimizer.paged or recipe.checkpoint_offload):
        notes.append("offload to host RAM saves nothing here: CPU and GPU share one pool, so it is counted")
    if options.method is Method.INFERENCE:
        train = None
        decode = decode_speed(model, options.weights, hardware.decode_bandwidth_gbs, options.context)
    else:
        train = train_speed(model, recipe, hardware.bf16_dense_tflops,
                            "cpu" if hardware.kind is MemoryKind.CPU else framework.name)
        decode = decode_speed(model, recipe.quant if options.method is Method.QLORA else Weights.BF16,
                              hardware.decode_bandwidth_gbs, 0)
    if hardware.bf16_dense_tflops is None and options.method is not Method.INFERENCE:
        notes.append("training speed unknown: no sourced dense BF16 figure for this machine's accelerator")
    changes = tuple(cheapest_changes(model, options, target, framework, recipe, peak, fit)) if (
        with_changes and fit is not Fit.FITS) else ()
    return MachinePlan(target, framework, recipe, parts, peak, host, fit, changes, train, decode, quant_tool,
                       tuple(n for n in notes if n), paged_out)


def _candidates(model: ModelSpec, options: Options, target: Target, recipe: Recipe):
    hardware = target.hardware
    if recipe.method is Method.INFERENCE:
        for fmt in (Weights.FP8, Weights.Q8_0, Weights.Q4_K_M, Weights.NF4):
            if fmt.bits < recipe.weights.bits:
                yield f"--weights {fmt.value}", "some quality loss", recipe.but(weights=fmt)
        if recipe.context > 2048:
            yield f"--context {recipe.context // 2}", "a shorter context", recipe.but(context=recipe.context // 2)
        return
    if hardware.kind is MemoryKind.APPLE and hardware.wired_limit_mb:
        yield (f"sudo sysctl iogpu.wired_limit_mb={hardware.wired_limit_mb} (let the GPU wire all but 8 GB)",
               "none; macOS keeps 8 GB", None)
    if not recipe.checkpointing:
        yield "--gradient-checkpointing on", "about 20-35% slower (one more forward pass)", recipe.but(checkpointing=True)
    if recipe.batch > 1:
        yield (f"--batch 1 --grad-accum {recipe.batch * recipe.grad_accum}", "same tokens per step; a little slower",
               recipe.but(batch=1, grad_accum=recipe.batch * recipe.grad_accum))
    if recipe.optimizer in (Optimizer.ADAMW, Optimizer.PAGED_ADAMW):
        yield "--optimizer adamw-8bit", "negligible quality cost (bitsandbytes 8-bit states)", recipe.but(optimizer=Optimizer.ADAMW_8BIT)
    if hardware.kind is MemoryKind.DISCRETE and not recipe.optimizer.paged:
        yield ("--optimizer paged-adamw-8bit", "slower when states page to host RAM",
               recipe.but(optimizer=Optimizer.PAGED_ADAMW_8BIT))
    if recipe.loss is Loss.FULL_LOGITS:
        yield ("--framework unsloth (cut cross-entropy: no full logits)", "a different framework",
               recipe.but(loss=Loss.CUT))
    if recipe.seq_len > 512:
        yield (f"--seq-len {recipe.seq_len // 2} --grad-accum {recipe.grad_accum * 2}",
               "shorter samples: long examples are cut", recipe.but(seq_len=recipe.seq_len // 2, grad_accum=recipe.grad_accum * 2))
    if recipe.method is Method.FULL:
        yield "--method lora", "adapters instead of every weight", recipe.but(method=Method.LORA, optimizer=Optimizer.ADAMW,
                                                                            optimizer_in_backward=False)
    if recipe.method in (Method.FULL, Method.LORA):
        tool = target.quant_path(quant_tool_name(hardware)) if target.quant_path else None
        if tool is None or tool.usable:
            via = f" via {tool.tool} ({tool.status})" if tool else ""
            yield (f"--method qlora{via}", "4-bit base weights: slower, a small quality cost",
                   recipe.but(method=Method.QLORA, optimizer=Optimizer.ADAMW, optimizer_in_backward=False))
    if hardware.kind is MemoryKind.DISCRETE and recipe.method is Method.FULL:
        yield ("DeepSpeed ZeRO-Offload (optimizer states and gradients in CPU RAM)", "2-5x slower steps",
               "zero-offload")


def _apply(model: ModelSpec, recipe: Recipe, change, hardware: Hardware) -> tuple[float, Fit, Hardware]:
    if change is None:  # raising Apple's wired limit changes the machine, not the recipe
        hardware = replace(hardware, gpu_working_set_fraction=(hardware.wired_limit_mb or 0) * 1.048576 / 1000
                           / hardware.gpu_memory_gb)
        return (*judge_plan(model, recipe, hardware), hardware)
    if change == "zero-offload":
        parts = breakdown(model, recipe)
        peak = (parts.device_bytes(False) - parts.get("optimizer") - parts.get("gradients")) / GB \
            + hardware.runtime_overhead_gb
        return peak, judge_fit(peak, hardware.usable_gb), hardware
    return (*judge_plan(model, change, hardware), hardware)


def cheapest_changes(model: ModelSpec, options: Options, target: Target, framework: Framework, recipe: Recipe,
                     peak: float, now: Fit = Fit.DOES_NOT_FIT) -> list[Change]:
    """Single changes that make the plan fit (or, from tight, fit comfortably), cheapest first; if none does, the
    cheapest combination that does."""
    hardware = target.hardware
    good_enough = (Fit.FITS,) if now is Fit.TIGHT else (Fit.FITS, Fit.TIGHT)
    singles, steps = [], []
    for what, cost, change in _candidates(model, options, target, recipe):
        new_peak, fit, _ = _apply(model, recipe, change, hardware)
        steps.append((what, cost, change))
        if fit in good_enough:
            singles.append(Change(what, cost, new_peak, peak - new_peak, fit))
    if singles:
        return singles
    combined, machine, offload, whats = recipe, hardware, False, []
    for what, cost, change in steps:
        if change is None:
            machine = _apply(model, combined, None, machine)[2]
        elif change == "zero-offload":
            offload = True
        else:
            combined = _merge(combined, change, recipe)
        new_peak, fit, _ = _apply(model, combined, "zero-offload" if offload else combined, machine)
        whats.append(what)
        if fit in good_enough:
            return [Change(" and ".join(whats), "the costs of each", new_peak, peak - new_peak, fit)]
    smaller = smaller_model(model, options, target)
    return [smaller] if smaller else []


def _merge(current: Recipe, change: Recipe, original: Recipe) -> Recipe:
    """Apply what `change` altered relative to the original recipe on top of `current`."""
    updates = {name: getattr(change, name) for name in Recipe.__dataclass_fields__
               if getattr(change, name) != getattr(original, name)}
    return replace(current, **updates)


def smaller_model(model: ModelSpec, options: Options, target: Target) -> Change | None:
    best = None
    for entry in catalog_models().values():
        spec = entry.spec
        if spec.total_params >= model.total_params:
            continue
        plan = plan_machine(spec, options, target, with_changes=False)
        if plan.fit is not Fit.DOES_NOT_FIT and (best is None or spec.total_params > best[0].total_params):
            best = (spec, plan)
    if best is None:
        return None
    spec, plan = best
    return Change(f"a smaller model: {spec.name} ({spec.total_params / 1e9:.1f}B)", "a less capable model",
                  plan.peak_gb, 0.0, plan.fit)


def plan_fit(model: ModelSpec, options: Options, targets: list[Target]) -> FitResult:
    check_options(options)
    return FitResult(model, options, tuple(plan_machine(model, options, t) for t in targets))


def to_json(result: FitResult) -> dict:
    from .. import __version__

    model = result.model
    return {
        "schema": SCHEMA,
        "aidoctor": __version__,
        "model": {"name": model.name, "source": model.source, "params": model.total_params,
                  "active_params": model.active_params, "layers": model.layers, "hidden": model.hidden,
                  "intermediate": model.intermediate, "heads": model.heads, "kv_heads": model.kv_heads,
                  "head_dim": model.head_dim, "vocab": model.vocab, "tied_embeddings": model.tied,
                  "experts": model.experts, "experts_active": model.experts_active},
        "machines": [_plan_json(model, plan) for plan in result.plans],
    }


def _plan_json(model: ModelSpec, plan: MachinePlan) -> dict:
    r = plan.recipe
    return {
        "machine": plan.target.label,
        "hardware": plan.target.hardware.to_json(),
        "framework": plan.framework.name,
        "recipe": {"method": r.method.value, "seq_len": r.seq_len, "batch": r.batch, "grad_accum": r.grad_accum,
                   "gradient_checkpointing": r.checkpointing, "checkpoint_offload": r.checkpoint_offload,
                   "lora_rank": r.lora_rank if r.method.adapters else None,
                   "lora_targets": list(r.lora_targets) if r.method.adapters else None,
                   "lora_layers": r.lora_layers if r.method.adapters else None,
                   "trained_params": trained_params(model, r), "optimizer": r.optimizer.value,
                   "precision": r.precision.value, "optimizer_in_backward": r.optimizer_in_backward,
                   "adapter_dtype": ("fp32" if r.adapter_fp32 else "bf16") if r.method.adapters else None,
                   "loss": r.loss.value, "quantized_base": r.quant.value if r.method is Method.QLORA else None,
                   "weights": r.weights.value if r.method is Method.INFERENCE else None,
                   "context": r.context if r.method is Method.INFERENCE else None},
        "memory": {"components": [{"key": c.key, "label": c.label, "gb": round(c.bytes / GB, 3),
                                   "in_host_ram": plan.in_host_ram(c)}
                                  for c in plan.breakdown.components]
                   + [{"key": "runtime", "label": "CUDA context", "gb": plan.target.hardware.runtime_overhead_gb,
                       "in_host_ram": False}],
                   "peak_gb": round(plan.peak_gb, 2), "host_gb": round(plan.host_gb, 2),
                   "usable_gb": round(plan.usable_gb, 2), "margin_gb": round(plan.margin_gb, 2)},
        "verdict": plan.fit.value,
        "changes": [c.to_json() for c in plan.changes],
        "speed": {"train_tokens_per_s": plan.train.to_json() if plan.train else None,
                  "decode_tokens_per_s": plan.decode.to_json() if plan.decode else None},
        "quantized_path": ({"tool": plan.quant_tool.tool, "status": plan.quant_tool.status,
                            "reason": plan.quant_tool.reason} if plan.quant_tool else None),
        "notes": list(plan.notes),
    }
