"""Triton: the GPU kernel compiler behind torch.compile, unsloth and Liger.

Linux only, NVIDIA (CC 8.0+ officially) or AMD GPUs, no CPU backend. Triton
compiles with the ptxas it bundles, and an old ptxas does not know the newest
GPUs: triton 3.5.x bundles only ptxas 12.8 and fails on GB10 ("Value 'sm_121a'
is not defined"), B300 and Thor (sm_110a); 3.6.0 adds a 12.9 ptxas (GB10 and
B300, not Thor); Thor needs triton >= 3.7 (compat-facts §9, Corrections 2026-12).
For an installed triton the binary audit (doctor/audit) reads the bundled
ptxas' version from the wheel's files and judges it against the GPU; the rules
below only cover the release pip would install.
"""

from __future__ import annotations

from packaging.version import Version

from ..doctor.core.facts import Machine
from ..doctor.dsl.buildflags import nvidia_ccs, present, toolkit_version
from ..doctor.dsl.recipe import EnvVar, KnownFailure, Recipe
from ..doctor.dsl.rules import (
    Alternative,
    caveat, conflicts, gpu_cc, is_installed, needs_build, no_cuda_toolkit, on_linux, on_macos, on_windows, version,
)
from ..doctor.dsl.tool import Protected, Tool
from ._cuda_stack import JETSON_AI_LAB_JP6, SRC_JETSON_WHEELS, l4t, linux_cuda, no_gpu, nvcc

SRC_README = "https://github.com/triton-lang/triton/blob/main/README.md"
SRC_SM121A = "https://github.com/triton-lang/triton/issues/8539"
SRC_SM121A_PTXAS_PATH = "https://github.com/triton-lang/triton/issues/9181"
SRC_SM110A = "https://github.com/vllm-project/vllm/pull/31338"
PTXAS_FIX = "export TRITON_PTXAS_PATH=/usr/local/cuda/bin/ptxas"

GB10 = gpu_cc("==12.1")
THOR = gpu_cc("==11.0")

RULES = (
    # -- platforms --
    conflicts(
        when=on_macos(),
        msg="Triton generates GPU kernels for NVIDIA and AMD GPUs on Linux only: there is no macOS build "
            "or Metal backend",
        fix=None,
        source=SRC_README),
    conflicts(
        when=on_windows(),
        msg="Triton has no official Windows build; the unofficial triton-windows port (3.8.0.post29) "
            "packages it for NVIDIA GPUs",
        fix="pip install triton-windows",
        source=SRC_README),
    conflicts(
        when=on_linux() & no_gpu(),
        msg="Triton has no CPU backend: it needs an NVIDIA or AMD GPU",
        fix=None,
        source=SRC_README),
    needs_build(
        when=~is_installed() & l4t(),
        msg="PyPI's aarch64 triton (since 3.5.0) goes with PyPI's SBSA torch and does not work on Jetson L4T "
            "(JetPack 6); use the Jetson build that matches the Jetson torch",
        fix=f"pip install triton --index-url {JETSON_AI_LAB_JP6}  # JetPack 6",
        source=SRC_JETSON_WHEELS),
    caveat(
        when=linux_cuda() & gpu_cc("<8.0"),
        msg="Triton supports NVIDIA GPUs of compute capability 8.0 and newer; kernels on this older GPU are "
            "outside what upstream tests",
        fix=None,
        source=SRC_README),

    # -- the bundled ptxas and the newest GPUs: the release pip would install (installed: the audit) --
    caveat(
        when=~is_installed() & linux_cuda() & GB10 & version("<3.6") & nvcc(">=12.9"),
        msg="triton before 3.6 bundles only ptxas 12.8, which does not know the GB10 (\"ptxas fatal: Value "
            "'sm_121a' is not defined\"); this machine's CUDA toolkit (12.9 or later) knows sm_121a, so point "
            "Triton at its ptxas (3.6.0 bundles a 12.9 ptxas, which knows it)",
        fix=PTXAS_FIX,
        source=SRC_SM121A_PTXAS_PATH),
    conflicts(
        when=~is_installed() & linux_cuda() & GB10 & version("<3.6") & (no_cuda_toolkit() | nvcc("<12.9")),
        msg="triton before 3.6 bundles only ptxas 12.8, which does not know the GB10 (\"Value 'sm_121a' is not "
            "defined\"), and there is no CUDA toolkit 12.9 or later here whose ptxas could replace it",
        fix=f"sudo apt-get install cuda-toolkit-13-0 && {PTXAS_FIX}",
        source=SRC_SM121A),
    caveat(
        when=~is_installed() & linux_cuda() & THOR & version("<3.7"),
        msg="triton before 3.7 bundles no ptxas that knows Thor (\"Value 'sm_110a' is not defined\"); JetPack 7's "
            "CUDA 13 ptxas knows it",
        fix=PTXAS_FIX,
        source=SRC_SM110A),
)

