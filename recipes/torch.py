"""PyTorch: which build runs on this machine's GPU, driver and OS.

The wheels decide almost everything here (compat-facts §2). On Linux, PyPI's
torch 2.11-2.14 is a CUDA 13.0 build and 2.15 a CUDA 13.2 one, on x86_64 and
aarch64 alike; before 2.11 the aarch64 wheels were CPU-only and x86_64 had
CUDA 12.8 (2.8-2.10). Each build carries kernels for a fixed list of GPU
architectures, and a CUDA 13 build needs driver >= 580.

The CUDA-stack conditions it shares with other recipes are in `_cuda_stack`.
"""

from __future__ import annotations

from ..doctor.dsl.recipe import Recipe
from ..doctor.dsl.rules import (
    apple_silicon, arch_is, caveat, check, conflicts, gpu_cc, is_installed, jetson, macos, mps_unusable, needs_build,
    nvidia_driver, nvidia_gpu, on_linux, on_macos, on_windows, torch_cpu_only, translated_python, version,
)
from ..doctor.dsl.tool import Protected, Tool
from ..doctor.probes.deep import kernel_failure
from ._cuda_stack import (
    CUDA_LIBRARIES, DRIVER_580_FIX, JETSON_AI_LAB_JP6, SRC_JETSON_WHEELS, TORCH_CC, gb10_runs_sm120_code, l4t,
    linux_cuda, pypi_torch_below_driver_floor, pypi_torch_lacks_code, seen_pypi_torch_and_driver,
    seen_pypi_torch_and_gpu, seen_torch_and_driver, seen_torch_and_gpu, torch_cuda_above_driver, torch_lacks_code,
)

SRC_TORCH_PYPI = "https://pypi.org/project/torch/2.15.0/"
SRC_AARCH64_CPU = "https://github.com/pytorch/pytorch/issues/160162"
SRC_CPU_SWAP = "https://github.com/pytorch/pytorch/issues/168065"
SRC_ARCH_LISTS = "https://github.com/pytorch/pytorch/blob/main/.ci/manywheel/build_cuda.sh"
SRC_DRIVER_FLOOR = "https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html"
SRC_GB10_WARNING = "https://github.com/pytorch/pytorch/issues/172629"
SRC_JETSON_SM87 = "https://github.com/conda-forge/pytorch-cpu-feedstock/issues/303"
SRC_ORIN_JP72 = "https://github.com/nvidia-holoscan/holohub/pull/1687"
SRC_MPS = "https://developer.apple.com/metal/pytorch/"
SRC_MPS_MACOS = "https://github.com/pytorch/pytorch/issues/78343"
SRC_MPS_MACOS_13 = "https://github.com/pytorch/pytorch/issues/139425"
SRC_MPS_MACOS_14 = "https://github.com/pytorch/pytorch/issues/164943"

_X86 = arch_is("x86_64")
_ARM = arch_is("aarch64")

