"""causal-conv1d: the causal depthwise convolution CUDA kernels that Mamba layers (mamba-ssm) run on.

PyPI has only the source distribution (1.7.0: causal_conv1d-1.7.0.tar.gz), for
every platform, so pip builds it everywhere, and its build imports torch: it
needs --no-build-isolation. setup.py first guesses a wheel on its GitHub release
page (built only for torch 2.6-2.10 with CUDA 11.8/12.9/13.0); with any other
torch, PyPI's 2.11-2.15 included, it compiles, and always for a fixed list of
architectures (sm_75, 80, 87, 90; 100 and 120 from nvcc 12.8; 103, 110 and 121
from 13.0) with nvcc --threads 4: TORCH_CUDA_ARCH_LIST cannot narrow it, since
torch's BuildExtension adds no arch flags when the extension passes its own.
So MAX_JOBS is what keeps a unified-memory machine alive, and nvcc's version
decides whether this GPU gets a kernel at all (SASS only, no PTX).

mamba-ssm builds the same way (recipes/mamba_ssm.py takes its build
environment and rules from here).
"""

from __future__ import annotations

from dataclasses import replace

from ..doctor.core.facts import Machine
from ..doctor.dsl.buildflags import NVCC_GB_PER_JOB, max_jobs, nvidia_ccs
from ..doctor.dsl.recipe import EnvVar, KnownFailure, Recipe
from ..doctor.dsl.rules import (
    Alternative,
    Rule, caveat, conflicts, gpu_cc, is_installed, needs_build, no_cuda_toolkit, nvidia_gpu, on_linux, on_macos,
    torch_cpu_only,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import CUDA_TOOLKIT_FOR_TORCH, no_gpu, nvcc

SRC_README = "https://github.com/Dao-AILab/causal-conv1d/blob/main/README.md"
SRC_SETUP = "https://github.com/Dao-AILab/causal-conv1d/blob/main/setup.py"
SRC_RELEASES = "https://github.com/Dao-AILab/causal-conv1d/blob/main/.github/workflows/publish.yaml"

# setup.py's append_nvcc_threads: every nvcc call runs 4 threads, whatever NVCC_THREADS says.
SETUP_NVCC_THREADS = 4
CUDA_13_TOOLKIT = "sudo apt-get install cuda-toolkit-13-0  # NVIDIA's CUDA apt repository"


def extension_rules(*, name: str, dist: str, force_build: str, readme: str, setup: str,
                    releases: str) -> tuple[Rule, ...]:
    """The rules causal-conv1d and mamba-ssm share: same authors' setup.py, same fixed architecture list."""
    to_build = ~is_installed() & on_linux() & nvidia_gpu()
    build = f"{force_build}=TRUE MAX_JOBS=2 pip install {dist} --no-build-isolation"
    return (
        # -- where it cannot run --
        conflicts(
            when=on_macos(),
            msg=f"{name} is CUDA (and ROCm) only: it has no Metal/MPS or CPU kernels",
            fix=None,
            source=readme),
        conflicts(
            when=on_linux() & no_gpu(),
            msg=f"{name}'s kernels need a GPU (NVIDIA, or AMD with ROCm); this machine has none",
            fix=None,
            source=readme),
        conflicts(
            when=on_linux() & nvidia_gpu() & torch_cpu_only(),
            msg=f"{name} builds against the installed torch, which is a CPU-only build: its build would compile "
                "no CUDA kernel; install a CUDA torch first",
            fix="pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu130  "
                "# driver >= 580; with an older driver use --index-url https://download.pytorch.org/whl/cu128",
            source=setup),
        conflicts(
            when=on_linux() & nvidia_gpu() & gpu_cc("<7.5"),
            msg=f"{name}'s setup.py compiles SASS for sm_75 and newer only (no PTX): a GPU below compute "
                "capability 7.5 gets no kernel",
            fix=None,
            source=setup),

        # -- what the build needs --
        needs_build(
            when=to_build & no_cuda_toolkit(),
            msg=f"building {name} needs nvcc (setup.py refuses CUDA < 11.6), and no CUDA toolkit was found: install "
                "the one matching torch.version.cuda",
            fix=CUDA_TOOLKIT_FOR_TORCH,
            source=setup),
        conflicts(
            when=to_build & nvcc("<11.6"),
            msg=f"{name}'s setup.py refuses nvcc older than 11.6",
            fix=CUDA_TOOLKIT_FOR_TORCH,
            source=setup),
        conflicts(
            when=to_build & gpu_cc(">=9.0,<10.0") & nvcc("<11.8"),
            msg=f"{name}'s setup.py emits sm_90 only with nvcc 11.8 or later: this build would have no kernel for "
                "Hopper",
            fix=CUDA_TOOLKIT_FOR_TORCH,
            source=setup),
        conflicts(
            when=to_build & gpu_cc(">=10.0") & gpu_cc("!=11.0") & nvcc("<12.8"),
            msg=f"{name}'s setup.py emits sm_100 and sm_120 only with nvcc 12.8 or later (SASS, no PTX): this "
                "toolkit would build it without a kernel for this GPU ('no kernel image is available')",
            fix=CUDA_13_TOOLKIT,
            source=setup),
        conflicts(
            when=to_build & gpu_cc("==11.0") & nvcc("<13.0"),
            msg=f"Thor is sm_110 to a CUDA 13 driver, and {name}'s setup.py emits sm_110 only with nvcc 13.0 or "
                "later: this toolkit would build it without a kernel for this GPU",
            fix=CUDA_13_TOOLKIT,
            source=setup),

        # -- how to build it here --
        needs_build(
            when=to_build,
            msg=f"no {name} wheel on PyPI for any platform, aarch64 included (source only): setup.py guesses a wheel "
                "from its GitHub release (built for torch 2.6-2.10 only) and otherwise compiles against the installed "
                "torch for every architecture its nvcc knows, with nvcc --threads 4 per file; TORCH_CUDA_ARCH_LIST "
                f"cannot narrow it, so cap MAX_JOBS, and {force_build}=TRUE skips the guess",
            fix=build,
            source=releases),
        caveat(
            when=to_build & gpu_cc(">=12.0,<13.0") & nvcc(">=12.8,<13.0"),
            msg=f"with nvcc 12.8/12.9 {name} gets sm_120 code, which runs on this GPU; sm_121 itself only from nvcc "
                "13.0",
            fix=None,
            source=setup),
    )


RULES = extension_rules(name="causal-conv1d", dist="causal-conv1d", force_build="CAUSAL_CONV1D_FORCE_BUILD",
                        readme=SRC_README, setup=SRC_SETUP, releases=SRC_RELEASES)


# -- the source build's environment (mamba-ssm's too) --

CAUSAL_CONV1D_FORCE_BUILD = EnvVar(
    "CAUSAL_CONV1D_FORCE_BUILD", "TRUE",
    "compile against the installed torch instead of setup.py's guess of a GitHub release wheel, built for torch "
    "2.6-2.10 and another CUDA or ABI (causal-conv1d setup.py CachedWheelsCommand)")


def extension_jobs(machine: Machine) -> EnvVar:
    """MAX_JOBS for these setup.py builds: flash-attn's rule (the same authors'), counting their 4 nvcc threads.

    No figure is published for these kernels' memory; flash-attn's 5 GB a thread is the ceiling used, so a
    unified-memory machine is not driven into the OOM killer.
    """
    jobs = max_jobs(machine, NVCC_GB_PER_JOB, threads_per_job=SETUP_NVCC_THREADS)
    return replace(jobs, why=f"{jobs.why}; its setup.py runs nvcc --threads {SETUP_NVCC_THREADS} on each file")


def causal_conv1d_env(machine: Machine) -> tuple[EnvVar, ...]:
    """causal-conv1d's source build. No TORCH_CUDA_ARCH_LIST: setup.py's own -gencode flags make torch ignore it.

    Source: https://github.com/Dao-AILab/causal-conv1d/blob/main/setup.py.
    """
    if nvidia_ccs(machine) is None:
        return ()
    return (CAUSAL_CONV1D_FORCE_BUILD, extension_jobs(machine))


TOOL = Tool(
    id="causal-conv1d",
    dist="causal-conv1d",
    summary="causal-conv1d: causal depthwise conv1d CUDA kernels, the convolution inside Mamba layers",
    order=82,
    rules=RULES,
    install="pip install causal-conv1d --no-build-isolation",
    alternatives=(Alternative("mamba-ssm without it (each Mamba layer then runs torch's conv1d, slower), "
                              "or a transformer"),),
    homepage="https://github.com/Dao-AILab/causal-conv1d",
    recipe=Recipe(
        build_env=causal_conv1d_env,
        build_requires=("packaging", "ninja", "wheel", "setuptools"),
        smoke="causal_conv1d.py",
        known_failures=(
            KnownFailure(
                r"No module named 'causal_conv1d_cuda'",
                "causal-conv1d is installed without its CUDA extension (built with CAUSAL_CONV1D_SKIP_CUDA_BUILD=TRUE, "
                "or by a pip that isolated the build from torch): reinstall with CAUSAL_CONV1D_FORCE_BUILD=TRUE pip "
                "install --force-reinstall --no-build-isolation causal-conv1d", SRC_SETUP),
            KnownFailure(
                r"causal_conv1d_cuda.{0,300}GLIBC_\d+\.\d+' not found|GLIBC_\d+\.\d+' not found.{0,300}causal_conv1d",
                "a causal-conv1d wheel built on a newer system (its GitHub release wheels come from Ubuntu 22.04): "
                "build it here with CAUSAL_CONV1D_FORCE_BUILD=TRUE pip install --force-reinstall "
                "--no-build-isolation causal-conv1d", SRC_RELEASES),
        ),
    ),
)
