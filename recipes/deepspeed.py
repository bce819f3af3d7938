"""DeepSpeed: ZeRO, offload and fused optimizers; its CUDA/C++ ops compile on first use.

PyPI has only the source distribution (Windows wheels exist for 0.14.5, 0.15.0
and 0.16.3-0.16.5 only). The
install itself compiles nothing: ops are JIT-built with nvcc into
~/.cache/torch_extensions the first time they are used, so a missing CUDA
toolkit, or one whose CUDA differs from torch's, shows up at training time.
Without CUDA it picks the `cpu` accelerator (on a Mac `mps`).
"""

from __future__ import annotations

from ..doctor.core.facts import FactState, Machine, parse_version
from ..doctor.dsl.buildflags import present, toolkit_version, torch_cuda_arch_list
from ..doctor.dsl.recipe import EnvVar, KnownFailure, Recipe
from ..doctor.dsl.rules import (
    Ctx, arch_is, caveat, check, gpu_cc, is_installed, needs_build, no_cuda_toolkit, on_linux, on_macos, on_windows,
    version,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import CUDA_TOOLKIT_FOR_TORCH, TORCH_CC, l4t, linux_cuda, no_gpu, nvcc

SRC_INSTALL = "https://github.com/deepspeedai/DeepSpeed/blob/master/docs/_tutorials/advanced-install.md"
SRC_BUILDER = "https://github.com/deepspeedai/DeepSpeed/blob/master/op_builder/builder.py"
SRC_FP_QUANTIZER = "https://github.com/deepspeedai/DeepSpeed/blob/master/op_builder/fp_quantizer.py"
SRC_ACCELERATOR = "https://github.com/deepspeedai/DeepSpeed/blob/master/accelerator/real_accelerator.py"
SRC_SIMD = "https://github.com/deepspeedai/DeepSpeed/blob/master/csrc/includes/simd.h"
SRC_SIMD_0195 = "https://github.com/deepspeedai/DeepSpeed/blob/v0.19.5/csrc/includes/simd.h"
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
    # CPU-Adam's SIMD header by release (compat-facts §9): no NEON path up to 0.19.5 (the header at v0.19.5 and
    # on master after it, 2026-08), one in 0.19.8 (its sdist; with -D__SVE__ the SVE path); 0.19.6-0.19.7 unread.
    caveat(
        when=on_linux() & arch_is("aarch64") & version("<0.19.8"),
        msg="DeepSpeed's CPU-Adam (ZeRO-Offload) runs scalar on ARM before 0.19.8: its SIMD header has no NEON "
            "path up to 0.19.5 (0.19.6 and 0.19.7 were not read; 0.19.8's has one), and the CPU ops build with "
            "-march=native, so a prebuilt op is not portable",
        fix='pip install -U "deepspeed>=0.19.8"',
        source=SRC_SIMD_0195),
    caveat(
        when=on_linux() & arch_is("aarch64") & version(">=0.19.8"),
        msg="DeepSpeed's CPU ops build with -march=native on ARM (CPU-Adam takes its NEON path, or SVE with "
            "-D__SVE__), so a prebuilt op is not portable across CPUs",
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
        msg="DeepSpeed has Windows wheels for 0.14.5, 0.15.0 and 0.16.3-0.16.5 only, and they lack the async I/O "
            "and GPUDirect Storage ops",
        fix="pip install deepspeed==0.16.5",
        source=SRC_README),
)

# -- the source build's environment: which ops are prebuilt --

DS_BUILD_FUSED_ADAM = EnvVar(
    "DS_BUILD_FUSED_ADAM", "1",
    "prebuild FusedAdam with this CUDA toolkit (op_builder/fused_adam.py) instead of JIT-compiling it at the "
    "first training step")
DS_BUILD_AIO = EnvVar(
    "DS_BUILD_AIO", "0",
    "async_io (NVMe offload) needs libaio-dev, which aidoctor does not probe; it stays a JIT op "
    "(op_builder/async_io.py)")


