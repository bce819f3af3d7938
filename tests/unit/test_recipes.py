"""The tool recipes: the registry, the shape of every rule, and verdicts on real machines.

The machines are the built-in profiles (doctor/check/profiles/*.json, built from the recorded outputs of
real GB10, GH200, Jetson Orin and Thor, Apple M4 Max, H100, RTX 4090 and Graviton3 boxes in
/work/shared/fixtures): the one description of each machine. What the package index offers each of them is
the real `Index` reading the answers recorded in tests/fixtures/index/ (offline), picked by the real
`select()`. Every verdict on every profile is pinned by the golden files in test_expected_verdicts.py; the
tests here keep the specific claims, and the variants (another torch, no toolkit) say what they change.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from pathlib import Path

import pytest

import aidoctor.recipes as recipes_pkg
from aidoctor.doctor.core.facts import Apple, FactState, Gpu, Jetson, Machine, TorchBuild
from aidoctor.doctor.check.index import Availability, Offer, select
from aidoctor.doctor.check.profiles import load as load_profile
from aidoctor.doctor.dsl.rules import Ctx, Status
from aidoctor.doctor.dsl.tool import Tool
from aidoctor.doctor.check.verdicts import Verdict, evaluate
from aidoctor.recipes import all_tools

from ..recorded import recorded_index

IDS = set(all_tools())
NVCC_NOT_FOUND = "nvcc not found (no CUDA toolkit on PATH, CUDA_HOME or /usr/local/cuda)"
RECORDED_INDEX = recorded_index()

# -- machines: the built-in profiles --

PROFILES = {"gb10": "dgx-spark", "gh200": "gh200", "orin": "jetson-agx-orin", "thor": "jetson-thor",
            "mac": "mac-studio-m4-max", "h100": "h100", "rtx4090": "rtx-4090", "graviton": "graviton"}
MACHINES = {key: load_profile(name).machine for key, name in PROFILES.items()}
GB10, GH200, ORIN, THOR, MAC, H100, GRAVITON = (MACHINES[key] for key in ("gb10", "gh200", "orin", "thor", "mac", "h100", "graviton"))
# The rtx-4090 profile says nothing about a toolkit; the box recorded in x86-nvidia.md §3c had no nvcc.
RTX4090 = dataclasses.replace(MACHINES["rtx4090"],
                              unknown={**MACHINES["rtx4090"].unknown, "cuda_toolkit": NVCC_NOT_FOUND},
                              states={**MACHINES["rtx4090"].states, "cuda_toolkit": FactState.ABSENT})
MACHINES["rtx4090"] = RTX4090
# The h100 profile leaves the toolkit unknown; the H100 box recorded in tests/machines/h100-x86 has nvcc 12.8.
H100_NVCC = dataclasses.replace(H100, cuda_toolkit="12.8", cuda_home="/usr/local/cuda",
                                unknown={k: v for k, v in H100.unknown.items()
                                         if k not in ("cuda_toolkit", "cuda_home")},
                                states={k: v for k, v in H100.states.items() if k not in ("cuda_toolkit", "cuda_home")})
LINUX_ARM = ("gb10", "gh200", "orin", "thor", "graviton")


def available(tool: str, key: str) -> Availability | None:
    """What the recorded index offers MACHINES[key], as `aidoctor check --offline` would pick it."""
    spec = all_tools()[tool]
    if not spec.on_index:
        return None
    machine = MACHINES[key]
    project = RECORDED_INDEX.projects([spec.dist_name])[spec.dist_name]
    assert not isinstance(project, str), project
    return select(project, machine)


def wheel(version: str, filename: str) -> Availability:
    name = filename.split("-", 1)[0]
    return Availability(Offer.WHEEL, version, filename, (), f"wheel {filename} on the package index",
                        f"https://pypi.org/project/{name}/")


def sdist(name: str, version: str) -> Availability:
    return Availability(Offer.SDIST, version, None, (), f"no wheel for this platform on the package index; pip would "
                        f"build {name} {version} from its source distribution", f"https://pypi.org/project/{name}/")


def nothing(name: str) -> Availability:
    return Availability(Offer.NONE, reason=f"no release of {name} has a wheel or source distribution for this platform",
                        source=f"https://pypi.org/project/{name}/")


def verdict(tool: str, key: str, machine: Machine | None = None, avail: Availability | None = None) -> Verdict:
    return evaluate(all_tools()[tool], machine or MACHINES[key], avail or available(tool, key),
                    watched=frozenset({"torch", "transformers", "trl", "peft"}))


def with_torch(machine: Machine, version: str, cuda: str | None, arch_list: tuple[str, ...], **more) -> Machine:
    packages = {"torch": version, **more}
    return dataclasses.replace(machine, packages=packages,
                               torch_build=TorchBuild(version=version, cuda=cuda, arch_list=arch_list))


def text(v: Verdict) -> str:
    return " | ".join((*v.reasons, *v.fixes, *v.sources))


TORCH_215_ARM = ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120")  # libtorch_python of the 2.15.0 aarch64 wheel
TORCH_214_ARM = ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120")


# -- the registry and the shape of every rule --

def _modules():
    return [m.name for m in pkgutil.iter_modules(recipes_pkg.__path__) if not m.name.startswith("_")]


def test_the_registry_holds_one_tool_per_recipe_module():
    assert sorted(tool.replace("-", "_") for tool in all_tools()) == sorted(_modules())
    assert len(all_tools()) >= 20


@pytest.mark.parametrize("name", _modules())
def test_every_module_exports_a_tool_named_after_it(name):
    module = importlib.import_module(f"aidoctor.recipes.{name}")
    assert isinstance(module.TOOL, Tool)
    assert module.TOOL.id.replace("-", "_") == name
    assert module.__doc__ and module.__doc__.strip()


@pytest.mark.parametrize("tool", sorted(IDS))
def test_every_rule_has_a_reason_a_source_and_a_fix_or_an_explicit_none(tool):
    spec = all_tools()[tool]
    assert spec.rules, f"{tool} declares no rule"
    assert spec.install.strip() and spec.summary.strip()
    for rule in spec.rules:
        assert rule.msg.strip() and len(rule.msg) > 20
        assert rule.source.startswith("https://") and " " not in rule.source
        assert rule.fix is None or (isinstance(rule.fix, str) and rule.fix.strip())


def test_flash_attn_3_is_not_on_the_index():
    assert all_tools()["flash-attn-3"].on_index is False
    assert all_tools()["flash-attn-3"].dist == "flash_attn_3"


# -- pure-Python Hugging Face tools: fine wherever a wheel is --

@pytest.mark.parametrize("key", sorted(MACHINES))
@pytest.mark.parametrize("tool", ["peft", "trl", "transformers", "accelerate"])
def test_hugging_face_libraries_are_ok_everywhere_given_a_wheel(tool, key):
    v = verdict(tool, key)
    if v.available.newest is None:
        assert v.status is Status.OK, v.reasons
    else:  # an older release for this Python (Orin's 3.10): it works, and the verdict names what is missed
        assert v.status is Status.CAVEATS and any(f"newer {v.available.newest} needs Python" in r for r in v.reasons)


def test_transformers_pin_on_old_torch():
    v = verdict("transformers", "h100", with_torch(H100, "2.5.1", "12.4", ("sm_80", "sm_90")))
    assert v.status is Status.UNSUPPORTED
    assert any("torch>=2.6" in f for f in v.fixes)


# -- torch --

def test_cpu_torch_on_gb10_is_unsupported():
    v = verdict("torch", "gb10", with_torch(GB10, "2.10.0+cpu", None, ()))
    assert v.status is Status.UNSUPPORTED
    assert "CPU-only" in v.reasons[0]
    assert "https://github.com/pytorch/pytorch/issues/160162" in v.sources
    assert any("whl/cu130" in f for f in v.fixes)  # driver 580: a CUDA 13 build


def test_cpu_torch_on_gh200_with_an_old_driver_gets_a_cuda12_build():
    v = verdict("torch", "gh200", with_torch(GH200, "2.10.0+cpu", None, ()))
    assert v.status is Status.UNSUPPORTED
    assert any("whl/cu128" in f for f in v.fixes)


def test_torch_215_on_gb10_runs_sm120_code():
    v = verdict("torch", "gb10", with_torch(GB10, "2.15.0+cu132", "13.2", TORCH_215_ARM))
    assert v.status in (Status.OK, Status.CAVEATS)
    assert v.status is Status.CAVEATS
    assert "sm_120" in v.reasons[0] and "harmless" in v.reasons[0]


def test_torch_215_pypi_build_on_orin_is_not_ok():
    # sm_80 would run on 8.7 by NVIDIA's cubin rule, but this is an SBSA CUDA 13 build on L4T.
    v = verdict("torch", "orin", with_torch(ORIN, "2.15.0+cu132", "13.2", TORCH_215_ARM))
    assert v.status is Status.UNSUPPORTED
    assert any("sm_87" in r for r in v.reasons)
    assert any("CUDA major" in r or "newer CUDA major" in r for r in v.reasons)
    assert any("jetson-ai-lab.io/jp6/cu126" in f for f in v.fixes)


def test_jetson_torch_build_on_orin_is_ok():
    v = verdict("torch", "orin", with_torch(ORIN, "2.8.0", "12.6", ("sm_87",)))
    assert v.status is Status.OK, v.reasons


# An installed torch linking a CUDA runtime newer than the driver, or with no kernel for the GPU, is the
# binary audit's finding now (tests/test_audit.py: test_cuda_runtime_newer_than_the_driver,
# test_sm80_only_extension_on_recorded_gpus), read from the files instead of a rule per tool.


def test_torch_to_install_on_gh200_needs_driver_580():
    v = verdict("torch", "gh200")  # PyPI would give 2.15.0+cu132
    assert v.status is Status.UNSUPPORTED
    assert any("580" in r for r in v.reasons)
    assert any("whl/cu128" in f for f in v.fixes)


def test_torch_to_install_on_rtx4090_with_driver_550_is_unsupported():
    assert verdict("torch", "rtx4090").status is Status.UNSUPPORTED


def test_torch_to_install_on_orin_comes_from_the_jetson_index():
    v = verdict("torch", "orin")
    assert v.status is Status.BUILD
    assert any("https://pypi.jetson-ai-lab.io/jp6/cu126" in f for f in v.fixes)


def test_torch_210_to_install_on_aarch64_nvidia_is_cpu_only():
    v = verdict("torch", "gb10", avail=wheel("2.10.0", "torch-2.10.0-cp39-cp39-manylinux_2_28_aarch64.whl"))
    assert v.status is Status.UNSUPPORTED
    assert any("CPU-only" in r for r in v.reasons)


@pytest.mark.parametrize("key", ["gb10", "h100", "thor", "mac"])
def test_torch_to_install_is_usable(key):
    assert verdict("torch", key).status.usable


def test_torch_on_graviton_suggests_the_cpu_wheel():
    v = verdict("torch", "graviton")
    assert v.status is Status.CAVEATS
    assert any("whl/cpu" in f for f in v.fixes)


def test_torch_cpu_only_on_a_mac_is_fine():
    assert verdict("torch", "mac", with_torch(MAC, "2.15.0", None, ())).status is Status.OK


def test_torch_215_on_a_v100_points_at_the_cu126_index():
    v100 = dataclasses.replace(H100, gpus=(Gpu(vendor="nvidia", name="Tesla V100-SXM2-16GB",
                                                compute_capability="7.0"),))
    v = verdict("torch", "h100", v100)
    assert v.status is Status.UNSUPPORTED
    assert any("whl/cu126" in f for f in v.fixes)


def test_mps_unusable_under_rosetta():
    rosetta = dataclasses.replace(MAC, python_translated=True, apple=Apple(chip="Apple M1", mps=False))
    v = verdict("torch", "mac", rosetta, wheel("2.2.2", "torch-2.2.2-cp312-none-macosx_10_9_x86_64.whl"))
    assert v.status is Status.CAVEATS
    assert any("Rosetta" in r for r in v.reasons)


# -- triton --

# An installed triton's bundled ptxas is read by the binary audit (tests/test_audit.py); these rules judge
# the release pip would install.

def test_triton_350_to_install_on_gb10_needs_the_toolkit_ptxas():
    machine = dataclasses.replace(GB10, packages={})
    v = verdict("triton", "gb10", machine, wheel("3.5.0", "triton-3.5.0-cp312-cp312-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl"))
    assert v.status is Status.CAVEATS
    assert "sm_121a" in v.reasons[0]
    assert "export TRITON_PTXAS_PATH=/usr/local/cuda/bin/ptxas" in v.fixes


def test_triton_350_to_install_on_gb10_without_a_toolkit_is_unsupported():
    machine = dataclasses.replace(GB10, cuda_toolkit=None, unknown={"cuda_toolkit": NVCC_NOT_FOUND},
                                  states={"cuda_toolkit": FactState.ABSENT}, packages={})
    v = verdict("triton", "gb10", machine, wheel("3.5.0", "triton-3.5.0-cp312-cp312-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl"))
    assert v.status is Status.UNSUPPORTED
    assert any("TRITON_PTXAS_PATH" in f for f in v.fixes)


def test_triton_360_to_install_on_gb10_is_ok():
    """3.6.0 adds a 12.9 ptxas, which knows sm_121 (compat-facts §9)."""
    machine = dataclasses.replace(GB10, packages={})
    v = verdict("triton", "gb10", machine, wheel("3.6.0", "triton-3.6.0-cp312-cp312-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl"))
    assert v.status is Status.OK


def test_triton_39_on_gb10_is_ok():
    assert verdict("triton", "gb10").status is Status.OK


def test_triton_on_a_mac_is_unsupported_with_a_reason():
    v = verdict("triton", "mac")
    assert v.status is Status.UNSUPPORTED
    assert "Linux only" in v.reasons[0]


def test_triton_on_graviton_has_no_cpu_backend():
    v = verdict("triton", "graviton")
    assert v.status is Status.UNSUPPORTED
    assert any("no CPU backend" in r for r in v.reasons)


def test_triton_on_orin_needs_the_jetson_build():
    assert verdict("triton", "orin").status is Status.BUILD


# -- flash-attn and FlashAttention 3 --

def test_flash_attn_on_a_mac_is_unsupported_with_sdpa():
    v = verdict("flash-attn", "mac")
    assert v.status is Status.UNSUPPORTED
    assert "CUDA-only" in v.reasons[0]
    assert "sdpa" in v.alternative
    assert not any(f.startswith("alternative:") for f in v.fixes)  # its own field, not a fix
    assert v.to_json()["alternative"] == v.alternative


def test_flash_attn_on_gb10_builds_for_120():
    v = verdict("flash-attn", "gb10")
    assert v.status is Status.BUILD
    assert any("FLASH_ATTN_CUDA_ARCHS=120" in f and "MAX_JOBS=" in f for f in v.fixes)
    assert not any("FLASH_ATTN_CUDA_ARCHS=121" in f for f in v.fixes)


@pytest.mark.parametrize("key, archs", [("gh200", "90"), ("h100", "90"), ("orin", "80"), ("thor", "110"),
                                        ("rtx4090", "80")])
def test_flash_attn_build_targets(key, archs):
    v = verdict("flash-attn", key, H100_NVCC if key == "h100" else None)
    assert v.status is Status.BUILD
    assert any(f"FLASH_ATTN_CUDA_ARCHS={archs} " in f for f in v.fixes)


def test_flash_attn_on_thor_builds_from_main():
    v = verdict("flash-attn", "thor")
    assert any("git+https://github.com/Dao-AILab/flash-attention.git" in f for f in v.fixes)


def test_flash_attn_without_nvcc_says_so():
    v = verdict("flash-attn", "rtx4090")
    assert any("nvcc" in r for r in v.reasons)
    assert any("cuda-toolkit" in f for f in v.fixes)


def test_flash_attn_on_turing_is_unsupported():
    t4 = dataclasses.replace(H100, gpus=(Gpu(vendor="nvidia", name="Tesla T4", compute_capability="7.5"),))
    v = verdict("flash-attn", "h100", t4)
    assert v.status is Status.UNSUPPORTED
    assert any('flash-attn<2' in f for f in v.fixes)


def test_flash_attn_3_builds_on_h100():
    v = verdict("flash-attn-3", "h100", H100_NVCC)
    assert v.status is Status.BUILD
    assert any("flash-attention/hopper" in f for f in v.fixes)


@pytest.mark.parametrize("key", ["gb10", "orin", "thor", "rtx4090"])
def test_flash_attn_3_needs_hopper(key):
    v = verdict("flash-attn-3", key)
    assert v.status is Status.UNSUPPORTED
    assert any("sm_90a" in r for r in v.reasons)


def test_flash_attn_3_on_a_mac_is_unsupported():
    assert verdict("flash-attn-3", "mac").status is Status.UNSUPPORTED


def test_flash_attn_3_installed_on_h100_is_ok():
    machine = dataclasses.replace(H100, packages={"flash-attn-3": "3.0.0b1"})
    assert verdict("flash-attn-3", "h100", machine).status is Status.OK


# -- bitsandbytes, xformers, deepspeed, torchao, liger --

def test_bitsandbytes_on_orin_is_a_build_with_1930():
    v = verdict("bitsandbytes", "orin")
    assert v.status is Status.BUILD
    assert "https://github.com/bitsandbytes-foundation/bitsandbytes/issues/1930" in v.sources
    assert "named symbol not found" in v.reasons[0]
    assert any("-DCOMPUTE_CAPABILITY=87" in f for f in v.fixes)


@pytest.mark.parametrize("key", ["gb10", "gh200", "h100", "thor", "graviton"])
def test_bitsandbytes_works_on_sbsa_and_x86(key):
    assert verdict("bitsandbytes", key).status is Status.OK


def test_bitsandbytes_on_a_mac_has_caveats():
    v = verdict("bitsandbytes", "mac")
    assert v.status is Status.CAVEATS
    assert "8-bit optimizers" in v.reasons[0]


@pytest.mark.parametrize("key", ["gb10", "gh200", "orin", "thor"])
def test_xformers_on_aarch64_is_a_build(key):
    v = verdict("xformers", key)
    assert v.status is Status.BUILD
    assert any("TORCH_CUDA_ARCH_LIST" in f or "jetson-containers" in f for f in v.fixes)


def test_xformers_on_a_mac_is_unsupported():
    v = verdict("xformers", "mac")
    assert v.status is Status.UNSUPPORTED
    assert v.alternative


def test_xformers_on_h100_is_ok():
    assert verdict("xformers", "h100").status is Status.OK


def test_deepspeed_without_nvcc_warns_about_jit_ops():
    machine = dataclasses.replace(RTX4090, packages={"deepspeed": "0.19.8"})
    v = verdict("deepspeed", "rtx4090", machine)
    assert v.status is Status.CAVEATS
    assert any("nvcc" in r for r in v.reasons)


def test_deepspeed_cuda_mismatch_on_gb10():
    machine = with_torch(GB10, "2.15.0+cu132", "13.2", TORCH_215_ARM, deepspeed="0.19.8")
    v = verdict("deepspeed", "gb10", machine)
    assert v.status is Status.CAVEATS
    assert any("DS_SKIP_CUDA_CHECK=1" in f for f in v.fixes)


def test_deepspeed_on_a_mac_uses_mps_or_cpu():
    machine = dataclasses.replace(MAC, packages={"deepspeed": "0.19.8"})
    v = verdict("deepspeed", "mac", machine)
    assert v.status is Status.CAVEATS
    assert any("mps" in r for r in v.reasons)


def test_torchao_float8_needs_ada_on_orin():
    v = verdict("torchao", "orin")
    assert v.status is Status.CAVEATS
    assert any("8.9" in r for r in v.reasons)


def test_torchao_on_h100_is_ok():
    assert verdict("torchao", "h100").status is Status.OK


def test_liger_kernel_follows_triton():
    assert verdict("liger-kernel", "mac").status is Status.UNSUPPORTED
    assert verdict("liger-kernel", "graviton").status is Status.UNSUPPORTED
    assert verdict("liger-kernel", "h100").status is Status.OK
    assert verdict("liger-kernel", "orin").status is Status.BUILD


# -- the fine-tuning frameworks --

def test_unsloth_with_torch_215_is_unsupported():
    machine = with_torch(GB10, "2.15.0+cu132", "13.2", TORCH_215_ARM, unsloth="2026.10.9")
    v = verdict("unsloth", "gb10", machine)
    assert v.status is Status.UNSUPPORTED
    assert "torch >= 2.4, < 2.15" in v.reasons[0]
    assert 'pip install "torch>=2.4,<2.15"' in v.fixes
    assert "https://pypi.org/project/unsloth/2026.10.9/" in v.sources


def test_unsloth_on_gb10_has_the_spark_caveats():
    v = verdict("unsloth", "gb10")
    assert v.status is Status.CAVEATS
    assert any("fast_inference" in r for r in v.reasons)
    assert "pip install --no-deps unsloth unsloth_zoo bitsandbytes" in v.fixes


def test_unsloth_on_a_mac_uses_mlx():
    v = verdict("unsloth", "mac")
    assert v.status is Status.CAVEATS
    assert any("MLX" in r for r in v.reasons)


def test_unsloth_needs_a_gpu():
    v = verdict("unsloth", "graviton")
    assert v.status is Status.UNSUPPORTED
    assert "You need a GPU." in v.reasons[0]


def test_unsloth_with_cpu_torch_on_gb10():
    v = verdict("unsloth", "gb10", with_torch(GB10, "2.10.0+cpu", None, ()))
    assert v.status is Status.UNSUPPORTED
    assert "https://github.com/unslothai/unsloth/issues/3553" in v.sources


def test_axolotl_on_orin_is_unsupported():
    v = verdict("axolotl", "orin")
    assert v.status is Status.UNSUPPORTED
    assert any("Python 3.12" in r and "3.10" in r for r in v.reasons)


def test_axolotl_with_torch_215_is_unsupported_once_installed_and_a_caveat_before():
    machine = with_torch(H100, "2.15.0+cu132", "13.2", ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"))
    installed = verdict("axolotl", "h100", dataclasses.replace(machine, packages={**machine.packages,
                                                                                  "axolotl": "0.21.0"}))
    assert installed.status is Status.UNSUPPORTED
    assert 'pip install "torch>=2.13,<2.15"' in installed.fixes
    # Before the install pip would bring a torch the wheel accepts (its own metadata pins it): a caveat.
    offered = dataclasses.replace(available("axolotl", "h100"), requires_dist=("torch<2.15.0,>=2.13.0",))
    before = verdict("axolotl", "h100", machine, offered)
    assert before.status is Status.CAVEATS
    assert any("pip would replace the installed torch 2.15.0+cu132" in r for r in before.reasons)


def test_axolotl_on_h100_is_ok():
    assert verdict("axolotl", "h100").status is Status.OK


def test_llamafactory_refuses_a_new_transformers():
    machine = dataclasses.replace(H100, packages={"llamafactory": "0.9.5", "transformers": "5.23.0"})
    v = verdict("llamafactory", "h100", machine)
    assert v.status is Status.UNSUPPORTED
    assert any("transformers<=5.6" in f for f in v.fixes)


def test_torchtune_is_unmaintained():
    v = verdict("torchtune", "h100")
    assert v.status is Status.CAVEATS
    assert "https://github.com/meta-pytorch/torchtune/issues/2883" in v.sources


# -- vllm --

def test_vllm_033_with_torch_215_is_unsupported():
    machine = with_torch(H100, "2.15.0+cu132", "13.2", ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"),
                         vllm="0.33.0")
    v = verdict("vllm", "h100", machine)
    assert v.status is Status.UNSUPPORTED
    assert "torch == 2.14.0" in v.reasons[0]
    assert 'pip install "torch==2.14.0"' in v.fixes


def test_vllm_on_h100_is_ok():
    assert verdict("vllm", "h100").status is Status.OK


def test_vllm_on_gb10_has_caveats():
    v = verdict("vllm", "gb10")
    assert v.status is Status.CAVEATS
    assert any("12.1" in r for r in v.reasons)


def test_vllm_on_gh200_needs_driver_580():
    v = verdict("vllm", "gh200")
    assert v.status is Status.UNSUPPORTED
    assert any("580" in r for r in v.reasons)


def test_vllm_on_a_mac_is_unsupported_with_alternatives():
    v = verdict("vllm", "mac")
    assert v.status is Status.UNSUPPORTED
    assert "vllm-metal" in v.alternative


def test_vllm_on_orin_comes_from_jetson_containers():
    assert verdict("vllm", "orin").status is Status.BUILD


def test_vllm_on_graviton_takes_the_cpu_wheel():
    v = verdict("vllm", "graviton")
    assert v.status is Status.BUILD
    assert any("+cpu-cp38-abi3-manylinux_2_34_aarch64.whl" in f for f in v.fixes)
    assert any("FEAT_BF16" in r for r in v.reasons)


# -- mlx and mlx-lm --

def test_mlx_on_a_mac_is_ok():
    v = verdict("mlx", "mac")
    assert v.status is Status.OK
    assert v.available.kind == "wheel"


@pytest.mark.parametrize("key", ["orin", "thor"])
def test_mlx_on_a_jetson_is_unsupported(key):
    v = verdict("mlx", key)
    assert v.status is Status.UNSUPPORTED
    assert any("Jetson" in r for r in v.reasons)


def test_mlx_on_gb10_takes_the_cuda13_extra():
    v = verdict("mlx", "gb10")
    assert v.status is Status.CAVEATS
    assert 'pip install "mlx[cuda13]"' in v.fixes


def test_mlx_on_gh200_takes_the_cuda12_extra():
    v = verdict("mlx", "gh200")
    assert v.status is Status.CAVEATS
    assert 'pip install "mlx[cuda12]"' in v.fixes


def test_mlx_with_its_cuda_backend_on_gb10_is_ok():
    machine = dataclasses.replace(GB10, packages={"mlx": "0.32.4", "mlx-cuda-13": "0.32.4"})
    assert verdict("mlx", "gb10", machine).status is Status.OK


def test_mlx_on_graviton_takes_the_cpu_extra():
    v = verdict("mlx", "graviton")
    assert v.status is Status.CAVEATS
    assert 'pip install "mlx[cpu]"' in v.fixes


def test_mlx_on_an_intel_mac_or_old_macos():
    # The macOS floor is per release (compat-facts §9): on macOS 13 the index offers 0.29.3's macosx_13_0 wheel,
    # and on an older macOS nothing; no rule tabulates "macOS 14".
    old = dataclasses.replace(MAC, macos="13.6")
    assert verdict("mlx", "mac", old, wheel("0.29.3", "mlx-0.29.3-cp312-cp312-macosx_13_0_arm64.whl")).status \
        is Status.OK
    assert verdict("mlx", "mac", dataclasses.replace(MAC, macos="12.7"), nothing("mlx")).status is Status.UNSUPPORTED
    rosetta = dataclasses.replace(MAC, python_translated=True, apple=Apple(chip="Apple M1", mps=False))
    assert verdict("mlx", "mac", rosetta, nothing("mlx")).status is Status.UNSUPPORTED


def test_mlx_lm_on_linux_needs_an_extra():
    assert 'pip install "mlx-lm[cuda13]"' in verdict("mlx-lm", "gb10").fixes
    assert 'pip install "mlx-lm[cpu]"' in verdict("mlx-lm", "graviton").fixes
    assert verdict("mlx-lm", "mac").status is Status.OK
    assert verdict("mlx-lm", "orin").status is Status.UNSUPPORTED


# -- unknown facts: unknown verdicts naming what is missing, never a crash or a guess --

GPU_TOOLS = ["torch", "triton", "flash-attn", "flash-attn-3", "bitsandbytes", "xformers", "unsloth", "vllm", "mlx",
             "liger-kernel", "axolotl"]


@pytest.mark.parametrize("tool", sorted(IDS))
def test_a_machine_known_only_as_linux_gives_unknown(tool):
    v = evaluate(all_tools()[tool], Machine(os="linux"), available(tool, "gb10"))
    assert v.status is Status.UNKNOWN


@pytest.mark.parametrize("tool", GPU_TOOLS)
def test_unknown_gpus_make_gpu_tools_unknown_and_say_so(tool):
    machine = Machine(os="linux", packages={}, requires={})
    v = evaluate(all_tools()[tool], machine, available(tool, "gb10"))
    assert v.status is Status.UNKNOWN
    assert any("cannot tell whether this applies" in r and "gpus" in r for r in v.reasons)


@pytest.mark.parametrize("tool", ["peft", "trl", "transformers", "accelerate"])
def test_unknown_hardware_does_not_matter_to_pure_python_tools(tool):
    v = evaluate(all_tools()[tool], Machine(os="linux", packages={}, requires={}), available(tool, "gb10"))
    assert v.status is Status.OK


def test_unknown_availability_makes_version_rules_unknown_not_wrong():
    v = evaluate(all_tools()["torch"], GH200, None)
    assert v.status is Status.UNKNOWN


@pytest.mark.parametrize("tool", sorted(IDS))
def test_no_rule_crashes_on_an_empty_machine(tool):
    for rule in all_tools()[tool].rules:
        for machine in (Machine(), Machine(os="linux"), Machine(os="darwin"), Machine(os="windows")):
            assert rule.when(Ctx(machine)) in (True, False, None)


def test_the_watched_distributions_come_from_the_registry():
    """One list: every tool's distribution plus its companions, read by the target probe and the verdicts."""
    from aidoctor.recipes import watched_dists

    assert watched_dists() == {t.dist_name for t in all_tools().values()} | {"unsloth-zoo"}
    assert {"torch", "triton", "flash-attn-3", "mlx-lm"} <= watched_dists()