# -- the run-time environment: a ptxas that knows this GPU --

# GPUs whose arch-specific target the ptxas bundled with triton before 3.9 does not know, the
# first CUDA toolkit whose ptxas does, and the report of the failure.
_PTXAS_TOO_OLD = {
    (12, 1): ("sm_121a", Version("12.9"), "triton#8539"),
    (11, 0): ("sm_110a", Version("13.0"), "vllm#31338"),
}


def _ptxas_need(machine: Machine) -> tuple[str, Version, str] | None:
    gpus = nvidia_ccs(machine)
    needs = [] if gpus is None else [_PTXAS_TOO_OLD[cc] for _, cc in gpus if cc in _PTXAS_TOO_OLD]
    return max(needs, key=lambda need: need[1], default=None)


def triton_ptxas_path(machine: Machine) -> EnvVar | None:
    """TRITON_PTXAS_PATH=<cuda_home>/bin/ptxas where triton's bundled ptxas may not know this GPU.

    Triton before 3.9 fails on GB10 with "ptxas fatal: Value 'sm_121a' is not defined" (triton#8539) and
    on Thor with 'sm_110a' (vLLM PR #31338); a CUDA toolkit's ptxas that knows them (12.9+ for sm_121a,
    13.0+ for sm_110a) fixes it, and is harmless with triton 3.9, whose bundled ptxas 13.4 knows both.
    Set only when that toolkit and its folder are facts; otherwise None, and `ptxas_missing` says why.
    Sources: https://github.com/triton-lang/triton/issues/8539, https://github.com/vllm-project/vllm/pull/31338.
    """
    need, toolkit = _ptxas_need(machine), toolkit_version(machine)
    if need is None or toolkit is None or toolkit < need[1] or machine.cuda_home is None:
        return None
    arch, _, report = need
    return EnvVar("TRITON_PTXAS_PATH", f"{machine.cuda_home}/bin/ptxas",
                  f"triton before 3.9 bundles a ptxas that does not know {arch} ({report}); this CUDA {toolkit} "
                  "toolkit's ptxas does")


def ptxas_missing(machine: Machine) -> str | None:
    """What this machine lacks for TRITON_PTXAS_PATH, in one line; None when nothing is missing.

    Source: https://github.com/triton-lang/triton/issues/8539.
    """
    need = _ptxas_need(machine)
    if need is None or triton_ptxas_path(machine) is not None:
        return None
    arch, first, report = need
    return (f"a CUDA toolkit >= {first} whose ptxas knows {arch}, for TRITON_PTXAS_PATH: triton before 3.9 "
            f"bundles one that does not ({report})")


def triton_runtime_env(machine: Machine) -> tuple[EnvVar, ...]:
    return present(triton_ptxas_path(machine))


TOOL = Tool(
    id="triton",
    dist="triton",
    summary="GPU kernel compiler used by torch.compile, unsloth and Liger kernels",
    order=10,
    rules=RULES,
    install="pip install triton",
    alternatives=(Alternative("MLX custom Metal kernels (mx.fast.metal_kernel)", on_macos()),
                  Alternative("pip install triton-windows", on_windows())),
    homepage="https://triton-lang.org",
    # PyPI has never had a triton sdist (wheels only), and its source build fetches a prebuilt LLVM from the
    # network; TRITON_PTXAS_PATH reaches the smoke test and the plan's run-time environment.
    recipe=Recipe(binary_only=True, runtime_env=triton_runtime_env, smoke="triton.py", known_failures=(
        KnownFailure(
            r"ptxas.{0,200}sm_\d+a|sm_\d+a.{0,200}ptxas",
            "triton's bundled ptxas does not know this GPU: set TRITON_PTXAS_PATH to the CUDA toolkit's ptxas "
            "(export TRITON_PTXAS_PATH=$CUDA_HOME/bin/ptxas)", SRC_SM121A),
    )),
    # torch pins its own triton (pytorch-triton on nightlies, pytorch-triton-rocm for ROCm builds).
    protects=(Protected("triton", names=frozenset({"triton", "pytorch-triton", "pytorch-triton-rocm"})),),
)
