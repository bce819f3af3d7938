"""What derives from the registry (recipes/): the order of the table, each tool's module, what installs protect,
and the tool list in docs/report-schema.md."""

from __future__ import annotations

import re
from pathlib import Path

from aidoctor.doctor.install.envstate import is_protected, protected_stack
from aidoctor.recipes import all_tools, module_path, protected

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "report-schema.md"


def test_the_table_reads_the_stack_from_the_bottom_up_by_each_tools_order():
    tools = list(all_tools().values())
    assert [t.order for t in tools] == sorted(t.order for t in tools)
    assert [t.id for t in tools][:3] == ["torch", "triton", "flash-attn"]
    assert [t.id for t in tools][-2:] == ["mlx", "mlx-lm"]


def test_each_tool_names_the_module_that_declares_it():
    for tool in all_tools().values():
        path = Path(__file__).resolve().parents[2] / module_path(tool)
        assert path.is_file() and f'id="{tool.id}"' in path.read_text(encoding="utf-8"), tool.id
    assert module_path(all_tools()["flash-attn-3"]) == "recipes/flash_attn_3.py"


def test_torch_and_triton_declare_what_no_install_may_replace():
    declared = {tool.id: [group.label for group in tool.protects] for tool in all_tools().values() if tool.protects}
    assert declared == {"torch": ["torch", "the CUDA libraries"], "triton": ["triton"]}
    assert [group.label for group in protected()] == ["torch", "triton", "the CUDA libraries"]
    assert protected_stack() == "torch, triton and the CUDA libraries"
    assert protected_stack("or") == "torch, triton or the CUDA libraries"


def test_the_protected_set_is_the_torch_family_and_the_cuda_wheels():
    for name in ("torch", "torchvision", "torchaudio", "triton", "pytorch-triton", "pytorch_triton_rocm",
                 "nvidia-cudnn-cu12", "nvidia_nccl_cu13", "cuda-toolkit", "Torch"):
        assert is_protected(name), name
    for name in ("peft", "flash-attn", "torchao", "bitsandbytes", "nvidia", "tritonclient"):
        assert not is_protected(name), name


def test_the_report_schema_lists_every_tool_in_the_registrys_order():
    row = next(line for line in SCHEMA_DOC.read_text(encoding="utf-8").splitlines()
               if line.startswith("| `verdicts[].tool` |"))
    documented = re.findall(r"`([a-z0-9-]+)`", row.split("the tool id:", 1)[1])
    assert documented == list(all_tools()), (
        "docs/report-schema.md's tool list differs from recipes/: list the tool ids there in the registry's order")