def ds_build_cpu_adam(machine: Machine) -> EnvVar:
    """DS_BUILD_CPU_ADAM=1: prebuild CPU-Adam (ZeRO-Offload's optimizer) instead of JIT-compiling it.

    On Linux its builder compiles with -march=native (op_builder/builder.py cpu_arch), so the wheel runs
    only on CPUs like this one; on a Mac the mps builder compiles it with -D__NEON__.
    Source: https://github.com/deepspeedai/DeepSpeed/blob/master/op_builder/builder.py.
    """
    if machine.os == "darwin":
        return EnvVar("DS_BUILD_CPU_ADAM", "1",
                      "prebuild CPU-Adam for ZeRO-Offload (op_builder/mps/cpu_adam.py, -D__NEON__; OpenMP only with "
                      "Homebrew's libomp)")
    return EnvVar("DS_BUILD_CPU_ADAM", "1",
                  "prebuild CPU-Adam for ZeRO-Offload; it compiles with -march=native, so this wheel runs only on "
                  "CPUs like this one (op_builder/builder.py cpu_arch)")


def ds_skip_cuda_check(machine: Machine) -> EnvVar | None:
    """DS_SKIP_CUDA_CHECK=1 where nvcc and torch share a CUDA major but not the minor.

    DeepSpeed's op build stops on a minor mismatch outside its allow-list, which (0.19.8) has no CUDA 13
    entry: PyPI's torch 2.15 (CUDA 13.2) with a CUDA 13.0 toolkit would not build. Across majors nothing
    helps, and the rules say so.
    Source: https://github.com/deepspeedai/DeepSpeed/blob/master/op_builder/builder.py (assert_no_cuda_mismatch).
    """
    build = machine.torch_build
    built, toolkit = parse_version(build.cuda if build else None), toolkit_version(machine)
    if built is None or toolkit is None or built.major != toolkit.major or built.minor == toolkit.minor:
        return None
    return EnvVar("DS_SKIP_CUDA_CHECK", "1",
                  f"nvcc is CUDA {toolkit} and torch was built with {built}: same major, and DeepSpeed's minor-version "
                  "allow-list would stop the op build (assert_no_cuda_mismatch)")


def deepspeed_env(machine: Machine) -> tuple[EnvVar, ...]:
    """DeepSpeed's prebuilt ops: CPU-Adam always; FusedAdam for the GPU where a CUDA toolkit is a fact.

    Source: https://github.com/deepspeedai/DeepSpeed/blob/master/docs/_tutorials/advanced-install.md.
    """
    cpu = (ds_build_cpu_adam(machine), DS_BUILD_AIO) if machine.os == "linux" else (ds_build_cpu_adam(machine),)
    arch_list = torch_cuda_arch_list(machine)
    if arch_list is None or toolkit_version(machine) is None:
        return cpu
    return (*cpu, DS_BUILD_FUSED_ADAM, arch_list, *present(ds_skip_cuda_check(machine)))


TOOL = Tool(
    id="deepspeed",
    dist="deepspeed",
    summary="ZeRO sharding, offload and fused optimizers; CUDA ops compiled on first use",
    order=60,
    rules=RULES,
    install="pip install deepspeed",
    sdist_compiles=False,  # its ops are JIT-compiled at first use (the rules above say when that needs nvcc)
    homepage="https://www.deepspeed.ai",
    # Built here so CPU-Adam (and FusedAdam where nvcc is) come prebuilt instead of compiling at the first step.
    # setup.py is a plain setuptools script (no pyproject.toml) that imports torch, uses py-cpuinfo for the
    # CPU flags (else lscpu) and turns ninja off for prebuilt ops unless DS_ENABLE_NINJA is set.
    recipe=Recipe(build_env=deepspeed_env, always_build=True, build_requires=("setuptools", "wheel", "py-cpuinfo"),
                  smoke="deepspeed.py", known_failures=(
                      # printed by recipes/smoke/deepspeed.py when the op is neither prebuilt nor JIT-buildable
                      KnownFailure(
                          r"CPUAdamBuilder\(\)\.is_compatible\(\) is False",
                          "DeepSpeed's cpu_adam op is neither prebuilt nor buildable here: install a C++ compiler and "
                          "torch's headers for the JIT build, or reinstall with DS_BUILD_CPU_ADAM=1", SRC_INSTALL),
                  )),
)
