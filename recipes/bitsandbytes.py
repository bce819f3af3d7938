"""bitsandbytes: 8-bit optimizers and 4-bit (QLoRA) / 8-bit quantization.

PyPI has wheels for Linux x86_64 and aarch64 (CUDA builds), macOS arm64 (from
0.49.0 on, macosx_14_0 only: no macOS 13 wheel in any release through 0.50.2)
and Windows. The aarch64 CUDA libraries are SBSA builds: on a Jetson with
L4T they import fine and fail at the first kernel ("named symbol not found",
bitsandbytes#1930), so an import check lies there and a build on the device
is needed. CUDA kernels need CC 6.0+, LLM.int8 7.5+; the CPU backend needs
AVX2 on x86_64; on MPS 4-bit works and 8-bit optimizers are in progress.
"""

from __future__ import annotations

from ..doctor.core.facts import Machine
from ..doctor.dsl.buildflags import describe, nvcc_cc, nvidia_ccs, present, thor_note
from ..doctor.dsl.recipe import EnvVar, KnownFailure, Recipe
from ..doctor.dsl.rules import (
    apple_silicon, arch_is, caveat, conflicts, cpu_feature, gpu_cc, installed, is_installed, jetson, needs_build,
    nvidia_gpu, on_linux, on_macos, torch_cuda,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import JETSON_AI_LAB_JP6, l4t, linux_cuda

SRC_JETSON = "https://github.com/bitsandbytes-foundation/bitsandbytes/issues/1930"
SRC_INSTALL = "https://github.com/bitsandbytes-foundation/bitsandbytes/blob/main/docs/source/installation.mdx"
SRC_README = "https://github.com/bitsandbytes-foundation/bitsandbytes/blob/main/README.md"

JETSON_BUILD = ("git clone https://github.com/bitsandbytes-foundation/bitsandbytes && cd bitsandbytes && "
                "cmake -DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=87 -S . && make -j4 && pip install .  "
                f"# Orin; or: pip install bitsandbytes --index-url {JETSON_AI_LAB_JP6}")

RULES = (
    # -- Jetson: SBSA wheels on an L4T system --
    needs_build(
        when=~is_installed() & l4t(),
        msg="PyPI's aarch64 bitsandbytes is built for SBSA and does not work with Jetson's L4T CUDA: it imports, "
            "then fails at the first CUDA op with 'named symbol not found'; build it on the device "
            "(CMake >= 3.22.1, GCC >= 11) or take a Jetson wheel",
        fix=JETSON_BUILD,
        source=SRC_JETSON),
    caveat(
        when=is_installed() & l4t(),
        msg="if this bitsandbytes came from PyPI it is an SBSA build that imports on a Jetson and fails at the "
            "first CUDA op ('named symbol not found'); `python -m bitsandbytes` runs a real CUDA step and tells",
        fix=JETSON_BUILD,
        source=SRC_JETSON),
    caveat(
        when=jetson() & (gpu_cc("==11.0") | gpu_cc("==10.1")) & installed("torch") & torch_cuda("<13"),
        msg="on Jetson Thor the bitsandbytes docs warn against CUDA 12 builds (Thor was sm_101 before CUDA 13); "
            "its CUDA 13 wheels target sm_110",
        fix="pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu130",
        source=SRC_INSTALL),

    # -- GPU generation --
    conflicts(
        when=linux_cuda() & gpu_cc("<6.0"),
        msg="bitsandbytes' CUDA kernels need compute capability 6.0 or newer",
        fix=None,
        source=SRC_INSTALL),
    caveat(
        when=linux_cuda() & gpu_cc(">=6.0,<7.5"),
        msg="below compute capability 7.5 LLM.int8 has only a slow 8-bit matmul; 4-bit and 8-bit optimizers work",
        fix=None,
        source=SRC_INSTALL),

    # -- no CUDA: MPS and the CPU backend --
    caveat(
        when=on_macos() & apple_silicon(),
        msg="on Apple silicon bitsandbytes runs on MPS: 4-bit (QLoRA) works and LLM.int8 works (may lack "
            "optimizations), but 8-bit optimizers are still in progress: use torch's AdamW",
        fix=None,
        source=SRC_README),
    conflicts(
        when=on_linux() & arch_is("x86_64") & ~nvidia_gpu() & ~cpu_feature("avx2"),
        msg="without a GPU bitsandbytes uses its CPU backend, which needs AVX2 on x86_64; this CPU has none",
        fix=None,
        source=SRC_README),
)

# -- the source build's environment --


def bitsandbytes_cmake_args(machine: Machine) -> EnvVar | None:
    """CMAKE_ARGS="-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=87": the CMake cache variables of its build.

    bitsandbytes builds with `scikit_build_core.setuptools.build_meta`, which hands the CMAKE_ARGS
    environment variable to CMake's configure step; its CMakeLists.txt reads COMPUTE_BACKEND and
    COMPUTE_CAPABILITY ("89;90;100;120"-style numbers), defaulting to the CPU backend. Thor is 110 from
    CUDA 13 on and 101 before.
    Sources: https://github.com/bitsandbytes-foundation/bitsandbytes/blob/main/CMakeLists.txt,
    https://github.com/scikit-build/scikit-build-core (CMAKE_ARGS).
    """
    gpus = nvidia_ccs(machine)
    if gpus is None:
        return None
    numbers = ";".join(f"{major}{minor}" for major, minor in sorted({nvcc_cc(cc, machine) for _, cc in gpus}))
    return EnvVar("CMAKE_ARGS", f"-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY={numbers}",
                  f"{describe(gpus)}: bitsandbytes' CMake build takes it as COMPUTE_CAPABILITY, passed through "
                  f"scikit-build-core's CMAKE_ARGS{thor_note(gpus, machine)}")


def bitsandbytes_env(machine: Machine) -> tuple[EnvVar, ...]:
    return present(bitsandbytes_cmake_args(machine))


TOOL = Tool(
    id="bitsandbytes",
    dist="bitsandbytes",
    summary="8-bit optimizers and 4-bit/8-bit quantization (QLoRA)",
    order=40,
    rules=RULES,
    install="pip install bitsandbytes",
    homepage="https://github.com/bitsandbytes-foundation/bitsandbytes",
    recipe=Recipe(
        build_env=bitsandbytes_env,
        force_build=l4t(),  # PyPI's aarch64 wheel is an SBSA build that fails on L4T at the first kernel
        # PyPI has had no bitsandbytes sdist since 0.42.0; the GitHub tags are bare versions ("0.50.2").
        source="git+https://github.com/bitsandbytes-foundation/bitsandbytes@{version}",
        # Its build backend is scikit_build_core.setuptools.build_meta driving CMake >= 3.22.1.
        build_requires=("scikit-build-core", "setuptools>=77.0.3", "cmake>=3.22.1"),
        smoke="bitsandbytes.py",
        known_failures=(
            KnownFailure(
                r"named symbol not found",
                "the tool's CUDA library has no kernel this GPU can run: on a Jetson, PyPI's aarch64 bitsandbytes (an "
                "SBSA build without sm_87) imports, then fails like this at the first kernel; build it on the device: "
                "cmake -DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=87 -S . && make", SRC_JETSON),
            # printed by recipes/smoke/bitsandbytes.py when a 4-bit roundtrip is off
            KnownFailure(
                r"exceeds NF4's bound",
                "a kernel computes wrong values: its result differs from the reference beyond tolerance"),
        ),
    ),
)
