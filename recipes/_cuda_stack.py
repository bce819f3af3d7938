"""The CUDA stack that many recipes judge against: PyPI's torch builds, Jetson L4T, the toolkit, the driver.

Not a tool (the registry skips modules starting with "_"): the conditions,
fixes and sources that torch, triton, flash-attn, bitsandbytes, xformers,
DeepSpeed, liger-kernel, unsloth, axolotl, vllm, mlx and mamba-ssm share.
What PyPI's torch carries for a given version, Jetson L4T versus SBSA, a
machine without any GPU, an nvcc version, a build below the driver's floor.
"""

from __future__ import annotations

from packaging.version import Version

from ..doctor.core.facts import parse_version
from ..doctor.core.nvidia import code_for, driver_floor, jetpack_for_l4t, parse_arch
from ..doctor.dsl.rules import Cond, Ctx, check, cuda_toolkit, no_cuda_toolkit, nvidia_gpu, on_linux
from ..doctor.dsl.tool import Protected

JETSON_AI_LAB_JP6 = "https://pypi.jetson-ai-lab.io/jp6/cu126"
CUDA_TOOLKIT_FOR_TORCH = ("sudo apt-get install cuda-toolkit-$(python -c \"import torch; "
                          "print(torch.version.cuda.replace('.', '-'))\")  # NVIDIA's CUDA apt repository")
TORCH_CC = "$(python -c 'import torch; print(\"%d.%d\" % torch.cuda.get_device_capability())')"
DRIVER_580_FIX = "sudo apt-get install nvidia-driver-580-open  # Ubuntu; elsewhere your distribution's R580+ driver"

# The CUDA runtime wheels torch pins (nvidia-cudnn-cu12, nvidia-nccl-cu13, cuda-toolkit, ...): torch declares
# them protected, since another tool's install replacing one breaks torch as surely as replacing torch.
CUDA_LIBRARIES = Protected("the CUDA libraries", prefixes=("nvidia-", "cuda-"))

SRC_JETSON_WHEELS = "https://github.com/dusty-nv/jetson-containers/blob/master/docs/pypi-config.md"


def l4t() -> Cond:
    """A Jetson on JetPack 6 or older: the L4T CUDA stack, on which PyPI's SBSA CUDA wheels fail.

    Thor on JetPack 7 is SBSA and takes PyPI's CUDA 13 wheels (compat-facts §4).
    """

    def test(ctx: Ctx) -> bool | None:
        machine = ctx.machine
        is_jetson = machine.is_jetson()
        if is_jetson is not True:
            return is_jetson
        board = machine.jetson
        release = parse_version(board.jetpack or jetpack_for_l4t(board.l4t))  # type: ignore[union-attr]
        return None if release is None else release.major < 7

    return check("a Jetson on JetPack 6 or older (L4T, not SBSA)", test, "jetson")


def linux_cuda() -> Cond:
    """Linux with an NVIDIA GPU on the standard CUDA stack: x86_64, GH200, GB10, Thor (not an L4T Jetson)."""
    return on_linux() & nvidia_gpu() & ~l4t()


def no_gpu() -> Cond:
    """The machine has no GPU at all (of any vendor): a CPU-only server."""

    def test(ctx: Ctx) -> bool | None:
        gpus = ctx.machine.gpus
        return None if gpus is None else len(gpus) == 0

    return check("no GPU at all", test, "gpus")


def nvcc(spec_text: str) -> Cond:
    """The CUDA toolkit's version is in `spec_text`; False, not unknown, where nvcc is known to be absent."""
    inner, absent = cuda_toolkit(spec_text), no_cuda_toolkit()

    def test(ctx: Ctx) -> bool | None:
        return False if absent(ctx) is True else inner(ctx)

    return check(inner.text, test, "cuda_toolkit")


def igpu_code_for(arch_list: tuple[str, ...], cc: tuple[int, int]) -> str | None:
    """Like cuda.code_for, for a Jetson's integrated GPU: a cubin for exactly its CC, or PTX.

    PyTorch's own table treats iGPUs apart: sm_80 code is "not for 8.7" (compat-facts §1).
    """
    for text in arch_list:
        target = parse_arch(text)
        if target is not None and target.kind == "sm" and (target.major, target.minor) == cc:
            return str(target)
    for text in arch_list:
        target = parse_arch(text)
        if target is not None and target.kind == "compute" and target.runs_on(cc):
            return str(target)
    return None


# What PyPI's Linux torch wheels carry, read from the wheels (compat-facts §2, tests/fixtures/torch).
_PYPI_ARCHS = {
    ("x86_64", Version("2.15")): ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"),
    ("x86_64", Version("2.11")): ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"),
    ("x86_64", Version("2.8")): ("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"),
    ("x86_64", Version("2.7")): ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"),
    ("aarch64", Version("2.15")): ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120"),
    ("aarch64", Version("2.11")): ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120"),
}
_PYPI_CUDA = {
    ("x86_64", Version("2.15")): "13.2", ("x86_64", Version("2.11")): "13.0",
    ("x86_64", Version("2.8")): "12.8", ("x86_64", Version("2.7")): "12.6",
    ("aarch64", Version("2.15")): "13.2", ("aarch64", Version("2.11")): "13.0",
}


def _pypi_lookup(table: dict, release: Version | None, arch: str | None):
    if release is None or arch is None:
        return None
    floors = sorted((floor for (a, floor) in table if a == arch), reverse=True)
    floor = next((f for f in floors if release.release >= f.release), None)
    return None if floor is None else table[(arch, floor)]


def pypi_torch_archs(release: Version | None, arch: str | None) -> tuple[str, ...] | None:
    """The arch list of PyPI's Linux torch `release` on `arch`; None for a CPU-only or unknown build."""
    return _pypi_lookup(_PYPI_ARCHS, release, arch)


