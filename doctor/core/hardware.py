"""What a machine can give a training run: usable accelerator memory, compute and bandwidth.

Profiles carry sourced figures under `profile.hardware`; for this machine (or a facts
file) they come from the probed facts, with compute and bandwidth borrowed from a
profile with the same GPU when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from .errors import BadInput

CUDA_CONTEXT_GB = 0.65  # gpu_poor README: "around 500-1GB ... I assume 650 MB" (capacity.md 2.9)


class MemoryKind(Enum):
    DISCRETE = "discrete"  # a GPU with its own memory; offload to host RAM frees it
    UNIFIED_NVIDIA = "unified-nvidia"  # GB10, Jetson: one pool shared with the OS
    APPLE = "apple"  # unified, and the GPU may wire only part of it
    CPU = "cpu"  # no accelerator: the CPU trains

    @property
    def unified(self) -> bool:
        return self is not MemoryKind.DISCRETE


@dataclass(frozen=True)
class Hardware:
    kind: MemoryKind
    gpu_memory_gb: float
    gpu_bandwidth_gbs: float | None
    system_memory_gb: float
    system_bandwidth_gbs: float | None
    bf16_dense_tflops: float | None
    power_w: float | None
    gpu_addressable_gb: float | None = None
    os_reserve_gb: float = 0.0
    gpu_working_set_fraction: float | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def usable_gb(self) -> float:
        """What a training run can allocate on the accelerator (or, without one, in RAM)."""
        if self.kind is MemoryKind.DISCRETE:
            return self.gpu_memory_gb
        if self.kind is MemoryKind.APPLE:
            return self.gpu_memory_gb * (self.gpu_working_set_fraction or 0.7)
        if self.kind is MemoryKind.CPU:
            return self.system_memory_gb - self.os_reserve_gb
        return (self.gpu_addressable_gb or self.gpu_memory_gb) - self.os_reserve_gb

    @property
    def usable_why(self) -> str:
        if self.kind is MemoryKind.DISCRETE:
            return f"GPU memory {self.gpu_memory_gb:g} GB"
        if self.kind is MemoryKind.APPLE:
            return (f"the GPU working-set limit, about {self.gpu_working_set_fraction or 0.7:.0%} of {self.gpu_memory_gb:g} GB "
                    "unified (sudo sysctl iogpu.wired_limit_mb=N raises it)")
        if self.kind is MemoryKind.CPU:
            return f"{self.system_memory_gb:g} GB RAM less {self.os_reserve_gb:g} GB for the OS (no GPU: the CPU trains)"
        return (f"{self.gpu_addressable_gb or self.gpu_memory_gb:g} GB the GPU can address in the unified pool, "
                f"less {self.os_reserve_gb:g} GB for the OS and page cache")

    @property
    def decode_bandwidth_gbs(self) -> float | None:
        return self.system_bandwidth_gbs if self.kind is MemoryKind.CPU else self.gpu_bandwidth_gbs

    @property
    def runtime_overhead_gb(self) -> float:
        """The CUDA context lives outside what the allocator reports."""
        return CUDA_CONTEXT_GB if self.kind in (MemoryKind.DISCRETE, MemoryKind.UNIFIED_NVIDIA) else 0.0

    @property
    def wired_limit_mb(self) -> int | None:
        """Apple: a GPU limit that leaves the OS 8 GB (iogpu.wired_limit_mb)."""
        return int((self.gpu_memory_gb - 8) * 1000 / 1.048576) if self.kind is MemoryKind.APPLE else None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "gpu_memory_gb": self.gpu_memory_gb, "gpu_bandwidth_gbs": self.gpu_bandwidth_gbs,
                "system_memory_gb": self.system_memory_gb, "system_bandwidth_gbs": self.system_bandwidth_gbs,
                "bf16_dense_tflops": self.bf16_dense_tflops, "power_w": self.power_w,
                "usable_gb": round(self.usable_gb, 2), "usable_why": self.usable_why, "sources": dict(self.sources)}


def _number(data: Mapping[str, Any], key: str, where: str, required: bool = False) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            raise BadInput(f"{where}: hardware.{key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise BadInput(f"{where}: hardware.{key} must be a number >= 0, not {value!r}")
    return float(value)


def parse_hardware(data: Any, where: str) -> Hardware:
    if not isinstance(data, dict):
        raise BadInput(f"{where}: hardware must be an object")
    try:
        kind = MemoryKind(data.get("kind"))
    except ValueError:
        raise BadInput(f"{where}: hardware.kind must be one of {', '.join(k.value for k in MemoryKind)}") from None
    return Hardware(
        kind=kind,
        gpu_memory_gb=_number(data, "gpu_memory_gb", where, required=True) or 0.0,
        gpu_bandwidth_gbs=_number(data, "gpu_bandwidth_gbs", where),
        system_memory_gb=_number(data, "system_memory_gb", where, required=True) or 0.0,
        system_bandwidth_gbs=_number(data, "system_bandwidth_gbs", where),
        bf16_dense_tflops=_number(data, "bf16_dense_tflops", where),
        power_w=_number(data, "power_w", where),
        gpu_addressable_gb=_number(data, "gpu_addressable_gb", where),
        os_reserve_gb=_number(data, "os_reserve_gb", where) or 0.0,
        gpu_working_set_fraction=_number(data, "gpu_working_set_fraction", where),
        sources={str(k): str(v) for k, v in (data.get("sources") or {}).items()},
    )


def from_machine(machine, known: Mapping[str, Hardware]) -> Hardware:
    """Hardware from probed facts; compute and bandwidth from a profile with the same GPU name, when one has it.

    `known` maps a GPU name (as nvidia-smi or the Apple probe prints it) to a profile's Hardware.
    """
    gpu = (machine.gpus or (None,))[0]
    memory = float(machine.memory_gb or 0)
    if gpu is None or not gpu.memory_gb:
        return Hardware(MemoryKind.CPU, 0.0, None, memory, machine.memory_bandwidth_gbs, None, None, os_reserve_gb=4.0,
                        sources={"memory": "probed on this machine", "bf16_dense_tflops": "not known for a CPU here",
                                 "os_reserve_gb": "assumption: about 4 GB for the OS"})
    twin = known.get(gpu.name or "")
    if machine.apple is not None or gpu.vendor == "apple":
        kind = MemoryKind.APPLE
    elif machine.unified_memory or gpu.memory_shared:
        kind = MemoryKind.UNIFIED_NVIDIA
    else:
        kind = MemoryKind.DISCRETE
    sources = {"memory": "probed on this machine"}
    if twin is not None:
        sources.update({k: v for k, v in twin.sources.items() if k != "memory"})
    return Hardware(
        kind=kind, gpu_memory_gb=float(gpu.memory_gb), gpu_bandwidth_gbs=twin.gpu_bandwidth_gbs if twin else None,
        system_memory_gb=memory, system_bandwidth_gbs=machine.memory_bandwidth_gbs,
        bf16_dense_tflops=twin.bf16_dense_tflops if twin else None, power_w=twin.power_w if twin else None,
        gpu_addressable_gb=twin.gpu_addressable_gb if twin and kind is MemoryKind.UNIFIED_NVIDIA else None,
        os_reserve_gb=twin.os_reserve_gb if twin else (8.0 if kind is MemoryKind.UNIFIED_NVIDIA else 0.0),
        gpu_working_set_fraction=(twin.gpu_working_set_fraction if twin and twin.gpu_working_set_fraction
                                  else (0.7 if float(gpu.memory_gb) <= 36 else 0.78)) if kind is MemoryKind.APPLE else None,
        sources=sources,
    )
