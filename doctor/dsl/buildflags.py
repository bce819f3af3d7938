"""Build flags derived from the facts: each an `EnvVar` whose `why` says where its value came from.

Pure functions of a `Machine`. A flag function returns None where the machine
gives it nothing to set (no NVIDIA GPU, a compute capability nobody knows);
the per-tool functions at the end (`flash_attn_env`, `xformers_env`, ...)
are what the recipes declare as `Recipe.build_env` and `Recipe.runtime_env`.

A missing fact never becomes a guessed value. MAX_JOBS falls back to 1 and
its `why` names the unknown fact; a path that only a known toolkit can give
(TRITON_PTXAS_PATH) is left out, and `ptxas_missing` says what the machine
lacks, so a plan can print "needs a CUDA toolkit >= 12.9 for ptxas".
"""

from __future__ import annotations

from dataclasses import replace

from packaging.version import Version

from ..core.facts import Machine, parse_version
from .recipe import EnvVar

CC = tuple[int, int]

# Thor is sm_101 to CUDA 12.8/12.9 and sm_110 from CUDA 13.0 on; no other GPU has either.
THOR_CCS = frozenset({(10, 1), (11, 0)})

# flash-attn: about 5 GB of memory per nvcc thread (setup.py's MAX_JOBS rule on main).
FLASH_ATTN_GB_PER_JOB = 5.0
# xformers releases that bundle FlashAttention 3 (0.0.31 on; 0.0.35's setup.py bundles none) build it on
# x86_64 for sm_90 only, and their CI does so with MAX_JOBS=2 on 8-core, 32 GB runners ("FA3 is memory
# hungry"): 16 GB a job.
XFORMERS_FA3_GB_PER_JOB = 16.0
# Unified memory (GB10, Jetson): what the OS, the desktop (GNOME on DGX OS and JetPack) and the
# GPU driver keep for themselves; MemAvailable is a snapshot and the GPU draws on the same pool.
UNIFIED_RESERVE_GB = 8.0

NVCC_THREADS = EnvVar(
    "NVCC_THREADS", "1",
    "nvcc --threads runs a file's -gencode targets in parallel, and one architecture leaves little to share "
    "while each thread costs ~5 GB; files compile in parallel through MAX_JOBS instead (jetson-containers: 1)")
FLASH_ATTENTION_FORCE_BUILD = EnvVar(
    "FLASH_ATTENTION_FORCE_BUILD", "TRUE",
    "compile against the installed torch instead of setup.py's guess of a GitHub release wheel, built for "
    "another torch, CUDA or ABI (flash-attention setup.py CachedWheelsCommand)")
FORCE_CUDA = EnvVar(
    "FORCE_CUDA", "1",
    "build the CUDA kernels even where torch.cuda.is_available() is False at build time, as in a container "
    "without --gpus (xformers setup.py)")
XFORMERS_DISABLE_FLASH_ATTN = EnvVar(
    "XFORMERS_DISABLE_FLASH_ATTN", "1",
    "xformers releases from 0.0.31 fail to build their bundled FlashAttention 3 on aarch64 (xformers#1298); "
    "0.0.35's setup.py bundles none, so there it changes nothing")
DS_BUILD_FUSED_ADAM = EnvVar(
    "DS_BUILD_FUSED_ADAM", "1",
    "prebuild FusedAdam with this CUDA toolkit (op_builder/fused_adam.py) instead of JIT-compiling it at the "
    "first training step")
DS_BUILD_AIO = EnvVar(
    "DS_BUILD_AIO", "0",
    "async_io (NVMe offload) needs libaio-dev, which aidoctor does not probe; it stays a JIT op "
    "(op_builder/async_io.py)")


# -- compute capabilities as each tool names them --


def _gpus(machine: Machine) -> tuple[tuple[str, CC], ...] | None:
    """(name, compute capability) of each NVIDIA GPU, de-duplicated; None when there is none or one is unknown."""
    gpus, ccs = machine.nvidia_gpus(), machine.gpu_ccs()
    if not gpus or not ccs:
        return None
    return tuple(dict.fromkeys((gpu.name or "the NVIDIA GPU", cc) for gpu, cc in zip(gpus, ccs)))


def _seen(gpus: tuple[tuple[str, CC], ...]) -> str:
    return ", ".join(f"{name} is compute capability {cc[0]}.{cc[1]}" for name, cc in gpus)


def _toolkit(machine: Machine) -> Version | None:
    return parse_version(machine.cuda_toolkit)


def _nvcc_cc(cc: CC, machine: Machine) -> CC:
    """The compute capability as this machine's nvcc names it: Thor by the toolkit's CUDA major."""
    toolkit = _toolkit(machine)
    if cc not in THOR_CCS or toolkit is None:
        return cc
    return (11, 0) if toolkit.major >= 13 else (10, 1)