# -- facts that moved (compat-facts §9, Corrections 2026-12) --

@pytest.mark.parametrize("transformers, torch, status", [
    ("5.0.0", "2.2.0", Status.OK),
    ("5.0.0", "2.1.2", Status.UNSUPPORTED),
    ("5.14.0", "2.5.0a0", Status.OK),  # NVIDIA's JetPack 6 torch: 2.4 is enough up to 5.14
    ("5.15.0", "2.5.0a0", Status.UNSUPPORTED),  # a pre-release of 2.5 is below 2.5
    ("5.19.0", "2.5.1", Status.OK),
    ("5.20.2", "2.5.1", Status.UNSUPPORTED),
    ("5.24.0", "2.6.0", Status.OK),
])
def test_transformers_torch_floor_rises_by_release(transformers, torch, status):
    machine = dataclasses.replace(H100, packages={"transformers": transformers, "torch": torch})
    v = verdict("transformers", "h100", machine)
    assert v.status is status, v.reasons
    if status is Status.UNSUPPORTED:
        assert any("needs torch" in r for r in v.reasons)


def test_flash_attn_3_placeholder_is_not_flash_attention_3():
    machine = dataclasses.replace(H100, packages={"flash-attn-3": "0.0.0"})
    v = verdict("flash-attn-3", "h100", machine, nothing("flash-attn-3"))
    assert v.status is Status.UNSUPPORTED
    assert any("empty placeholder" in r for r in v.reasons)


