"""DeepSpeed: ZeRO, offload and fused optimizers; its CUDA/C++ ops compile on first use.

PyPI has only the source distribution (Windows wheels stop at 0.16.5). The
install itself compiles nothing: ops are JIT-built with nvcc into
~/.cache/torch_extensions the first time they are used, so a missing CUDA
toolkit, or one whose CUDA differs from torch's, shows up at training time.
Without CUDA it picks the `cpu` accelerator (on a Mac `mps`).
"""

from __future__ import annotations

from ..doctor.dsl.buildflags import deepspeed_env
from ..doctor.core.facts import FactState, parse_version
from ..doctor.dsl.recipe import Recipe
from ..doctor.dsl.rules import (
    Ctx, Tool, arch_is, caveat, check, gpu_cc, is_installed, needs_build, no_cuda_toolkit, on_linux,
    on_macos, on_windows, version,
)
from .torch import CUDA_TOOLKIT_FOR_TORCH, TORCH_CC, l4t, linux_cuda, no_gpu, nvcc

SRC_INSTALL = "https://github.com/deepspeedai/DeepSpeed/blob/master/docs/_tutorials/advanced-install.md"
SRC_BUILDER = "https://github.com/deepspeedai/DeepSpeed/blob/master/op_builder/builder.py"
SRC_FP_QUANTIZER = "https://github.com/deepspeedai/DeepSpeed/blob/master/op_builder/fp_quantizer.py"
SRC_ACCELERATOR = "https://github.com/deepspeedai/DeepSpeed/blob/master/accelerator/real_accelerator.py"
SRC_SIMD = "https://github.com/deepspeedai/DeepSpeed/blob/master/csrc/includes/simd.h"
SRC_README = "https://github.com/deepspeedai/DeepSpeed/blob/master/README.md"


def _toolkit_differs_from_torch(ctx: Ctx) -> bool | None:
    machine = ctx.machine
    build = machine.torch_build
    if build is None:
        return None if machine.packages is None or "torch" in machine.packages else False
    if build.cuda is None or machine.state("cuda_toolkit") is FactState.ABSENT:
        return False
    built, toolkit = parse_version(build.cuda), parse_version(machine.cuda_toolkit)
    if built is None or toolkit is None:
        return None
    return (built.major, built.minor) != (toolkit.major, toolkit.minor)


toolkit_differs = check("nvcc's CUDA differs from torch.version.cuda", _toolkit_differs_from_torch,
                        "torch_build", "cuda_toolkit")

RULES = (
    # -- the JIT op build on NVIDIA --
    caveat(
        when=linux_cuda() & no_cuda_toolkit(),
        msg="DeepSpeed compiles its CUDA ops (FusedAdam, CPU-Adam, inference kernels) with nvcc the first time "
            "they are used, and no CUDA toolkit was found: ZeRO without custom ops works, the ops fail to build",
        fix=CUDA_TOOLKIT_FOR_TORCH,
        source=SRC_INSTALL),
    caveat(
        when=linux_cuda() & toolkit_differs,
        msg="nvcc's CUDA version differs from torch's: DeepSpeed's op build refuses a mismatch outside its "
            "minor-version allow-list, which in 0.19.8 has no CUDA 13 entry",
        fix="export DS_SKIP_CUDA_CHECK=1  # the CUDA majors must still match",
        source=SRC_BUILDER),
    caveat(
        when=linux_cuda() & nvcc(">=13") & version("<=0.19.8"),
        msg="prebuilding ops (DS_BUILD_OPS=1) on CUDA 13 without TORCH_CUDA_ARCH_LIST targets only 6.0;6.1;7.0: "
            "0.19.8's default architectures have no CUDA 13 branch (JIT builds probe the GPU and are fine)",
        fix=f'DS_BUILD_OPS=1 TORCH_CUDA_ARCH_LIST="{TORCH_CC}" pip install deepspeed --no-build-isolation',
        source=SRC_BUILDER),
    caveat(
        when=linux_cuda() & gpu_cc("<8.0"),
        msg="DeepSpeed's inference, fp_quantizer and ragged ops need compute capability 8.0 (Ampere) or newer",
        fix=None,
        source=SRC_FP_QUANTIZER),
    needs_build(
        when=~is_installed() & l4t(),
        msg="on a Jetson with JetPack 6 DeepSpeed's ops must be built on the device against the Jetson torch "
            "(jetson-containers prebuilds them with DS_BUILD_OPS=1); check ds_report's 'installed' column, since "
            "incompatible ops are skipped with only a warning",
        fix="DS_BUILD_OPS=1 DS_BUILD_CCL_COMM=0 TORCH_CUDA_ARCH_LIST=8.7 pip install deepspeed --no-build-isolation",
        source=SRC_INSTALL),

    # -- ARM CPUs --
    caveat(
        when=on_linux() & arch_is("aarch64"),
        msg="DeepSpeed's CPU-Adam (ZeRO-Offload) runs scalar on ARM: its SIMD header has no NEON path, and the "
            "CPU ops build with -march=native, so a prebuilt op is not portable across CPUs",
        fix=None,
        source=SRC_SIMD),

    # -- no CUDA --
    caveat(
        when=on_macos(),
        msg="on a Mac DeepSpeed runs with the mps or cpu accelerator: no CUDA ops (fused optimizers, inference "
            "kernels), so it is no tool for GPU training there",
        fix=None,
        source=SRC_ACCELERATOR),
    caveat(
        when=on_linux() & no_gpu(),
        msg="without a GPU DeepSpeed picks its cpu accelerator (communication over gloo unless oneCCL is "
            "installed); only CPU ops apply",
        fix=None,
        source=SRC_ACCELERATOR),
    caveat(
        when=on_windows(),
        msg="DeepSpeed's Windows wheels stop at 0.16.5 and lack the async I/O and GPUDirect Storage ops",
        fix="pip install deepspeed==0.16.5",
        source=SRC_README),
)

TOOL = Tool(
    id="deepspeed",
    dist="deepspeed",
    summary="ZeRO sharding, offload and fused optimizers; CUDA ops compiled on first use",
    rules=RULES,
    install="pip install deepspeed",
    sdist_compiles=False,  # its ops are JIT-compiled at first use (the rules above say when that needs nvcc)
    homepage="https://www.deepspeed.ai",
    # Built here so CPU-Adam (and FusedAdam where nvcc is) come prebuilt instead of compiling at the first step.
    # setup.py is a plain setuptools script (no pyproject.toml) that imports torch, uses py-cpuinfo for the
    # CPU flags (else lscpu) and turns ninja off for prebuilt ops unless DS_ENABLE_NINJA is set.
    recipe=Recipe(build_env=deepspeed_env, always_build=True, build_requires=("setuptools", "wheel", "py-cpuinfo"),
                  smoke="deepspeed.py"),
)
