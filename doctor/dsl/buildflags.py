"""Build flags that know no tool: GPU architectures, TORCH_CUDA_ARCH_LIST, MAX_JOBS from usable memory.

Pure functions of a `Machine`, each giving an `EnvVar` whose `why` says where
its value came from, or None where the machine gives it nothing to set (no
NVIDIA GPU, a compute capability nobody knows). Each tool's own flags and the
`build_env`/`runtime_env` functions its `Recipe` declares are in its module in
recipes/ (flash-attn's SASS list in recipes/flash_attn.py, DeepSpeed's
DS_BUILD_* in recipes/deepspeed.py, ...), built from these.

A missing fact never becomes a guessed value: MAX_JOBS falls back to 1 and
its `why` names the unknown fact.
"""

from __future__ import annotations

from packaging.version import Version

from ..core.facts import Machine, parse_version
from .recipe import EnvVar

CC = tuple[int, int]

# Thor is sm_101 to CUDA 12.8/12.9 and sm_110 from CUDA 13.0 on; no other GPU has either.
THOR_CCS = frozenset({(10, 1), (11, 0)})

# About 5 GB of memory per nvcc thread on a CUDA extension: flash-attn's setup.py MAX_JOBS rule on main.
NVCC_GB_PER_JOB = 5.0
# Unified memory (GB10, Jetson): what the OS, the desktop (GNOME on DGX OS and JetPack) and the
# GPU driver keep for themselves; MemAvailable is a snapshot and the GPU draws on the same pool.
UNIFIED_RESERVE_GB = 8.0

NVCC_THREADS = EnvVar(
    "NVCC_THREADS", "1",
    "nvcc --threads runs a file's -gencode targets in parallel, and one architecture leaves little to share "
    "while each thread costs ~5 GB; files compile in parallel through MAX_JOBS instead (jetson-containers: 1)")

# -- compute capabilities as nvcc names them --


def nvidia_ccs(machine: Machine) -> tuple[tuple[str, CC], ...] | None:
    """(name, compute capability) of each NVIDIA GPU, de-duplicated; None when there is none or one is unknown."""
    gpus, ccs = machine.nvidia_gpus(), machine.gpu_ccs()
    if not gpus or not ccs:
        return None
    return tuple(dict.fromkeys((gpu.name or "the NVIDIA GPU", cc) for gpu, cc in zip(gpus, ccs)))


def describe(gpus: tuple[tuple[str, CC], ...]) -> str:
    """"NVIDIA GB10 is compute capability 12.1": the facts a flag's `why` starts from."""
    return ", ".join(f"{name} is compute capability {cc[0]}.{cc[1]}" for name, cc in gpus)


def toolkit_version(machine: Machine) -> Version | None:
    return parse_version(machine.cuda_toolkit)


def nvcc_cc(cc: CC, machine: Machine) -> CC:
    """The compute capability as this machine's nvcc names it: Thor by the toolkit's CUDA major."""
    toolkit = toolkit_version(machine)
    if cc not in THOR_CCS or toolkit is None:
        return cc
    return (11, 0) if toolkit.major >= 13 else (10, 1)


def thor_note(gpus: tuple[tuple[str, CC], ...], machine: Machine) -> str:
    if not any(cc in THOR_CCS for _, cc in gpus):
        return ""
    toolkit = toolkit_version(machine)
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
    gpus = nvidia_ccs(machine)
    if gpus is None:
        return None
    named = sorted({nvcc_cc(cc, machine) for _, cc in gpus})
    value = ";".join(f"{major}.{minor}" for major, minor in named)
    return EnvVar("TORCH_CUDA_ARCH_LIST", value,
                  f"{describe(gpus)}: one exact cubin for it{thor_note(gpus, machine)}")


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


def max_jobs(machine: Machine, gb_per_job: float = NVCC_GB_PER_JOB, threads_per_job: int = 1) -> EnvVar:
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


def present(*flags: EnvVar | None) -> tuple[EnvVar, ...]:
    """The flags that apply here, in order: a recipe's `build_env` lists some that may be None."""
    return tuple(flag for flag in flags if flag is not None)
