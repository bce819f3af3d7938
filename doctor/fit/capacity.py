"""compare's capacity section: for a few standard models and the three training methods, the plan on each machine."""

from __future__ import annotations

from ..core.errors import BadInput
from .memory import Method
from .models import catalog
from .plan import MachinePlan, Options, Target, plan_machine

STANDARD_MODELS = ("llama-3.2-3b", "llama-3.1-8b", "qwen2.5-32b", "llama-3.1-70b")
METHODS = (Method.FULL, Method.LORA, Method.QLORA)


def capacity_rows(targets: list[Target]) -> list[tuple[str, str, list[MachinePlan | str]]]:
    rows = []
    for key in STANDARD_MODELS:
        spec = catalog()[key].spec
        for method in METHODS:
            cells: list[MachinePlan | str] = []
            for target in targets:
                try:
                    cells.append(plan_machine(spec, Options(method=method), target, with_changes=False))
                except BadInput as exc:  # QLoRA with no 4-bit path there
                    cells.append(f"no 4-bit path ({exc})" if method is Method.QLORA else str(exc))
            rows.append((key, method.value, cells))
    return rows


def capacity_json(rows) -> list[dict]:
    out = []
    for model, method, cells in rows:
        for cell in cells:
            if isinstance(cell, str):
                out.append({"model": model, "method": method, "verdict": None, "problem": cell})
                continue
            out.append({"model": model, "method": method, "machine": cell.target.label, "verdict": cell.fit.value,
                        "peak_gb": round(cell.peak_gb, 2), "usable_gb": round(cell.usable_gb, 2),
                        "framework": cell.framework.name,
                        "train_tokens_per_s": cell.train.to_json() if cell.train else None,
                        "decode_tokens_per_s": cell.decode.to_json() if cell.decode else None})
    return out
