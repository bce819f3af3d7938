"""MLX: Apple's array framework, on Apple silicon (Metal) and on Linux (CUDA or CPU backend).

On a Mac the wheel needs Apple silicon and a native arm64 Python; from 0.29.4
on also macOS 14+ (0.29.3 is the last release with macosx_13_0 wheels).
On Linux `pip install mlx` brings no backend: the extras pull mlx-cuda-13
(driver >= 580), mlx-cuda-12 (driver >= 550.54.14) or mlx-cpu. From 0.27 on
the Linux wheels are manylinux_2_35 (glibc >= 2.35; aarch64 from 0.30.0);
0.26.5 was manylinux_2_34, older ones manylinux_2_31. The CUDA backend needs
CC 7.5+ and carries kernels for 75, 80, 90a, 100a, 120a, 121a plus PTX for
120: nothing for a Jetson (Orin's 8.7 iGPU, Thor's 11.0).
"""

from __future__ import annotations

from ..doctor.core.facts import Machine
from ..doctor.core.nvidia import code_for
from ..doctor.dsl.recipe import Recipe
from ..doctor.dsl.rules import (
    Ctx, apple_silicon, caveat, check, conflicts, glibc, installed, jetson, macos, nvidia_driver, nvidia_gpu, on_linux,
    on_macos, on_windows, translated_python, version,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import linux_cuda

SRC_INSTALL = "https://ml-explore.github.io/mlx/build/html/install.html"
SRC_ARCHS = "https://github.com/ml-explore/mlx/blob/main/setup.py"
SRC_FILES = "https://pypi.org/simple/mlx/"  # the wheels' platform tags, release by release

# The CUDA architectures of the mlx-cuda wheels (compat-facts §3, M1).
MLX_CUDA_ARCHS = ("sm_75", "sm_80", "sm_90a", "sm_100a", "sm_120a", "sm_121a", "compute_120")


def _lacks_code(ctx: Ctx) -> bool | None:
    ccs = ctx.machine.gpu_ccs()
    return None if ccs is None else any(code_for(MLX_CUDA_ARCHS, cc) is None for cc in ccs)


def mlx_lacks_code():
    """MLX's CUDA backend has no kernels (cubin or PTX) for some NVIDIA GPU here."""
    return check("mlx-cuda has no kernels for this GPU", _lacks_code, "gpus")


no_cuda_backend = ~installed("mlx-cuda-13") & ~installed("mlx-cuda-12")
server_nvidia = linux_cuda() & ~jetson()


def backend_extras(machine: Machine) -> tuple[str, ...]:
    """The extra that brings mlx's backend on Linux, where plain `pip install mlx` brings none.

    cuda13 needs driver >= 580, cuda12 >= 550.54.14, and both a GPU the mlx-cuda kernels cover; a Jetson, a
    machine without an NVIDIA GPU, or one whose GPU or driver is unknown gets the CPU backend. The macOS
    wheel carries Metal itself. Shared with mlx-lm, whose extras of the same names pull mlx's.
    """
    if machine.os != "linux":
        return ()
    ctx = Ctx(machine)
    if server_nvidia(ctx) is not True or mlx_lacks_code()(ctx) is not False:
        return ("cpu",)
    if nvidia_driver(">=580")(ctx) is True:
        return ("cuda13",)
    return ("cuda12",) if nvidia_driver(">=550.54.14")(ctx) is True else ("cpu",)


# Shared with mlx-lm, which runs on the same wheels.
MAC_RULES = (
    conflicts(
        when=on_macos() & translated_python(),
        msg="MLX needs a native arm64 Python; this one is an x86_64 build running under Rosetta 2, for which "
            "there are no MLX wheels",
        fix="arch -arm64 brew install python@3.12  # then recreate the venv with /opt/homebrew/bin/python3.12",
        source=SRC_INSTALL),
    conflicts(
        when=on_macos() & ~apple_silicon(),
        msg="MLX on macOS needs an Apple silicon (M-series) Mac",
        fix=None,
        source=SRC_INSTALL),
)

# The macOS and glibc floors are per release (0.29.3 still has macosx_13_0 wheels, 0.26.x manylinux_2_31/2_34;
# compat-facts §9). For a release pip would install, the index already picks one whose wheel fits; these rules
# speak for an installed MLX on a machine known only by its facts (a profile, a facts file), where no binary can
# be read; on a probed machine the binary audit reads the same floor from the installed libraries.
RULES = (
    *MAC_RULES,
    conflicts(
        when=on_macos() & apple_silicon() & macos("<14") & version(">=0.29.4"),
        msg="MLX's macOS wheels from 0.29.4 on need macOS 14 or later (0.29.3 is the last with macosx_13_0 "
            "wheels)",
        fix="softwareupdate --list  # then install the macOS 14+ update it offers; or pip install 'mlx==0.29.3'",
        source=SRC_FILES),

    # -- Linux with an NVIDIA GPU: the CUDA backend --
    conflicts(
        when=on_linux() & jetson(),
        msg="MLX's CUDA wheels are SBSA builds with kernels for 75, 80, 90a, 100a, 120a and 121a plus PTX for "
            "120: nothing for a Jetson's GPU (Orin 8.7, Thor 11.0); only the CPU backend runs here",
        fix='pip install "mlx[cpu]"',
        source=SRC_ARCHS),
    conflicts(
        when=server_nvidia & mlx_lacks_code(),
        msg="MLX's CUDA backend has no kernels for this GPU: it needs CC 7.5+ and ships 75, 80, 90a, 100a, 120a, "
            "121a and PTX for 120 ('a' code runs only on exactly that GPU)",
        fix='pip install "mlx[cpu]"  # the CPU backend',
        source=SRC_ARCHS),
    conflicts(
        when=server_nvidia & nvidia_driver("<550.54.14"),
        msg="MLX's CUDA backend needs NVIDIA driver 550.54.14 or later (mlx-cuda-12; mlx-cuda-13 needs 580)",
        fix='pip install "mlx[cpu]"  # or upgrade the NVIDIA driver',
        source=SRC_INSTALL),
    conflicts(
        when=server_nvidia & installed("mlx-cuda-13") & nvidia_driver("<580"),
        msg="mlx-cuda-13 (mlx[cuda13]) needs NVIDIA driver 580 or later; with this driver use the CUDA 12 build",
        fix='pip uninstall -y mlx-cuda-13 && pip install "mlx[cuda12]"',
        source=SRC_INSTALL),
    caveat(
        when=server_nvidia & no_cuda_backend & nvidia_driver(">=580"),
        msg="on Linux plain `pip install mlx` brings no GPU backend: install it with the CUDA 13 extra "
            "(driver >= 580)",
        fix='pip install "mlx[cuda13]"',
        source=SRC_INSTALL),
    caveat(
        when=server_nvidia & no_cuda_backend & nvidia_driver(">=550.54.14,<580"),
        msg="on Linux plain `pip install mlx` brings no GPU backend, and this driver (older than 580) takes the "
            "CUDA 12 extra (driver >= 550.54.14)",
        fix='pip install "mlx[cuda12]"',
        source=SRC_INSTALL),

    # -- Linux without NVIDIA, and glibc --
    caveat(
        when=on_linux() & ~nvidia_gpu() & ~installed("mlx-cpu"),
        msg="on Linux plain `pip install mlx` brings no backend: install the CPU one",
        fix='pip install "mlx[cpu]"',
        source=SRC_INSTALL),
    conflicts(
        when=on_linux() & glibc("<2.35") & version(">=0.27"),
        msg="MLX's Linux wheels from 0.27 on are manylinux_2_35: they need glibc 2.35 or later (Ubuntu 22.04 and "
            "newer); 0.26.5 was manylinux_2_34, 0.26.3 and older manylinux_2_31, x86_64 only",
        fix=None,
        source=SRC_FILES),
    caveat(
        when=on_windows(),
        msg="MLX publishes Windows wheels (with mlx-cuda-13), but Windows is not a documented platform",
        fix=None,
        source=SRC_INSTALL),
)

TOOL = Tool(
    id="mlx",
    dist="mlx",
    summary="Apple's array framework: Metal on Apple silicon, CUDA or CPU on Linux",
    order=180,
    rules=RULES,
    install="pip install mlx",
    homepage="https://github.com/ml-explore/mlx",
    # The smoke test checks mlx's matmul against numpy, which mlx itself does not require.
    recipe=Recipe(extras=backend_extras, smoke="mlx.py", smoke_requires=("numpy",)),
)
