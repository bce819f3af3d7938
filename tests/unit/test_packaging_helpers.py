"""Versions, names and requirements read with packaging's helpers instead of by hand."""

from __future__ import annotations

import pytest

from aidoctor.doctor.core.facts import canonical_name
from aidoctor.doctor.install.envstate import is_protected
from aidoctor.doctor.install.run import _requirement_names
from aidoctor.doctor.probes.collect import _macos_at_least


@pytest.mark.parametrize("version, expected", [
    ("12.3", True), ("12.3.1", True), ("14.5", True), ("26.0.1", True), ("13", True),
    ("12.2.1", False), ("11.7.10", False), ("12", False), ("", False), ("unknown", False),
])
def test_macos_at_least_12_3_for_mps(version, expected):
    assert _macos_at_least(version, "12.3") is expected


@pytest.mark.parametrize("name, expected", [
    ("Flash_Attn", "flash-attn"), ("flash-attn", "flash-attn"), ("nvidia.cublas_CU12", "nvidia-cublas-cu12"),
    ("bitsandbytes", "bitsandbytes"), ("Torch__Vision", "torch-vision"),
])
def test_canonical_name_is_pep_503(name, expected):
    assert canonical_name(name) == expected


def test_requirement_names_in_pips_conflict_report():
    # pip's resolver words a conflict this way (pip/_internal/resolution/resolvelib/factory.py)
    text = ("ERROR: Cannot install unsloth==2025.1 because these package versions have conflicting dependencies.\n"
            "The conflict is caused by:\n"
            "    The user requested (constraint) torch==2.15.0\n"
            "    unsloth 2025.1 depends on torch<2.15\n"
            "    unsloth 2025.1 depends on triton!=3.5.0,>=3.0\n")
    names = _requirement_names(text)
    assert {"unsloth", "torch", "triton"} <= set(names)
    assert [n for n in names if is_protected(n)] == ["torch", "torch", "triton"]
    # by hand, "triton!=3.5.0" was cut at "=" into "triton!", which is not protected