@pytest.mark.parametrize("torch, macos, cpu_only", [
    ("2.4.1", "12.7", False),
    ("2.5.0", "12.7", True),  # MPS needs macOS 13 since 2.5
    ("2.5.0", "13.1", False),
    ("2.10.0", "13.6", True),  # and macOS 14 from about 2.9/2.10
    ("2.11.0", "14.0", False),
])
def test_installed_torch_on_a_macos_too_old_for_its_mps(torch, macos, cpu_only):
    machine = dataclasses.replace(MAC, macos=macos, packages={"torch": torch},
                                  torch_build=TorchBuild(version=torch, cuda=None, arch_list=()))
    v = verdict("torch", "mac", machine)
    assert any("CPU-only" in r for r in v.reasons) is cpu_only, v.reasons


def test_deepspeed_windows_wheels_are_named_by_release():
    v = verdict("deepspeed", "h100", dataclasses.replace(H100, os="windows"), sdist("deepspeed", "0.19.8"))
    assert any("0.14.5, 0.15.0 and 0.16.3-0.16.5" in r for r in v.reasons)


def test_triton_360_to_install_on_thor_still_needs_a_ptxas():
    """3.6.0's 12.9 ptxas knows GB10, not Thor; Thor needs 3.7."""
    machine = dataclasses.replace(THOR, packages={})
    v = verdict("triton", "thor", machine, wheel("3.6.0", "triton-3.6.0-cp312-cp312-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl"))
    assert any("sm_110a" in r for r in v.reasons)
    v = verdict("triton", "thor", machine, wheel("3.7.0", "triton-3.7.0-cp312-cp312-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl"))
    assert not any("sm_110a" in r for r in v.reasons)


