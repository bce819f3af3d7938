"""transformers: model definitions, tokenizers and the Trainer.

A pure-Python wheel that runs wherever torch does, above a torch floor that
rises by release (below). transformers 5.21 and later need Python >= 3.11: on
Python 3.10 (JetPack 6) pip stops at 5.20.2, which already needs torch 2.6.
"""

from __future__ import annotations

from packaging.version import Version

from ..doctor.dsl.recipe import Recipe
from ..doctor.dsl.rules import Cond, Ctx, Rule, check, conflicts, version
from ..doctor.dsl.tool import Tool


def _torch_floor(releases: str, floor: str, source_version: str) -> Rule:
    return conflicts(
        when=version(releases) & _torch_below(floor),
        msg=f"transformers {releases.replace(',', ' and ')} needs torch {floor} or later at run time; with an older "
            "torch its PyTorch models are unavailable",
        fix=f'pip install -U "torch>={floor}"  # or keep torch: pip install "transformers{_below(releases)}"',
        source=f"https://pypi.org/project/transformers/{source_version}/")


def _torch_below(floor: str) -> Cond:
    """torch older than `floor`, a pre-release of the floor included (PEP 440's "<2.5" would let 2.5.0a0 pass)."""
    bound = Version(floor)

    def test(ctx: Ctx) -> bool | None:
        if ctx.machine.packages is None:
            return None
        have = ctx.machine.package("torch")
        return False if have is None else have < bound

    return check(f"torch older than {floor} installed", test, "packages")


def _below(releases: str) -> str:
    """The newest transformers range that an older torch still gets: "<5.15" for ">=5.15,<5.20"."""
    return "<" + releases.split(",")[0].removeprefix(">=")


# The runtime torch floor rises by release (compat-facts §9, Corrections 2026-12): 5.0 needs torch 2.2,
# 5.1-5.14 need 2.4, 5.15-5.19 need 2.5, 5.20 and later 2.6. NVIDIA's JetPack 6 torch (2.5.0a0, a pre-release
# of 2.5) therefore stops at transformers 5.14.
RULES = (
    _torch_floor(">=5.0,<5.1", "2.2", "5.0.0"),
    _torch_floor(">=5.1,<5.15", "2.4", "5.14.0"),
    _torch_floor(">=5.15,<5.20", "2.5", "5.19.0"),
    _torch_floor(">=5.20", "2.6", "5.24.0"),
)

TOOL = Tool(
    id="transformers",
    dist="transformers",
    summary="Hugging Face models, tokenizers and the Trainer",
    order=90,
    rules=RULES,
    install="pip install transformers",
    homepage="https://github.com/huggingface/transformers",
    recipe=Recipe(smoke="transformers.py"),
)
