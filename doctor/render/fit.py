"""Rendering of `aidoctor fit` and of compare's capacity section. No decisions are made here."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..fit.memory import GB, Method
from ..fit.plan import Fit, FitResult, MachinePlan

FIT_STYLE = {Fit.FITS: "green", Fit.TIGHT: "yellow", Fit.DOES_NOT_FIT: "red"}


def _speed(low: float, high: float) -> str:
    fmt = (lambda v: f"{v:,.0f}") if high >= 20 else (lambda v: f"{v:.1f}")
    return f"{fmt(low)}-{fmt(high)}"


def render_fit(result: FitResult, out: Console) -> None:
    model = result.model
    moe = f", {model.active_params / 1e9:.2f}B active ({model.experts_active} of {model.experts} experts)" if model.moe else ""
    out.print(Text(f"aidoctor fit · {model.name}: {model.total_params / 1e9:.2f}B params{moe} · "
                   f"{model.layers} layers, hidden {model.hidden}, {model.heads}/{model.kv_heads} heads, vocab {model.vocab:,}"
                   f"{', tied embeddings' if model.tied else ''}"))
    out.print(Text(f"  config: {model.source}", style="dim"))
    for plan in result.plans:
        out.print()
        _render_plan(plan, out)


def _recipe_line(plan: MachinePlan) -> str:
    r = plan.recipe
    if r.method is Method.INFERENCE:
        return f"inference · weights {r.weights.value} · context {r.context:,} · batch {r.batch}"
    parts = [r.method.value, f"framework {plan.framework.name}", f"seq-len {r.seq_len}", f"batch {r.batch}",
             f"grad-accum {r.grad_accum}",
             f"checkpointing {'on' + (' (offloaded)' if r.checkpoint_offload else '') if r.checkpointing else 'off'}",
             f"optimizer {r.optimizer.value}" + (" in backward" if r.optimizer_in_backward else "")]
    if r.method is Method.FULL:
        parts.append(f"precision {r.precision.value}")
    else:
        layers = f" on {r.lora_layers} layers" if r.lora_layers else ""
        parts.append(f"LoRA r{r.lora_rank} on {','.join(r.lora_targets)}{layers}")
    if r.method is Method.QLORA:
        parts.append(f"base {r.quant.value}")
    parts.append(f"loss {r.loss.value}")
    return " · ".join(parts)


def _render_plan(plan: MachinePlan, out: Console) -> None:
    hw = plan.target.hardware
    out.print(Text(f"{plan.target.label}", style="bold") + Text(f"  usable {plan.usable_gb:.1f} GB: {hw.usable_why}"))
    out.print(Text(f"  {_recipe_line(plan)}", style="dim"))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("memory")
    table.add_column("GB", justify="right")
    for c in plan.breakdown.components:
        where = " (host RAM)" if plan.in_host_ram(c) else ""
        table.add_row(Text(c.label + where), Text(f"{c.bytes / GB:.2f}"))
    if hw.runtime_overhead_gb:
        table.add_row(Text("CUDA context"), Text(f"{hw.runtime_overhead_gb:.2f}"))
    table.add_row(Text("peak", style="bold"), Text(f"{plan.peak_gb:.1f}", style="bold"))
    out.print(table)
    margin = plan.margin_gb
    out.print(Text("  verdict: ") + Text(plan.fit.value, style=FIT_STYLE[plan.fit])
              + Text(f" ({plan.peak_gb:.1f} of {plan.usable_gb:.1f} GB, "
                     f"{'margin' if margin >= 0 else 'short by'} {abs(margin):.1f} GB)"))
    if plan.host_gb:
        out.print(Text(f"  plus {plan.host_gb:.1f} GB in host RAM"))
    if plan.quant_tool:
        q = plan.quant_tool
        out.print(Text(f"  4-bit path: {q.tool} is {q.status} here" + (f" ({q.reason})" if q.reason else "")))
    if plan.train:
        out.print(Text(f"  training: {_speed(plan.train.low, plan.train.high)} tokens/s"))
        out.print(Text(f"    {plan.train.assumptions}", style="dim"))
    if plan.decode:
        out.print(Text(f"  generation: {_speed(plan.decode.low, plan.decode.high)} tokens/s"))
        out.print(Text(f"    {plan.decode.assumptions}", style="dim"))
    if plan.changes:
        out.print(Text("  cheapest changes that make it fit:"))
        for change in plan.changes:
            saves = f", saves {change.saves_gb:.1f} GB" if change.saves_gb > 0 else ""
            out.print(Text(f"    {change.what}: peak {change.peak_gb:.1f} GB ({change.fit.value}{saves}); cost: {change.cost}"))
    elif plan.fit is Fit.DOES_NOT_FIT:
        out.print(Text("  no change in the catalog of changes makes it fit here"))
    for note in plan.notes:
        out.print(Text(f"  note: {note}", style="dim"))


def render_capacity(rows: list[tuple[str, str, list[MachinePlan | str]]], names: list[str], out: Console) -> None:
    """compare's capacity section: one row per model and method, one cell per machine."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title="capacity (aidoctor fit defaults: "
                  "seq-len 2048, batch 1, each machine's default framework)", title_justify="left")
    table.add_column("model")
    table.add_column("method")
    for name in names:
        table.add_column(name, overflow="fold")
    for model, method, cells in rows:
        rendered = []
        for cell in cells:
            if isinstance(cell, str):
                rendered.append(Text(cell, style="red"))
                continue
            text = Text(cell.fit.value, style=FIT_STYLE[cell.fit]) + Text(f" {cell.peak_gb:.0f}/{cell.usable_gb:.0f} GB")
            if cell.train:
                text += Text(f"\ntrain {_speed(cell.train.low, cell.train.high)} tok/s", style="dim")
            if cell.decode:
                text += Text(f"\ngenerate {_speed(cell.decode.low, cell.decode.high)} tok/s", style="dim")
            rendered.append(text)
        table.add_row(Text(model, style="bold"), Text(method), *rendered)
    out.print(table)