def _thor_note(gpus: tuple[tuple[str, CC], ...], machine: Machine) -> str:
    if not any(cc in THOR_CCS for _, cc in gpus):
        return ""
    toolkit = _toolkit(machine)
    if toolkit is None:
        return ("; Thor kept as its driver reports it, since the CUDA toolkit is unknown (sm_101 before CUDA 13, "
                "sm_110 from it: vllm#39233)")
    return f"; Thor is sm_101 before CUDA 13 and sm_110 from it (vllm#39233), and this toolkit is CUDA {toolkit}"


def torch_cuda_arch_list(machine: Machine) -> EnvVar | None:
    """TORCH_CUDA_ARCH_LIST: each NVIDIA GPU's compute capability as nvcc names it, sorted, ';'-joined.

    torch.utils.cpp_extension turns "12.1" into -gencode arch=compute_121,code=sm_121: an exact cubin for
    this GPU. Thor is "10.1" to CUDA 12.8/12.9 and "11.0" from CUDA 13.0 on, so its entry follows the
    toolkit that compiles, not the driver.
    Sources: https://github.com/pytorch/pytorch/blob/main/torch/utils/cpp_extension.py (_get_cuda_arch_flags),
    https://github.com/vllm-project/vllm/issues/39233 (sm_101 renamed sm_110).
    """
    gpus = _gpus(machine)
    if gpus is None:
        return None
    named = sorted({_nvcc_cc(cc, machine) for _, cc in gpus})
    value = ";".join(f"{major}.{minor}" for major, minor in named)
    return EnvVar("TORCH_CUDA_ARCH_LIST", value,
                  f"{_seen(gpus)}: one exact cubin for it{_thor_note(gpus, machine)}")


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
    gpus = _gpus(machine)
    if gpus is None:
        return None
    archs = sorted({arch for _, cc in gpus if (arch := _flash_attn_arch(cc))}, key=int)
    if not archs:
        return None
    value = ";".join(archs)
    reasons = "; ".join(_FLASH_ATTN_REASON[arch] for arch in archs)
    return EnvVar("FLASH_ATTN_CUDA_ARCHS", value,
                  f"{_seen(gpus)}; flash-attn emits SASS only for 80/90/100/110/120, so {value} ({reasons})")


# -- parallelism --


def usable_memory_gb(machine: Machine) -> tuple[float, str] | None:
    """Memory a build may fill, and how it was reckoned; None when no memory fact is known."""
    if machine.memory_available_gb is not None:
        base, what = machine.memory_available_gb, "available"
    elif machine.memory_gb is not None:
        base, what = machine.memory_gb, "total (available memory unknown)"
    else:
        return None
    if machine.unified_memory:
        return (max(0.0, base - UNIFIED_RESERVE_GB),
                f"{base:g} GB {what} less {UNIFIED_RESERVE_GB:g} GB kept for the OS and desktop, since the GPU "
                "shares this unified memory")
    return base, f"{base:g} GB {what}"