def pypi_torch_cuda(release: Version | None, arch: str | None) -> str | None:
    """The CUDA version of PyPI's Linux torch `release` on `arch`; None for a CPU-only or unknown build."""
    return _pypi_lookup(_PYPI_CUDA, release, arch)


def _installed_build(ctx: Ctx):
    """The installed torch's build: a TorchBuild, False when torch is known not to be installed, None if unknown."""
    build = ctx.machine.torch_build
    if build is not None:
        return build
    packages = ctx.machine.packages
    return None if packages is None or "torch" in packages else False


def torch_lacks_code(*, igpu: bool = False) -> Cond:
    """The installed CUDA torch has no kernel code that runs on some NVIDIA GPU here."""

    def test(ctx: Ctx) -> bool | None:
        build = _installed_build(ctx)
        if build is False or (build is not None and build.cuda is None):
            return False
        if build is None or build.arch_list is None:
            return None
        ccs = ctx.machine.gpu_ccs()
        if ccs is None:
            return None
        find = igpu_code_for if igpu else code_for
        return any(find(build.arch_list, cc) is None for cc in ccs)

    kind = "exact-CC cubin or PTX" if igpu else "cubin or PTX"
    return check(f"the installed torch has no {kind} for this GPU", test, "torch_build", "gpus")


def pypi_torch_lacks_code(*, igpu: bool = False) -> Cond:
    """PyPI's torch release that pip would install has no kernel code for some NVIDIA GPU here."""

    def test(ctx: Ctx) -> bool | None:
        archs = pypi_torch_archs(ctx.version, ctx.machine.arch)
        if ctx.version is None or ctx.machine.arch is None:
            return None
        if archs is None:
            return False  # CPU-only or not tabled: other rules speak to it
        ccs = ctx.machine.gpu_ccs()
        if ccs is None:
            return None
        find = igpu_code_for if igpu else code_for
        return any(find(archs, cc) is None for cc in ccs)

    return check("PyPI's torch wheel has no code for this GPU", test, "version", "arch", "gpus")


def _below_floor(cuda: str | None, driver: str | None) -> bool | None:
    floor = driver_floor(cuda)
    if floor is None:
        return False
    have = parse_version(driver)
    return None if have is None else have < floor


def pypi_torch_below_driver_floor() -> Cond:
    """PyPI's torch release that pip would install needs a newer driver than this one."""

    def test(ctx: Ctx) -> bool | None:
        if ctx.version is None or ctx.machine.arch is None:
            return None
        return _below_floor(pypi_torch_cuda(ctx.version, ctx.machine.arch), ctx.machine.nvidia_driver)

    return check("PyPI's torch wheel needs a newer driver", test, "version", "arch", "nvidia_driver")


def torch_cuda_above_driver() -> Cond:
    """The installed torch was built for a CUDA major newer than the driver supports."""

    def test(ctx: Ctx) -> bool | None:
        build = _installed_build(ctx)
        if build is False or (build is not None and build.cuda is None):
            return False
        if build is None:
            return None
        built, supported = parse_version(build.cuda), parse_version(ctx.machine.cuda_driver)
        if built is None or supported is None:
            return None
        return built.major > supported.major

    return check("torch's CUDA major is above the driver's", test, "torch_build", "cuda_driver")


def gb10_runs_sm120_code() -> Cond:
    """On a GB10 (12.1) the installed torch runs its 12.0 kernels, having no sm_121 of its own."""

    def test(ctx: Ctx) -> bool | None:
        ccs = ctx.machine.gpu_ccs()
        if ccs is not None and (12, 1) not in ccs:
            return False
        build = _installed_build(ctx)
        if build is False or (build is not None and build.cuda is None):
            return False
        if build is None or build.arch_list is None or ccs is None:
            return None
        code = code_for(build.arch_list, (12, 1))
        return code is not None and not code.startswith("sm_121")

    return check("GB10 running torch's sm_120 code", test, "torch_build", "gpus")


# -- what was seen, appended to a conflict's message --


def _gpus(ctx: Ctx) -> str:
    gpus = ctx.machine.nvidia_gpus() or ()
    return ", ".join(f"{g.name or 'GPU'} (CC {g.compute_capability or '?'})" for g in gpus) or "no NVIDIA GPU seen"


def seen_torch_and_gpu(ctx: Ctx) -> str | None:
    build = ctx.machine.torch_build
    if build is None:
        return None
    archs = " ".join(build.arch_list) if build.arch_list else "no CUDA kernels"
    return f"torch {build.version or '?'} (CUDA {build.cuda or 'none'}: {archs}) on {_gpus(ctx)}"


def seen_torch_and_driver(ctx: Ctx) -> str | None:
    build = ctx.machine.torch_build
    if build is None:
        return None
    return (f"torch {build.version or '?'} is built with CUDA {build.cuda}; this driver is "
            f"{ctx.machine.nvidia_driver or '?'} (CUDA {ctx.machine.cuda_driver or '?'})")


def seen_pypi_torch_and_gpu(ctx: Ctx) -> str | None:
    archs = pypi_torch_archs(ctx.version, ctx.machine.arch)
    if archs is None:
        return None
    return f"PyPI's torch {ctx.version} for {ctx.machine.arch} has {' '.join(archs)}; this machine has {_gpus(ctx)}"


def seen_pypi_torch_and_driver(ctx: Ctx) -> str | None:
    cuda = pypi_torch_cuda(ctx.version, ctx.machine.arch)
    if cuda is None:
        return None
    return f"PyPI's torch {ctx.version} is CUDA {cuda}; this driver is {ctx.machine.nvidia_driver or '?'}"
