"""FlashAttention 2 (flash-attn): fused attention kernels for NVIDIA GPUs of CC 8.0+.

PyPI has only the source distribution, so pip builds it everywhere (the index
says so). What the index cannot say is how to build it for this GPU: setup.py
emits SASS only for 80, 90, 100, 110 and 120 (FLASH_ATTN_CUDA_ARCHS), so a
GB10 (12.1) builds 120, an Orin (8.7) 80, a Thor (11.0) 110 (only on main,
with CUDA >= 13); 121 or 87 would give PTX only. Each nvcc job takes about
5 GB of memory, so MAX_JOBS keeps the build from being killed.
"""

from __future__ import annotations

from ..doctor.core.facts import Machine
from ..doctor.dsl.buildflags import CC, NVCC_GB_PER_JOB, NVCC_THREADS, describe, max_jobs, nvidia_ccs
from ..doctor.dsl.recipe import EnvVar, KnownFailure, Recipe
from ..doctor.dsl.rules import (
    Alternative,
    caveat, conflicts, gpu_cc, is_installed, jetson, needs_build, no_cuda_toolkit, nvidia_gpu, on_linux, on_macos,
    on_windows, torch_cpu_only,
)
from ..doctor.dsl.tool import Tool
from ._cuda_stack import CUDA_TOOLKIT_FOR_TORCH, no_gpu, nvcc

SRC_README = "https://github.com/Dao-AILab/flash-attention/blob/main/README.md"
SRC_SETUP = "https://github.com/Dao-AILab/flash-attention/blob/main/setup.py"
SRC_NO_SM121 = "https://github.com/Dao-AILab/flash-attention/issues/1969"
SRC_OOM = "https://github.com/Dao-AILab/flash-attention/issues/575"

BUILD = "pip install flash-attn --no-build-isolation"
to_build = ~is_installed() & on_linux() & nvidia_gpu()


def _build_for(cc: str, archs: str, jobs: int, why: str, source: str, *, extra=None, command: str = BUILD):
    when = to_build & gpu_cc(cc) if extra is None else to_build & gpu_cc(cc) & extra
    return needs_build(
        when=when,
        msg=f"no flash-attn wheel on PyPI (source only): build it for this GPU with FLASH_ATTN_CUDA_ARCHS={archs} "
            f"({why}); each nvcc job needs about 5 GB of memory, so cap MAX_JOBS",
        fix=f"FLASH_ATTN_CUDA_ARCHS={archs} MAX_JOBS={jobs} {command}",
        source=source)


RULES = (
    # -- where it cannot run --
    conflicts(
        when=on_macos(),
        msg="flash-attn is CUDA-only (NVIDIA GPUs, plus a ROCm port); it has no Metal/MPS kernels",
        fix=None,
        source=SRC_README),
    conflicts(
        when=on_linux() & no_gpu(),
        msg="flash-attn needs a GPU (NVIDIA CC 8.0+, or AMD with ROCm); this machine has none",
        fix=None,
        source=SRC_README),
    conflicts(
        when=on_linux() & nvidia_gpu() & gpu_cc("<8.0"),
        msg="FlashAttention-2 supports Ampere, Ada, Hopper and Blackwell (CC 8.0+); Turing and Volta are not "
            "supported: use FlashAttention 1.x there",
        fix='pip install "flash-attn<2" --no-build-isolation',
        source=SRC_README),
    conflicts(
        when=on_linux() & nvidia_gpu() & torch_cpu_only(),
        msg="flash-attn builds against the installed torch, which is a CPU-only build: install a CUDA torch first",
        fix="pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu130  "
            "# driver >= 580; with an older driver use --index-url https://download.pytorch.org/whl/cu128",
        source=SRC_README),
    caveat(
        when=on_windows(),
        msg="Windows is not an official flash-attn target (the README: it 'might work' from v2.3.2); the build "
            "needs Visual Studio and the CUDA toolkit",
        fix=BUILD,
        source=SRC_README),

    # -- what the build needs --
    needs_build(
        when=to_build & ~jetson() & no_cuda_toolkit(),
        msg="building flash-attn needs nvcc (the README asks for CUDA 12.0+; setup.py refuses < 11.7), and no "
            "CUDA toolkit was found: install the one matching torch.version.cuda",
        fix=CUDA_TOOLKIT_FOR_TORCH,
        source=SRC_SETUP),
    needs_build(
        when=to_build & jetson() & no_cuda_toolkit(),
        msg="building flash-attn needs nvcc, and no CUDA toolkit was found on this Jetson (JetPack ships it in "
            "/usr/local/cuda)",
        fix="sudo apt-get install nvidia-jetpack",
        source=SRC_SETUP),
    conflicts(
        when=to_build & nvcc("<11.7"),
        msg="flash-attn's setup.py refuses nvcc older than 11.7 (the README asks for CUDA 12.0+)",
        fix=CUDA_TOOLKIT_FOR_TORCH,
        source=SRC_SETUP),
    needs_build(
        when=to_build & gpu_cc(">=10.0") & nvcc("<12.8"),
        msg="flash-attn emits sm_100 and sm_120 code only with nvcc 12.8 or later; this toolkit is older",
        fix="sudo apt-get install cuda-toolkit-13-0  # NVIDIA's CUDA apt repository",
        source=SRC_SETUP),

    # -- how to build it for this GPU (FLASH_ATTN_CUDA_ARCHS takes 80, 90, 100, 110, 120) --
    _build_for(">=8.0,<9.0", "80", 4, "an sm_80 cubin runs on 8.0, 8.6 and 8.9", SRC_SETUP, extra=~jetson()),
    _build_for("==8.7", "80", 2, "Orin: an sm_80 cubin runs on 8.7; 87 would give PTX only; small Jetsons "
               "get the build killed at higher MAX_JOBS", SRC_OOM, extra=jetson()),
    _build_for("==9.0", "90", 4, "Hopper: H100, H200, GH200", SRC_SETUP),
    _build_for(">=10.0,<11.0", "100", 4, "Blackwell B200/B300: 100 family code", SRC_SETUP),
    _build_for("==11.0", "110", 4, "Thor: flash-attn 2.8.3 emits no sm_110; main maps 110 to sm_110 with "
               "CUDA >= 13", SRC_SETUP,
               command="pip install --no-build-isolation git+https://github.com/Dao-AILab/flash-attention.git"),
    _build_for(">=12.0,<13.0", "120", 4, "RTX 50xx and GB10: 120 family code runs on 12.1, while 121 would give "
               "PTX only", SRC_NO_SM121),
)