RULES = (
    # -- what --deep saw: an import that works can still fail at the first kernel --
    conflicts(
        when=is_installed() & check("the --deep kernel launch failed",
                                    lambda ctx: bool(ctx.machine.deep) and kernel_failure(ctx.machine.deep) is not None,
                                    "deep"),
        msg="torch is installed, but launching one small kernel with it failed (aidoctor check --deep)",
        fix="aidoctor explain torch  # the rules below say which build fits this GPU and driver",
        source="https://github.com/bitsandbytes-foundation/bitsandbytes/issues/1930",
        detail=lambda ctx: kernel_failure(ctx.machine.deep)),

    # -- the installed build against this machine's GPU --
    conflicts(
        when=is_installed() & torch_cpu_only() & nvidia_gpu() & ~on_macos() & ~l4t() & nvidia_driver(">=580"),
        msg="torch is a CPU-only build but this machine has an NVIDIA GPU: PyPI's Linux aarch64 torch is "
            "CPU-only up to 2.10 (CUDA 13 builds since 2.11), PyPI's Windows torch is always CPU-only, and a "
            "package pinning another torch can silently swap a CUDA build for a CPU one",
        fix="pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu130",
        source=SRC_AARCH64_CPU,
        detail=seen_torch_and_gpu),
    conflicts(
        when=is_installed() & torch_cpu_only() & nvidia_gpu() & ~on_macos() & ~l4t() & nvidia_driver("<580"),
        msg="torch is a CPU-only build but this machine has an NVIDIA GPU (PyPI's aarch64 torch <= 2.10 and "
            "Windows torch are CPU-only; a dependency can swap a CUDA torch for a CPU one); this driver is older "
            "than 580, so take a CUDA 12.8 build rather than a CUDA 13 one",
        fix='pip install --force-reinstall "torch<2.11" --index-url https://download.pytorch.org/whl/cu128',
        source=SRC_CPU_SWAP,
        detail=seen_torch_and_gpu),
    conflicts(
        when=is_installed() & torch_cpu_only() & l4t(),
        msg="torch is a CPU-only build on a Jetson: PyPI's aarch64 torch is CPU-only up to 2.10 and its CUDA "
            "builds (2.11+) are SBSA builds that do not run on L4T; JetPack 6 needs a Jetson (CUDA 12.6) build",
        fix=f"pip install --force-reinstall torch --index-url {JETSON_AI_LAB_JP6}  "
            "# JetPack 6; any JetPack: jetson-containers run $(autotag pytorch)",
        source=SRC_JETSON_WHEELS,
        detail=seen_torch_and_gpu),
    conflicts(
        when=is_installed() & linux_cuda() & ~jetson() & torch_lacks_code() & _X86 & gpu_cc("<7.5"),
        msg="the installed torch has no kernels for this GPU (no cubin of its major with a lower minor, no PTX "
            "at or below its compute capability): PyPI's torch 2.11+ starts at sm_75, so CC 7.0 and older "
            "GPUs need a CUDA 12.6 build from download.pytorch.org (sm_50..sm_90)",
        fix='pip install --force-reinstall "torch<2.15" --index-url https://download.pytorch.org/whl/cu126  '
            "# 2.14.x is the last release with CUDA 12 builds",
        source=SRC_ARCH_LISTS,
        detail=seen_torch_and_gpu),
    conflicts(
        when=is_installed() & linux_cuda() & ~jetson() & torch_lacks_code() & _ARM & gpu_cc("<8.0"),
        msg="the installed torch has no kernels for this GPU, and no aarch64 torch wheel (PyPI or "
            "download.pytorch.org) has any: aarch64 builds start at sm_80",
        fix="git clone --recursive https://github.com/pytorch/pytorch && cd pytorch && "
            f'TORCH_CUDA_ARCH_LIST="{TORCH_CC}" pip install --no-build-isolation -v .',
        source=SRC_ARCH_LISTS,
        detail=seen_torch_and_gpu),
    # An installed torch with no kernel for a GPU that PyPI's builds cover, and one linking a CUDA runtime newer
    # than the driver, are the binary audit's generic findings (doctor/audit/judge.py): it reads libtorch_cuda's
    # fatbin and DT_NEEDED libcudart.so.N instead of this module tabulating them.
    conflicts(
        when=is_installed() & l4t() & torch_lacks_code(igpu=True),
        msg="the installed torch has no kernels built for this Jetson's GPU (sm_87 on Orin) and no PTX: "
            "PyTorch treats sm_80 code as not for the 8.7 iGPU, so torch.cuda.is_available() is True but the "
            "first CUDA op fails; PyPI's aarch64 wheels carry no sm_87",
        fix=f"pip install --force-reinstall torch --index-url {JETSON_AI_LAB_JP6}  "
            "# JetPack 6; any JetPack: jetson-containers run $(autotag pytorch)",
        source=SRC_JETSON_SM87,
        detail=seen_torch_and_gpu),
    # JetPack 7.2 on Orin (compat-facts §9): PyPI's generic aarch64 torch 2.11 (cu130, sm_80 but no sm_87) passes
    # holohub's tests there, warning that sm_87 is unsupported; conda-forge saw 2.10 work and 2.12 break. Whether
    # sm_80 SASS runs on sm_87 is disputed (jax-ml/jax#40492 no, bitsandbytes#1939 yes): caveats, not ok.
    caveat(
        when=is_installed() & jetson() & ~l4t() & torch_lacks_code(igpu=True),
        msg="the installed torch has no kernels built for exactly this Jetson's GPU and no PTX: on Orin (8.7) it "
            "runs its sm_80 code, which passes real tests on JetPack 7.2 with torch 2.11 but is disputed (torch "
            "warns that sm_87 is unsupported; 2.12 was seen to break on Orin)",
        fix="jetson-containers run $(autotag pytorch)  # a build with sm_87 kernels",
        source=SRC_ORIN_JP72,
        detail=seen_pypi_torch_and_gpu),
    caveat(
        when=is_installed() & on_linux() & gb10_runs_sm120_code(),
        msg="the installed torch has no sm_121 kernels and runs its sm_120 ones on the GB10 (12.0 code runs on "
            "12.1); its warning 'cuda capability 12.1 ... supported (8.0) - (12.0)' is harmless",
        fix=None,
        source=SRC_GB10_WARNING),

    # -- the installed build against the driver (off Jetson: the audit's libcudart.so.N finding) --
    conflicts(
        when=is_installed() & l4t() & torch_cuda_above_driver(),
        msg="the installed torch was built for a newer CUDA major than this Jetson's driver supports (JetPack 6 "
            "is CUDA 12.6; PyPI's aarch64 torch 2.11+ is CUDA 13)",
        fix=f"pip install --force-reinstall torch --index-url {JETSON_AI_LAB_JP6}  "
            "# JetPack 6; any JetPack: jetson-containers run $(autotag pytorch)",
        source=SRC_JETSON_WHEELS,
        detail=seen_torch_and_driver),

    # -- what pip would install from PyPI --
    needs_build(
        when=~is_installed() & l4t(),
        msg="PyPI's aarch64 torch wheels are SBSA builds (CPU-only up to 2.10, CUDA 13 since 2.11, no sm_87) "
            "and do not run on Jetson L4T (JetPack 6 = CUDA 12.6); take a wheel built for JetPack",
        fix=f"pip install torch --index-url {JETSON_AI_LAB_JP6}  "
            "# JetPack 6; any JetPack: jetson-containers run $(autotag pytorch)",
        source=SRC_JETSON_WHEELS),
    conflicts(
        when=~is_installed() & linux_cuda() & _ARM & version("<2.11"),
        msg="PyPI's Linux aarch64 torch up to 2.10 is a CPU-only build; CUDA builds for aarch64 of those "
            "releases are only on download.pytorch.org (cu128: sm_80, sm_90, sm_100, sm_120)",
        fix="pip install torch --index-url https://download.pytorch.org/whl/cu128",
        source=SRC_AARCH64_CPU),
    conflicts(
        when=~is_installed() & linux_cuda() & pypi_torch_below_driver_floor(),
        msg="the torch wheel pip would install needs a newer NVIDIA driver: PyPI's Linux torch 2.11-2.14 is "
            "CUDA 13.0 and 2.15 is CUDA 13.2 (driver >= 580); 2.8-2.10 on x86_64 is CUDA 12.8 (driver >= 525)",
        fix=f'{DRIVER_580_FIX}; or keep the driver: pip install "torch<2.11" '
            "--index-url https://download.pytorch.org/whl/cu128",
        source=SRC_DRIVER_FLOOR,
        detail=seen_pypi_torch_and_driver),
    conflicts(
        when=~is_installed() & linux_cuda() & ~jetson() & _X86 & pypi_torch_lacks_code(),
        msg="the torch wheel pip would install has no kernels for this GPU: PyPI's x86_64 torch 2.11+ starts "
            "at sm_75 (2.15: sm_75 80 86 90 100 120), so CC 7.0 and older need a CUDA 12.6 build (sm_50..sm_90)",
        fix='pip install "torch<2.15" --index-url https://download.pytorch.org/whl/cu126  '
            "# 2.14.x is the last release with CUDA 12 builds",
        source=SRC_ARCH_LISTS,
        detail=seen_pypi_torch_and_gpu),
    needs_build(
        when=~is_installed() & linux_cuda() & ~jetson() & _ARM & pypi_torch_lacks_code(),
        msg="no aarch64 torch wheel has kernels for this GPU: PyPI's aarch64 torch 2.11+ carries sm_80, 90, "
            "100, 110 and 120 only, so older GPUs (T4G, CC 7.5) need torch built from source",
        fix="git clone --recursive https://github.com/pytorch/pytorch && cd pytorch && "
            f'TORCH_CUDA_ARCH_LIST="{TORCH_CC}" pip install --no-build-isolation -v .',
        source=SRC_ARCH_LISTS),
    conflicts(
        when=~is_installed() & jetson() & ~l4t() & pypi_torch_lacks_code(igpu=True),
        msg="PyPI's aarch64 torch has no kernels for exactly this Jetson's GPU (sm_110 for Thor is there; "
            "Orin's sm_87 is not)",
        fix="jetson-containers run $(autotag pytorch)",
        source=SRC_JETSON_SM87,
        detail=seen_pypi_torch_and_gpu),
    caveat(
        when=~is_installed() & on_linux() & ~nvidia_gpu() & (_X86 | version(">=2.11")),
        msg="PyPI's Linux torch is a CUDA build (on aarch64 since 2.11: CUDA 13 with its cuda-toolkit "
            "packages): gigabytes of libraries this machine without an NVIDIA GPU cannot use; the CPU wheel "
            "is much smaller",
        fix="pip install torch --index-url https://download.pytorch.org/whl/cpu",
        source=SRC_TORCH_PYPI),
    caveat(
        when=~is_installed() & on_windows() & nvidia_gpu(),
        msg="PyPI's Windows torch is CPU-only; CUDA builds for Windows are on download.pytorch.org "
            "(cu126, cu128, cu130; cu130 needs driver >= 580)",
        fix="pip install torch --index-url https://download.pytorch.org/whl/cu130",
        source=SRC_TORCH_PYPI),

    # -- macOS and MPS --
    caveat(
        when=on_macos() & translated_python(),
        msg="this Python is an x86_64 build running under Rosetta 2: torch cannot use the GPU (MPS needs a "
            "native arm64 Python)",
        fix="arch -arm64 brew install python@3.12  # then recreate the venv with /opt/homebrew/bin/python3.12",
        source=SRC_MPS),
    caveat(
        when=on_macos() & apple_silicon() & ~translated_python() & mps_unusable(),
        msg="MPS is not usable from this Python (it needs macOS 12.3 or later on Apple silicon), so torch "
            "runs on the CPU only",
        fix="softwareupdate --list  # then install the macOS update it offers",
        source=SRC_MPS_MACOS),
    # An installed torch built for a newer macOS than this one (2.12+: macOS 14) is the audit's finding: it reads
    # LC_BUILD_VERSION's minos from libtorch_cpu.dylib. The wheels install on older macOS than MPS needs:
    caveat(
        when=is_installed() & on_macos() & apple_silicon() & version(">=2.5,<2.10") & macos("<13"),
        msg="since torch 2.5 the MPS backend needs macOS 13: on this macOS torch runs, CPU-only "
            "(torch.backends.mps.is_available() is False)",
        fix="softwareupdate --list  # macOS 13 or later brings MPS back",
        source=SRC_MPS_MACOS_13),
    caveat(
        when=is_installed() & on_macos() & apple_silicon() & version(">=2.10") & macos("<14"),
        msg="from about torch 2.9/2.10 the MPS backend needs macOS 14: on this macOS torch runs, CPU-only "
            "(torch.backends.mps.is_available() is False)",
        fix='softwareupdate --list  # macOS 14 or later; or keep MPS here: pip install "torch<2.9"',
        source=SRC_MPS_MACOS_14),
    caveat(
        when=~is_installed() & on_macos() & macos("<14"),
        msg="on this macOS pip stops at torch 2.11: the wheels of 2.12 and later need macOS 14",
        fix="softwareupdate --list  # macOS 14 or later brings the current torch",
        source=SRC_TORCH_PYPI),
)

TOOL = Tool(
    id="torch",
    dist="torch",
    summary="PyTorch: tensors and autograd on CUDA, MPS or the CPU",
    order=0,
    rules=RULES,
    install="pip install torch",
    homepage="https://pytorch.org",
    # Never from source: hours of compiling and tens of GB; where no wheel fits, the rules name the index that has one.
    recipe=Recipe(binary_only=True, smoke="torch.py"),
    # A working CUDA torch is what every other install must leave alone, with the CUDA wheels it pins.
    protects=(Protected("torch", names=frozenset({"torch", "torchvision", "torchaudio"})), CUDA_LIBRARIES),
)
