"""torchao: PyTorch-native quantization (int8/int4, float8, MX formats) and low-precision training.

On Linux x86_64 the wheel is compiled (cp310-abi3); elsewhere PyPI has only
a pure-Python wheel from 0.7.0 on (through 0.18.0, the newest checked), so its
C++/CUDA extensions are missing on aarch64 (GH200, GB10, Jetson). 0.4.0-0.6.1
had compiled macosx_11_0_arm64 wheels and nothing for Linux aarch64. float8 training needs CC 8.9+; MX/NVFP4 formats SM100+.
"""

from __future__ import annotations

from ..doctor.dsl.rules import arch_is, caveat, gpu_cc, nvidia_gpu, on_linux, on_macos, version
from ..doctor.dsl.tool import Tool

SRC_README = "https://github.com/pytorch/ao/blob/main/README.md"
SRC_PYPI = "https://pypi.org/project/torchao/0.18.0/"

RULES = (
    caveat(
        when=on_linux() & nvidia_gpu() & gpu_cc("<8.9"),
        msg="torchao's float8 training and inference need compute capability 8.9 or newer (Ada, Hopper, "
            "Blackwell); int8/int4 weight-only quantization still works here",
        fix=None,
        source=SRC_README),
    caveat(
        when=on_linux() & arch_is("aarch64") & version(">=0.7"),
        msg="PyPI's torchao for Linux aarch64 (0.7.0 through 0.18.0) is a pure-Python wheel without the C++/CUDA "
            "extensions of the x86_64 build: kernels that need them are unavailable unless built from source",
        fix="pip install --no-build-isolation git+https://github.com/pytorch/ao.git",
        source=SRC_PYPI),
    caveat(
        when=on_macos() & version(">=0.7"),
        msg="on macOS torchao from 0.7.0 on is the pure-Python wheel (0.4.0-0.6.1 had compiled arm64 wheels): "
            "no CUDA quantization kernels, and its ARM CPU low-bit kernels are experimental",
        fix=None,
        source=SRC_README),
)

TOOL = Tool(
    id="torchao",
    dist="torchao",
    summary="PyTorch-native quantization and low-precision (float8) training",
    order=70,
    rules=RULES,
    install="pip install torchao",
    homepage="https://github.com/pytorch/ao",
)