def test_vllm_cpu_wheels_need_glibc_234():
    old = dataclasses.replace(GRAVITON, glibc="2.31")
    v = verdict("vllm", "graviton", old)
    assert v.status is Status.BUILD and any("manylinux_2_34" in r for r in v.reasons)
    assert not any("manylinux_2_34" in r for r in verdict("vllm", "graviton").reasons)  # glibc 2.35


def test_cuda12_index_fixes_pin_torch_below_215():
    """torch 2.15 has no CUDA 12 builds (compat-facts §9): a cu126 fix names the last release line that has one."""
    from aidoctor.recipes import torch as torch_recipe

    fixes = [rule.fix for rule in torch_recipe.RULES if rule.fix and "whl/cu126" in rule.fix]
    assert fixes and all('"torch<2.15"' in fix for fix in fixes)


@pytest.mark.parametrize("release, scalar", [("0.19.5", True), ("0.19.8", False)])
def test_deepspeed_cpu_adam_neon_by_release(release, scalar):
    v = verdict("deepspeed", "graviton", avail=sdist("deepspeed", release))
    assert any("runs scalar on ARM" in r for r in v.reasons) is scalar
    assert any("-march=native" in r for r in v.reasons)


def test_pypi_torch_on_orin_with_jetpack_72_is_caveats():
    """Generic aarch64 torch 2.11 (sm_80, no sm_87) on Orin with JetPack 7.2: runs, disputed (compat-facts §9)."""
    jp72 = dataclasses.replace(ORIN, jetson=Jetson(l4t="39.2.0", jetpack="7.2", soc="tegra234"),  # jetson-orin-r39
                               cuda_driver="13.0", nvidia_driver="580.00")
    v = verdict("torch", "orin", with_torch(jp72, "2.11.0", "13.0", TORCH_214_ARM))
    assert v.status is Status.CAVEATS, v.reasons
    assert any("disputed" in r for r in v.reasons)


