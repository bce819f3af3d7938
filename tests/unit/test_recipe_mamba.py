"""causal-conv1d and mamba-ssm (recipes/causal_conv1d.py, recipes/mamba_ssm.py): their rules on the recorded
machines, their build environment on every profile, and what the recorded package index says of them.

The facts behind the rules were read from the artifacts: PyPI's causal-conv1d 1.7.0 and mamba-ssm 2.3.2.post1 are
source distributions only (tests/fixtures/index), and their setup.py compiles SASS for a fixed list of
architectures that grows with nvcc's version, with nvcc --threads 4.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from aidoctor.doctor.check.index import Index, Project
from aidoctor.doctor.core.facts import Gpu
from aidoctor.doctor.dsl.rules import Status
from aidoctor.doctor.install.smoke import SmokeResult, likely_cause, load_script, parse_smoke_output
from aidoctor.recipes import all_tools
from aidoctor.recipes.causal_conv1d import causal_conv1d_env, extension_jobs
from aidoctor.recipes.mamba_ssm import mamba_ssm_env

from .build_env import PROFILES, build_env, env, machine, runtime_env
from .test_recipes import H100_NVCC, MACHINES, text, verdict

INDEX = Path(__file__).parents[1] / "fixtures" / "index" / "cache" / "index"
# recipes/smoke/mamba_ssm.py really run (build_script, then the target Python, stdout, a newline, stderr) by a
# venv with the local CPU torch wheel 2.13.0+cpu and no GPU: the GPU-only script fails at its "cuda device" check.
MAMBA_ON_CPU = r'''AIDOCTOR-SMOKE {"begin": "device", "kernel": null}
AIDOCTOR-SMOKE {"check": "device", "ok": true, "seconds": 2.868, "detail": "cpu, torch 2.13.0+cpu", "kernel": null, "device": "cpu"}
AIDOCTOR-SMOKE {"begin": "cuda device", "kernel": "mamba_ssm"}
AIDOCTOR-SMOKE {"check": "cuda device", "ok": false, "seconds": 0.0, "detail": null, "kernel": "mamba_ssm", "error": "RuntimeError: no CUDA device: mamba_ssm's kernels need an NVIDIA GPU, and the device here is cpu", "trace": "Traceback (most recent call last):\n  File \"/tmp/aidoctor-smoke-ua7178bh/aidoctor_smoke_mamba_ssm.py\", line 97, in check\n    yield record\n  File \"/tmp/aidoctor-smoke-ua7178bh/aidoctor_smoke_mamba_ssm.py\", line 190, in require_cuda\n    raise RuntimeError(\"no CUDA device: %s's kernels need an NVIDIA GPU, and the device here is %s\"\nRuntimeError: no CUDA device: mamba_ssm's kernels need an NVIDIA GPU, and the device here is cpu\n"}
AIDOCTOR-SMOKE {"result": "fail", "tool": "mamba-ssm", "device": "cpu", "failed": "cuda device", "kernel": "mamba_ssm", "error": "RuntimeError: no CUDA device: mamba_ssm's kernels need an NVIDIA GPU, and the device here is cpu", "versions": {"torch": "2.13.0+cpu", "mamba-ssm": null}, "seconds": 2.879}

/tmp/smokevenv/lib/python3.11/site-packages/torch/_subclasses/functional_tensor.py:368: UserWarning: Failed to initialize NumPy: No module named 'numpy' (Triggered internally at /__w/pytorch/pytorch/torch/csrc/utils/tensor_numpy.cpp:84.)
  cpu = _conversion_method_template(device=torch.device("cpu"))
'''
MAX_JOBS = {"dgx-spark": "6", "gh200": "24", "jetson-agx-orin": "2", "jetson-thor": "1", "h100": "1",
            "rtx-4090": "1"}  # thor, h100 and rtx-4090 record no core count: 1 job


@pytest.mark.parametrize("profile", PROFILES)
def test_each_sets_exactly_this_build_environment_and_none_at_run_time(profile):
    jobs = MAX_JOBS.get(profile)
    assert build_env("causal-conv1d", profile) == (
        {"CAUSAL_CONV1D_FORCE_BUILD": "TRUE", "MAX_JOBS": jobs} if jobs else {})
    assert build_env("mamba-ssm", profile) == ({"MAMBA_FORCE_BUILD": "TRUE", "MAX_JOBS": jobs} if jobs else {})
    assert runtime_env("causal-conv1d", profile) == runtime_env("mamba-ssm", profile) == {}


def test_max_jobs_counts_setup_pys_four_nvcc_threads():
    spark = machine("dgx-spark")
    why = extension_jobs(spark).why
    assert why.startswith("min(20 cores / 2, 120 GB / 20 GB a job) = min(10, 6)")
    assert why.endswith("its setup.py runs nvcc --threads 4 on each file")


def test_no_torch_cuda_arch_list_since_setup_py_passes_its_own_gencodes():
    for profile in PROFILES:
        m = machine(profile)
        assert "TORCH_CUDA_ARCH_LIST" not in env((*causal_conv1d_env(m), *mamba_ssm_env(m)))


@pytest.mark.parametrize("tool", ["causal-conv1d", "mamba-ssm"])
def test_the_recorded_index_has_only_source_distributions(tool):
    project = Index(INDEX.parent, offline=True).projects([tool])[tool]
    assert isinstance(project, Project), project
    assert project.files and all(f.filename.endswith(".tar.gz") for f in project.files)
    newest = {"causal-conv1d": "causal_conv1d-1.7.0.tar.gz", "mamba-ssm": "mamba_ssm-2.3.2.post1.tar.gz"}[tool]
    assert newest in {f.filename for f in project.files}


@pytest.mark.parametrize("tool", ["causal-conv1d", "mamba-ssm"])
@pytest.mark.parametrize("key", ["gb10", "gh200", "orin", "thor", "h100"])
def test_an_nvidia_machine_with_a_toolkit_builds_it_with_force_build_and_capped_jobs(tool, key):
    v = verdict(tool, key, H100_NVCC if key == "h100" else None)  # the h100 profile leaves nvcc unknown
    assert v.status is Status.BUILD
    force = {"causal-conv1d": "CAUSAL_CONV1D_FORCE_BUILD", "mamba-ssm": "MAMBA_FORCE_BUILD"}[tool]
    assert f"{force}=TRUE MAX_JOBS=2 pip install {tool} --no-build-isolation" in v.fixes
    assert "TORCH_CUDA_ARCH_LIST cannot narrow it" in text(v)


@pytest.mark.parametrize("tool", ["causal-conv1d", "mamba-ssm"])
@pytest.mark.parametrize("key", ["mac", "graviton"])
def test_no_nvidia_gpu_is_unsupported(tool, key):
    assert verdict(tool, key).status is Status.UNSUPPORTED


def test_without_nvcc_it_says_so():
    v = verdict("causal-conv1d", "rtx4090")
    assert v.status is Status.BUILD and "needs nvcc" in text(v)


@pytest.mark.parametrize("nvcc, status", [("12.6", Status.UNSUPPORTED), ("12.9", Status.BUILD),
                                          ("13.0", Status.BUILD)])
def test_gb10_needs_nvcc_12_8_for_any_kernel(nvcc, status):
    v = verdict("causal-conv1d", "gb10", dataclasses.replace(MACHINES["gb10"], cuda_toolkit=nvcc))
    assert v.status is status
    assert ("emits sm_100 and sm_120 only with nvcc 12.8" in text(v)) is (status is Status.UNSUPPORTED)
    assert ("sm_121 itself only from nvcc 13.0" in text(v)) is (nvcc == "12.9")


def test_thor_needs_nvcc_13_for_sm_110():
    v = verdict("mamba-ssm", "thor", dataclasses.replace(MACHINES["thor"], cuda_toolkit="12.9"))
    assert v.status is Status.UNSUPPORTED and "emits sm_110 only with nvcc 13.0" in text(v)


def test_a_gpu_below_7_5_gets_no_kernel():
    v100 = dataclasses.replace(MACHINES["h100"],
                               gpus=(Gpu(vendor="nvidia", name="Tesla V100", compute_capability="7.0"),))
    assert verdict("mamba-ssm", "h100", v100).status is Status.UNSUPPORTED


def test_mamba_ssm_asks_for_causal_conv1d_until_it_is_installed():
    without = verdict("mamba-ssm", "gb10")
    assert "skip their fused path (mamba_inner_fn)" in text(without)
    with_it = verdict("mamba-ssm", "gb10", dataclasses.replace(MACHINES["gb10"], packages={"causal-conv1d": "1.7.0"}))
    assert "mamba_inner_fn" not in text(with_it)


def test_the_smoke_script_fails_honestly_without_a_gpu_and_the_cause_says_why():
    result = parse_smoke_output(MAMBA_ON_CPU, tool="mamba-ssm", returncode=1)
    assert (result.passed, result.failed, result.kernel, result.device) == (False, "cuda device", "mamba_ssm", "cpu")
    assert result.error == ("RuntimeError: no CUDA device: mamba_ssm's kernels need an NVIDIA GPU, and the device "
                            "here is cpu")
    assert result.cause.startswith("no CUDA device")
    assert result.versions == {"torch": "2.13.0+cpu", "mamba-ssm": None}


@pytest.mark.parametrize("name", ["causal_conv1d", "mamba_ssm"])
def test_the_smoke_scripts_check_kernels_against_a_reference_and_training(name):
    source = load_script(name)
    assert "require_cuda(device" in source  # GPU only: no silent CPU fallback
    assert "float64" in source and "assert_close(" in source  # kernels against a float64 torch reference
    assert "train_lm(" in source and "assert_learns(losses)" in source  # and it learns


def test_known_failures_name_the_missing_kernel():
    for tool, module, fix in (("causal-conv1d", "causal_conv1d_cuda", "CAUSAL_CONV1D_FORCE_BUILD=TRUE"),
                              ("mamba-ssm", "selective_scan_cuda", "MAMBA_FORCE_BUILD=TRUE")):
        failed = SmokeResult(tool=tool, passed=False, device="cuda",
                             error=f"ModuleNotFoundError: No module named '{module}'")
        assert fix in likely_cause(failed)
        assert all_tools()[tool].recipe.known_failures