def max_jobs(machine: Machine, gb_per_job: float = FLASH_ATTN_GB_PER_JOB, threads_per_job: int = 1) -> EnvVar:
    """MAX_JOBS = max(1, min(cores // 2, usable GB // (gb_per_job * threads_per_job))).

    flash-attn's own rule when MAX_JOBS is unset: min(cpu_count // 2, free GB / (5 * NVCC_THREADS)),
    free memory being psutil's `available` (Linux MemAvailable). Falls back to 1 job, and says which
    fact is unknown, when the core count or the memory is.
    Source: https://github.com/Dao-AILab/flash-attention/blob/main/setup.py (NinjaBuildExtension).
    """
    cores = machine.cpu.cores if machine.cpu is not None else None
    memory = usable_memory_gb(machine)
    if cores is None or memory is None:
        unknown = " and ".join(fact for fact, value in (("CPU core count", cores), ("memory", memory)) if value is None)
        return EnvVar("MAX_JOBS", "1", f"{unknown} unknown, so 1 job: the floor of flash-attn's rule "
                                       "min(cores / 2, memory / GB a job), which needs both")
    usable, how = memory
    per_job = gb_per_job * threads_per_job
    by_cores, by_memory = max(1, cores // 2), int(usable // per_job)
    jobs = max(1, min(by_cores, by_memory))
    return EnvVar("MAX_JOBS", str(jobs),
                  f"min({cores} cores / 2, {usable:g} GB / {per_job:g} GB a job) = min({by_cores}, {by_memory}), "
                  f"flash-attn's rule; memory: {how}")


# -- triton's ptxas --

# GPUs whose arch-specific target the ptxas bundled with triton before 3.9 does not know, the
# first CUDA toolkit whose ptxas does, and the report of the failure.
_PTXAS_TOO_OLD = {
    (12, 1): ("sm_121a", Version("12.9"), "triton#8539"),
    (11, 0): ("sm_110a", Version("13.0"), "vllm#31338"),
}


def _ptxas_need(machine: Machine) -> tuple[str, Version, str] | None:
    gpus = _gpus(machine)
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
    need, toolkit = _ptxas_need(machine), _toolkit(machine)
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


# -- bitsandbytes and DeepSpeed --


def bitsandbytes_cmake_args(machine: Machine) -> EnvVar | None:
    """CMAKE_ARGS="-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=87": the CMake cache variables of its build.

    bitsandbytes builds with `scikit_build_core.setuptools.build_meta`, which hands the CMAKE_ARGS
    environment variable to CMake's configure step; its CMakeLists.txt reads COMPUTE_BACKEND and
    COMPUTE_CAPABILITY ("89;90;100;120"-style numbers), defaulting to the CPU backend. Thor is 110 from
    CUDA 13 on and 101 before.
    Sources: https://github.com/bitsandbytes-foundation/bitsandbytes/blob/main/CMakeLists.txt,
    https://github.com/scikit-build/scikit-build-core (CMAKE_ARGS).
    """
    gpus = _gpus(machine)
    if gpus is None:
        return None
    numbers = ";".join(f"{major}{minor}" for major, minor in sorted({_nvcc_cc(cc, machine) for _, cc in gpus}))
    return EnvVar("CMAKE_ARGS", f"-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY={numbers}",
                  f"{_seen(gpus)}: bitsandbytes' CMake build takes it as COMPUTE_CAPABILITY, passed through "
                  f"scikit-build-core's CMAKE_ARGS{_thor_note(gpus, machine)}")


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
    built, toolkit = parse_version(build.cuda if build else None), _toolkit(machine)
    if built is None or toolkit is None or built.major != toolkit.major or built.minor == toolkit.minor:
        return None
    return EnvVar("DS_SKIP_CUDA_CHECK", "1",
                  f"nvcc is CUDA {toolkit} and torch was built with {built}: same major, and DeepSpeed's minor-version "
                  "allow-list would stop the op build (assert_no_cuda_mismatch)")


# -- per tool: what the recipes declare --


def _present(*flags: EnvVar | None) -> tuple[EnvVar, ...]:
    return tuple(flag for flag in flags if flag is not None)


def flash_attn_env(machine: Machine) -> tuple[EnvVar, ...]:
    """flash-attn's source build. FLASH_ATTENTION_FORCE_CXX11_ABI stays unset: the C++ ABI of torch is no
    fact here, and torch.utils.cpp_extension already compiles with the installed torch's own ABI
    (torch._C._GLIBCXX_USE_CXX11_ABI); the flag only forces TRUE, for CI wheels meant for NGC images.
    Source: https://github.com/Dao-AILab/flash-attention/blob/main/setup.py.
    """
    archs = flash_attn_cuda_archs(machine)
    if archs is None:
        return ()
    return (FLASH_ATTENTION_FORCE_BUILD, archs, max_jobs(machine, FLASH_ATTN_GB_PER_JOB), NVCC_THREADS)


def xformers_env(machine: Machine) -> tuple[EnvVar, ...]:
    """xformers' source build: its own arch list, no bundled FlashAttention on aarch64.

    NVCC_THREADS is not set: xformers' setup.py passes `--threads 4` itself and never reads it, and with one
    architecture those threads have a single -gencode target per file. Releases that bundle FA3 build it on
    x86_64 for sm_90 only, where a job takes about 16 GB; otherwise flash-attn's 5 GB a job holds. MAX_JOBS
    reaches the compiler through torch's BuildExtension (with ninja).
    Sources: https://github.com/facebookresearch/xformers/blob/main/setup.py,
    https://github.com/facebookresearch/xformers/issues/1298.
    """
    arch_list = torch_cuda_arch_list(machine)
    if arch_list is None:
        return ()
    aarch64 = machine.arch == "aarch64"
    if not aarch64 and (9, 0) in {cc for _, cc in _gpus(machine) or ()}:
        jobs = max_jobs(machine, XFORMERS_FA3_GB_PER_JOB)
        jobs = replace(jobs, why=f"{jobs.why}; {XFORMERS_FA3_GB_PER_JOB:g} GB a job for the FlashAttention 3 that "
                                 "xformers may bundle for sm_90 (its CI: MAX_JOBS=2 on 32 GB runners)")
    else:
        jobs = max_jobs(machine, FLASH_ATTN_GB_PER_JOB)
    return _present(arch_list, FORCE_CUDA, XFORMERS_DISABLE_FLASH_ATTN if aarch64 else None, jobs)


def deepspeed_env(machine: Machine) -> tuple[EnvVar, ...]:
    """DeepSpeed's prebuilt ops: CPU-Adam always; FusedAdam for the GPU where a CUDA toolkit is a fact.

    Source: https://github.com/deepspeedai/DeepSpeed/blob/master/docs/_tutorials/advanced-install.md.
    """
    cpu = (ds_build_cpu_adam(machine), DS_BUILD_AIO) if machine.os == "linux" else (ds_build_cpu_adam(machine),)
    arch_list = torch_cuda_arch_list(machine)
    if arch_list is None or _toolkit(machine) is None:
        return cpu
    return (*cpu, DS_BUILD_FUSED_ADAM, arch_list, *_present(ds_skip_cuda_check(machine)))


def bitsandbytes_env(machine: Machine) -> tuple[EnvVar, ...]:
    return _present(bitsandbytes_cmake_args(machine))


def triton_runtime_env(machine: Machine) -> tuple[EnvVar, ...]:
    return _present(triton_ptxas_path(machine))
