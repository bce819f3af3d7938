"""What derives from the registry (recipes/): the order of the table, each tool's module, what installs protect,
and the tool list in docs/report-schema.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aidoctor.doctor.check.engine import select_tools
from aidoctor.doctor.check.profiles import load as load_profile
from aidoctor.doctor.core.errors import UnknownProfile, UnknownTool
from aidoctor.doctor.core.facts import canonical_name
from aidoctor.doctor.install.envstate import is_protected, protected_stack
from aidoctor.recipes import all_tools, find_tool, module_path, protected

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


# -- names as people type them (issue 12, item 5) --

@pytest.mark.parametrize("typed, tool", [
    ("flash_attn", "flash-attn"), ("Flash-Attn", "flash-attn"), ("flash-attention", "flash-attn"),
    ("Peft", "peft"), (" peft ", "peft"), ("llama-factory", "llamafactory"), ("LLaMA_Factory", "llamafactory"),
    ("mlx_lm", "mlx-lm"), ("mlx.lm", "mlx-lm"), ("liger_kernel", "liger-kernel"),
])
def test_a_tool_is_found_as_pip_finds_a_distribution_and_by_its_aliases(typed, tool):
    assert find_tool(typed).id == tool
    assert [t.id for t in select_tools((typed, tool))] == [tool]  # one tool, however often named


@pytest.mark.parametrize("typed, guess", [("deepspeeed", "deepspeed"), ("flash-atten", "flash-attn"),
                                          ("trasformers", "transformers"), ("llama-factori", "llama-factory")])
def test_a_typo_gets_did_you_mean(typed, guess):
    with pytest.raises(UnknownTool) as raised:
        find_tool(typed)
    assert str(raised.value) == f"unknown tool {typed!r}; did you mean {guess}?"
    assert raised.value.exit_code == 2


def test_a_name_like_no_tool_lists_them_all():
    with pytest.raises(UnknownTool, match="unknown tool 'gromacs'; known tools: torch, triton, flash-attn"):
        find_tool("gromacs")


def test_aliases_name_no_other_tool():
    by_name = {}
    for tool in all_tools().values():
        for name in (tool.id, tool.dist, *tool.aliases):
            assert by_name.setdefault(canonical_name(name), tool.id) == tool.id, name


def test_a_profile_typo_gets_did_you_mean_and_case_does_not_matter():
    assert load_profile("DGX-Spark").name == "dgx-spark"
    with pytest.raises(UnknownProfile, match=r"^unknown profile 'dgx-sparkk'; did you mean dgx-spark\?$"):
        load_profile("dgx-sparkk")
