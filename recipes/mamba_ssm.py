"""mamba-ssm: Mamba state-space layers (the selective scan CUDA kernel, Mamba-2/3's triton kernels).

Hybrid models (Jamba, Bamba, Nemotron-H) train on it, through transformers or
axolotl. Like causal-conv1d, which its fused path needs
(`mamba_inner_fn`; without it each Mamba layer falls back to torch's conv1d),
PyPI has only the source distribution (2.3.2.post1), its setup.py guesses a
GitHub release wheel built for torch 2.6-2.10 only, and otherwise compiles
selective_scan_cuda for a fixed architecture list with nvcc --threads 4.
So the build environment and the architecture rules are causal-conv1d's.
"""

from __future__ import annotations

from ..doctor.core.facts import Machine
from ..doctor.dsl.buildflags import nvidia_ccs
from ..doctor.dsl.recipe import EnvVar, KnownFailure, Recipe
from ..doctor.dsl.rules import Alternative, caveat, installed, nvidia_gpu, on_linux
from ..doctor.dsl.tool import Tool
from .causal_conv1d import extension_jobs, extension_rules

SRC_README = "https://github.com/state-spaces/mamba/blob/main/README.md"
SRC_SETUP = "https://github.com/state-spaces/mamba/blob/v2.3.2.post1/setup.py"
SRC_RELEASES = "https://github.com/state-spaces/mamba/blob/v2.3.2.post1/.github/workflows/publish.yaml"
SRC_FAST_PATH = "https://github.com/state-spaces/mamba/blob/v2.3.2.post1/mamba_ssm/modules/mamba_simple.py"
SRC_GLIBC = "https://github.com/state-spaces/mamba/issues/949"

RULES = (
    *extension_rules(name="mamba-ssm", dist="mamba-ssm", force_build="MAMBA_FORCE_BUILD", readme=SRC_README,
                     setup=SRC_SETUP, releases=SRC_RELEASES),
    caveat(
        when=on_linux() & nvidia_gpu() & ~installed("causal-conv1d"),
        msg="causal-conv1d is not installed: Mamba layers then skip their fused path (mamba_inner_fn) and run "
            "torch's conv1d, slower; install causal-conv1d first (it builds the same way)",
        fix="CAUSAL_CONV1D_FORCE_BUILD=TRUE MAX_JOBS=2 pip install causal-conv1d --no-build-isolation",
        source=SRC_FAST_PATH),
)


# -- the source build's environment --

MAMBA_FORCE_BUILD = EnvVar(
    "MAMBA_FORCE_BUILD", "TRUE",
    "compile against the installed torch instead of setup.py's guess of a GitHub release wheel, built for torch "
    "2.6-2.10 and another CUDA or ABI (mamba setup.py CachedWheelsCommand)")


def mamba_ssm_env(machine: Machine) -> tuple[EnvVar, ...]:
    """mamba-ssm's source build: selective_scan_cuda, with causal-conv1d's MAX_JOBS rule and no arch list.

    MAMBA_SKIP_CUDA_BUILD stays unset: without the kernel, `import mamba_ssm` fails at selective_scan_cuda.
    Source: https://github.com/state-spaces/mamba/blob/v2.3.2.post1/setup.py.
    """
    if nvidia_ccs(machine) is None:
        return ()
    return (MAMBA_FORCE_BUILD, extension_jobs(machine))


TOOL = Tool(
    id="mamba-ssm",
    dist="mamba-ssm",
    summary="mamba-ssm: Mamba state-space layers (selective scan CUDA kernels) for Mamba and hybrid models",
    order=84,
    rules=RULES,
    install="pip install mamba-ssm --no-build-isolation",
    alternatives=(Alternative("transformers' own Mamba/Mamba-2 code, which runs without these kernels (slower), "
                              "or a transformer"),),
    homepage="https://github.com/state-spaces/mamba",
    recipe=Recipe(
        build_env=mamba_ssm_env,
        build_requires=("packaging", "ninja", "wheel", "setuptools>=61.0.0"),
        smoke="mamba_ssm.py",
        known_failures=(
            KnownFailure(
                r"No module named 'selective_scan_cuda'",
                "mamba-ssm is installed without its CUDA kernel (built with MAMBA_SKIP_CUDA_BUILD=TRUE, or by a pip "
                "that isolated the build from torch): reinstall with MAMBA_FORCE_BUILD=TRUE pip install "
                "--force-reinstall --no-deps --no-build-isolation mamba-ssm", SRC_SETUP),
            KnownFailure(
                r"GLIBC_\d+\.\d+' not found",
                "a mamba-ssm or causal-conv1d wheel built on a newer system (their GitHub release wheels come from "
                "Ubuntu 22.04): build them here with MAMBA_FORCE_BUILD=TRUE (CAUSAL_CONV1D_FORCE_BUILD=TRUE) pip "
                "install --force-reinstall --no-deps --no-build-isolation", SRC_GLIBC),
        ),
    ),
)