# -- the source build's environment --

FLASH_ATTENTION_FORCE_BUILD = EnvVar(
    "FLASH_ATTENTION_FORCE_BUILD", "TRUE",
    "compile against the installed torch instead of setup.py's guess of a GitHub release wheel, built for "
    "another torch, CUDA or ABI (flash-attention setup.py CachedWheelsCommand)")

# flash-attn's add_cuda_gencodes emits SASS for these only; anything else gives PTX at most.
_FLASH_ATTN_SASS = {8: "80", 9: "90", 10: "100", 11: "110", 12: "120"}
_FLASH_ATTN_REASON = {
    "80": "sm_80 code runs on every 8.x GPU",
    "90": "Hopper's sm_90",
    "100": "the sm_100 family code runs on 10.x",
    "110": "Thor's 110, which flash-attn compiles as sm_110 from CUDA 13 and maps to sm_101 below it",
    "120": "sm_120 family code runs on every 12.x GPU, 12.1 included",
}


def _flash_attn_arch(cc: CC) -> str | None:
    if cc == (10, 1):  # Thor before CUDA 13, not a 10.x Blackwell: flash-attn names it 110
        return "110"
    return _FLASH_ATTN_SASS.get(cc[0]) if cc >= (8, 0) else None


def flash_attn_cuda_archs(machine: Machine) -> EnvVar | None:
    """FLASH_ATTN_CUDA_ARCHS: the SASS target flash-attn really emits for each GPU.

    setup.py's add_cuda_gencodes emits SASS only for 80/90/100/110/120 (100f/120f family code on
    CUDA >= 12.9) and maps a requested 110 to sm_101 below CUDA 13, so Thor is 110 whichever name its
    driver reports; 87 or 121 would give PTX only. flash-attn 2.8.3 (PyPI's latest) has no 110 yet: Thor
    needs a newer source. None below compute capability 8.0, which FlashAttention 2 does not support.
    Source: https://github.com/Dao-AILab/flash-attention/blob/main/setup.py (add_cuda_gencodes).
    """
    gpus = nvidia_ccs(machine)
    if gpus is None:
        return None
    archs = sorted({arch for _, cc in gpus if (arch := _flash_attn_arch(cc))}, key=int)
    if not archs:
        return None
    value = ";".join(archs)
    reasons = "; ".join(_FLASH_ATTN_REASON[arch] for arch in archs)
    return EnvVar("FLASH_ATTN_CUDA_ARCHS", value,
                  f"{describe(gpus)}; flash-attn emits SASS only for 80/90/100/110/120, so {value} ({reasons})")


def flash_attn_env(machine: Machine) -> tuple[EnvVar, ...]:
    """flash-attn's source build. FLASH_ATTENTION_FORCE_CXX11_ABI stays unset: the C++ ABI of torch is no
    fact here, and torch.utils.cpp_extension already compiles with the installed torch's own ABI
    (torch._C._GLIBCXX_USE_CXX11_ABI); the flag only forces TRUE, for CI wheels meant for NGC images.
    Source: https://github.com/Dao-AILab/flash-attention/blob/main/setup.py.
    """
    archs = flash_attn_cuda_archs(machine)
    if archs is None:
        return ()
    return (FLASH_ATTENTION_FORCE_BUILD, archs, max_jobs(machine, NVCC_GB_PER_JOB), NVCC_THREADS)


# How its smoke run fails beyond what any compiled extension meets (another torch's symbols: the engine's).
KNOWN_FAILURES = (
    KnownFailure(
        r"FlashAttention only supports Ampere GPUs or newer",
        "flash-attn 2 needs compute capability 8.0 or newer; use torch's scaled_dot_product_attention on this GPU",
        SRC_README),
)


TOOL = Tool(
    id="flash-attn",
    dist="flash-attn",
    aliases=("flash-attention",),  # the repository's name (Dao-AILab/flash-attention)
    summary="FlashAttention 2: fused attention kernels for NVIDIA GPUs (Ampere and newer)",
    order=20,
    rules=RULES,
    install=BUILD,
    alternatives=(Alternative('PyTorch SDPA: attn_implementation="sdpa" in transformers '
                              '(torch.nn.functional.scaled_dot_product_attention)'),),
    homepage="https://github.com/Dao-AILab/flash-attention",
    # PyPI's sdist is the source. setup.py imports packaging, wheel and torch, declares psutil and ninja as
    # setup_requires, and without ninja torch's BuildExtension compiles one file at a time (MAX_JOBS unused).
    recipe=Recipe(build_env=flash_attn_env, build_requires=("packaging", "psutil", "ninja", "wheel", "setuptools"),
                  smoke="flash_attn.py", known_failures=KNOWN_FAILURES),
)
