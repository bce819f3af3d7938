"""vLLM: high-throughput LLM inference and serving (used by TRL's GRPO and unsloth's fast_inference).

Linux only on PyPI (manylinux_2_28 wheels for x86_64 and aarch64). vllm
0.33.0 pins torch == 2.14.0, a CUDA 13.0 build (driver >= 580), and its
CUDA-13 kernels cover CC 7.5-12.0 (11.0 included, no explicit 12.1). CPU
builds come as `+cpu` wheels on GitHub releases; on a Mac it is a source
build or the MLX-based vllm-metal plugin.
"""

from __future__ import annotations

from ..doctor.dsl.rules import (
    Alternative,
    arch_is, caveat, conflicts, cpu_feature, glibc, gpu_cc, installed, is_installed, jetson, needs_build, nvidia_driver,
    on_linux, on_macos, on_windows, version,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import DRIVER_580_FIX, l4t, linux_cuda, no_gpu

SRC_GPU = "https://docs.vllm.ai/en/latest/getting_started/installation/gpu/"
SRC_CPU = "https://docs.vllm.ai/en/latest/getting_started/installation/cpu/"
SRC_ARCHS = "https://github.com/vllm-project/vllm/blob/main/CMakeLists.txt"
SRC_PYPI = "https://pypi.org/project/vllm/0.33.0/"
SRC_THOR = "https://github.com/vllm-project/vllm/issues/34470"
SRC_JETSON = "https://github.com/dusty-nv/jetson-containers/blob/master/docs/pypi-config.md"

V033 = version(">=0.33,<0.34")
CPU_WHEEL = ("pip install https://github.com/vllm-project/vllm/releases/download/v0.33.0/"
             "vllm-0.33.0+cpu-cp38-abi3-manylinux_2_34_{arch}.whl "
             "--extra-index-url https://download.pytorch.org/whl/cpu")

RULES = (
    # -- platforms --
    conflicts(
        when=on_macos(),
        msg="vLLM has no macOS wheels: on Apple silicon it is a CPU-only source build (macOS 14+, FP32/FP16) "
            "or the community vllm-metal plugin on MLX",
        fix=None,
        source=SRC_CPU),
    conflicts(
        when=on_windows(),
        msg="vLLM runs on Linux only; on Windows use WSL",
        fix="wsl --install",
        source=SRC_GPU),
    needs_build(
        when=~is_installed() & on_linux() & arch_is("aarch64") & no_gpu(),
        msg="PyPI's vllm is the CUDA build; on an ARM CPU take the +cpu wheel from vLLM's GitHub releases "
            "(NEON; since 0.11.2)",
        fix=CPU_WHEEL.format(arch="aarch64"),
        source=SRC_CPU),
    needs_build(
        when=~is_installed() & on_linux() & arch_is("x86_64") & no_gpu(),
        msg="PyPI's vllm is the CUDA build; on an x86_64 CPU take the +cpu wheel from vLLM's GitHub releases "
            "(AVX-512 recommended; AVX2 since 0.17.0, with limited features)",
        fix=CPU_WHEEL.format(arch="x86_64"),
        source=SRC_CPU),
    needs_build(
        when=~is_installed() & on_linux() & no_gpu() & glibc("<2.34"),
        msg="vLLM's CPU wheels (x86_64 and aarch64) are manylinux_2_34: they need glibc 2.34 or later, so on this "
            "system vLLM's CPU backend has to be built from source",
        fix="git clone https://github.com/vllm-project/vllm && cd vllm && VLLM_TARGET_DEVICE=cpu pip install . "
            "--no-build-isolation",
        source=SRC_CPU),
    caveat(
        when=on_linux() & arch_is("aarch64") & no_gpu() & ~cpu_feature("bf16"),
        msg="vLLM's ARM CPU backend needs the BF16 extension (FEAT_BF16) for bfloat16; this CPU lacks it, so "
            "run models in float16 or float32 (--dtype float16)",
        fix=None,
        source=SRC_CPU),
    caveat(
        when=on_linux() & arch_is("x86_64") & no_gpu() & ~cpu_feature("avx512f"),
        msg="vLLM's x86 CPU backend recommends AVX-512; with AVX2 only some features are available (AMD needs "
            "Zen 4 or newer for AVX-512)",
        fix=None,
        source=SRC_CPU),

    # -- NVIDIA GPUs --
    needs_build(
        when=~is_installed() & l4t(),
        msg="PyPI's vllm (an SBSA CUDA 13 build pinning PyPI's torch) does not run on Jetson L4T (JetPack 6, "
            "CUDA 12.6); jetson-containers builds it for JetPack",
        fix="jetson-containers run $(autotag vllm)",
        source=SRC_JETSON),
    conflicts(
        when=linux_cuda() & gpu_cc("<7.5"),
        msg="vLLM's CUDA 13 kernels cover compute capability 7.5 to 12.0; this GPU is older (V100 is 7.0)",
        fix=None,
        source=SRC_ARCHS),
    conflicts(
        when=V033 & linux_cuda() & nvidia_driver("<580"),
        msg="vllm 0.33 pins torch 2.14.0, which PyPI has only as a CUDA 13.0 build: it needs NVIDIA driver 580 "
            "or later",
        fix=DRIVER_580_FIX,
        source=SRC_PYPI),
    # Only for an installed vllm: before the install, pip would bring torch 2.14.0 along, which the pin check
    # of the chosen wheel's own metadata reports as a caveat (and the driver rule above judges that build).
    conflicts(
        when=V033 & is_installed() & installed("torch", "!=2.14.0"),
        msg="vllm 0.33.0 pins torch == 2.14.0 (its compiled kernels are built against that torch); another torch "
            "is installed",
        fix='pip install "torch==2.14.0"',
        source=SRC_PYPI),
    caveat(
        when=linux_cuda() & gpu_cc("==12.1"),
        msg="vLLM's CUDA 13 arch list has no explicit 12.1: on the GB10 it runs its 12.0 kernels, and the FP4 "
            "and MoE backends need care (NVIDIA serves it from cu130 containers)",
        fix=None,
        source=SRC_ARCHS),
    caveat(
        # installed: the audit judges the installed triton's bundled ptxas, and shows it in vllm's verdict
        when=~is_installed() & linux_cuda() & jetson() & gpu_cc("==11.0"),
        msg="on Jetson Thor vLLM's Triton kernels can fail with \"Value 'sm_110a' is not defined\" when the "
            "bundled ptxas is too old; the JetPack 7 CUDA 13 ptxas knows sm_110a",
        fix="export TRITON_PTXAS_PATH=/usr/local/cuda/bin/ptxas",
        source=SRC_THOR),
)

TOOL = Tool(
    id="vllm",
    dist="vllm",
    summary="high-throughput LLM inference and serving (generation for TRL's GRPO)",
    order=170,
    rules=RULES,
    install="pip install vllm",
    alternatives=(Alternative("vllm-metal (vLLM on MLX) or mlx-lm (pip install mlx-lm)", on_macos()),),
    homepage="https://github.com/vllm-project/vllm",
)