def test_the_report_keeps_each_fix_with_its_reason_and_the_alternative_apart():
    v = verdict("flash-attn", "mac")
    data = v.to_json()
    assert data["alternative"] == v.alternative and "sdpa" in data["alternative"]
    # schema 1 readers still find it where it was: the last entry of fixes
    assert data["fixes"] == [*v.fixes, f"alternative: {v.alternative}"]
    assert data["findings"] == [{"status": f.status.value, "msg": f.msg, "fix": f.fix, "source": f.source}
                                for f in v.findings]
    assert data["findings"][0]["status"] == "unsupported" and data["findings"][0]["source"].startswith("https://")
    assert set(data["reasons"]) == {f["msg"] for f in data["findings"]}


def test_a_tool_that_works_has_no_alternative():
    v = verdict("flash-attn", "h100")
    assert v.status is not Status.UNSUPPORTED and v.alternative is None
    assert v.to_json()["alternative"] is None


# -- an installed tool's own hard requirements (issue 12, item 4) --

PEFT_0212_METADATA = Path(__file__).parents[1] / "fixtures/index/cache/index/metadata/peft-0.21.2-py3-none-any.whl.metadata"


def _requires_dist(metadata: Path) -> tuple[str, ...]:
    """The Requires-Dist lines of a real wheel's METADATA, as the target script reports them."""
    return tuple(line.split(":", 1)[1].strip() for line in metadata.read_text(encoding="utf-8").splitlines()
                 if line.startswith("Requires-Dist:"))


