"""FlashAttention 3 (flash_attn_3): Hopper-only attention kernels, built from flash-attention's hopper/.

Not on PyPI: it is built from the hopper/ folder of the flash-attention
repository (or taken from the flash-attn-3 wheels on download.pytorch.org).
Its kernels are sm_90a, arch-specific code that runs on CC 9.0 alone (H100,
H200, GH200), and hopper/setup.py needs CUDA 12.3 or later (12.8 recommended).
The build is memory-hungry (about 260 GB with all cores on a GH200), so
MAX_JOBS stays low.
"""

from __future__ import annotations

from ..doctor.dsl.rules import (
    Alternative,
    conflicts, gpu_cc, is_installed, needs_build, no_cuda_toolkit, nvidia_gpu, on_linux, on_macos, on_windows,
    torch_cpu_only, version,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import no_gpu, nvcc

SRC_SETUP = "https://github.com/Dao-AILab/flash-attention/blob/main/hopper/setup.py"
SRC_README = "https://github.com/Dao-AILab/flash-attention/blob/main/README.md"
SRC_MEMORY = "https://github.com/Dao-AILab/flash-attention/issues/1581"
SRC_SM90A = "https://docs.nvidia.com/cuda/blackwell-compatibility-guide/"

INSTALL = ("git clone https://github.com/Dao-AILab/flash-attention.git && cd flash-attention/hopper && "
           "MAX_JOBS=4 pip install . --no-build-isolation")
HOPPER = gpu_cc("==9.0")
to_build = ~is_installed() & on_linux() & nvidia_gpu() & HOPPER

RULES = (
    # -- the placeholder on PyPI --
    conflicts(
        when=is_installed() & version("==0.0.0"),
        msg="the installed flash-attn-3 0.0.0 is the empty placeholder on PyPI (uploaded 2026-01-09: two empty "
            "files), not FlashAttention 3: nothing of it is installed",
        fix=f"pip uninstall -y flash-attn-3 && {INSTALL}",
        source="https://pypi.org/project/flash-attn-3/0.0.0/"),

    # -- where it cannot run --
    conflicts(
        when=on_macos(),
        msg="FlashAttention 3 is CUDA code for NVIDIA Hopper GPUs only; there is nothing for a Mac",
        fix=None,
        source=SRC_README),
    conflicts(
        when=on_windows(),
        msg="FlashAttention 3 has no Windows support",
        fix=None,
        source=SRC_README),
    conflicts(
        when=on_linux() & no_gpu(),
        msg="FlashAttention 3 needs an NVIDIA Hopper GPU (CC 9.0); this machine has no GPU",
        fix=None,
        source=SRC_README),
    conflicts(
        when=on_linux() & nvidia_gpu() & ~HOPPER,
        msg="FlashAttention 3's kernels are sm_90a only: arch-specific code that runs on compute capability "
            "9.0 (H100, H200, GH200) and no other GPU, older or newer",
        fix=None,  # nothing makes sm_90a code run elsewhere; the alternative says what to use
        source=SRC_SM90A),
    conflicts(
        when=on_linux() & nvidia_gpu() & torch_cpu_only(),
        msg="FlashAttention 3 builds against the installed torch, which is a CPU-only build",
        fix="pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu130  "
            "# driver >= 580; with an older driver use --index-url https://download.pytorch.org/whl/cu128",
        source=SRC_README),

    # -- building it on Hopper --
    needs_build(
        when=to_build & nvcc(">=12.3"),
        msg="FlashAttention 3 is not on PyPI: build it from flash-attention's hopper/ folder (sm_90a, CUDA "
            ">= 12.3, 12.8 recommended); it is memory-hungry (about 260 GB with all cores on a GH200), so keep "
            "MAX_JOBS around 4",
        fix=INSTALL,
        source=SRC_MEMORY),
    needs_build(
        when=to_build & nvcc("<12.3"),
        msg="FlashAttention 3 is built from source and hopper/setup.py needs CUDA 12.3 or later (12.8 "
            "recommended); this toolkit is older",
        fix=f"sudo apt-get install cuda-toolkit-12-8 && {INSTALL}",
        source=SRC_SETUP),
    needs_build(
        when=to_build & no_cuda_toolkit(),
        msg="FlashAttention 3 is built from source with nvcc (CUDA 12.3 or later, 12.8 recommended), and no "
            "CUDA toolkit was found",
        fix=f"sudo apt-get install cuda-toolkit-12-8 && {INSTALL}",
        source=SRC_SETUP),
)

TOOL = Tool(
    id="flash-attn-3",
    dist="flash_attn_3",
    summary="FlashAttention 3: attention kernels for NVIDIA Hopper (sm_90a), built from flash-attention's hopper/",
    order=30,
    rules=RULES,
    install=INSTALL,
    on_index=False,
    alternatives=(Alternative("flash-attn (FlashAttention 2) on other NVIDIA GPUs", nvidia_gpu()),
                  Alternative('PyTorch SDPA (attn_implementation="sdpa") anywhere')),
    homepage="https://github.com/Dao-AILab/flash-attention",
)