def _peft_installed(**packages: str) -> Machine:
    everything = {"peft": "0.21.2", "numpy": "2.3.4", "packaging": "25.0", "psutil": "7.1.3", "pyyaml": "6.0.3",
                  "torch": "2.9.1", "transformers": "4.57.1", "tqdm": "4.67.1", "accelerate": "1.11.0",
                  "safetensors": "0.6.2", "huggingface-hub": "0.36.0"}
    everything.update(packages)
    return dataclasses.replace(MACHINES["graviton"], packages={k: v for k, v in everything.items() if v},
                               requires={"peft": _requires_dist(PEFT_0212_METADATA)})


def test_an_installed_tool_with_every_hard_requirement_met_is_not_blamed_for_them():
    v = evaluate(all_tools()["peft"], _peft_installed())
    assert not any("requires" in r for r in v.reasons), v.reasons


def test_an_installed_tool_missing_a_hard_requirement_cannot_import():
    # peft 0.21.2 declares `Requires-Dist: transformers` with no extra: `import peft` fails without it
    v = evaluate(all_tools()["peft"], _peft_installed(transformers=""))
    assert v.status is Status.UNSUPPORTED
    assert any("requires transformers, which is not installed" in r for r in v.reasons), v.reasons
    assert 'pip install "transformers"' in v.fixes


def test_an_unwatched_requirement_outside_its_range_is_a_conflict_with_its_fix():
    # huggingface_hub is no tool of ours, yet peft 0.21.2 needs >=0.25.0 of it
    v = evaluate(all_tools()["peft"], _peft_installed(**{"huggingface-hub": "0.20.3"}))
    assert v.status is Status.UNSUPPORTED
    assert any("requires huggingface_hub>=0.25.0 but huggingface-hub 0.20.3 is installed" in r for r in v.reasons)
    assert any("huggingface-hub>=0.25.0" in f for f in v.fixes), v.fixes


def test_a_requirement_of_an_extra_is_not_needed():
    # peft's extras (test, dev, docs) name packages a plain install never brings
    v = evaluate(all_tools()["peft"], _peft_installed())
    assert all("pytest" not in r and "black" not in r for r in v.reasons)
