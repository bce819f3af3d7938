"""A frozen snapshot of what is true about one machine and one Python environment.

Everything the rules look at is here, and nothing else: rules never probe.
A field that is None is unknown; `unknown` says why, when a probe knew.
Lists and flags distinguish "none" from "unknown": `gpus == ()` means the
machine has no GPU, `gpus is None` means nobody could tell.

`Machine.from_json` reads a facts file (a bare facts object, or a whole
`aidoctor check --json` report) and rejects wrong types with a message that
names the key; docs/facts.md documents every key.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

from packaging.utils import (
    canonicalize_name as canonical_name,  # PEP 503: Flash_Attn -> flash-attn
)
from packaging.version import InvalidVersion, Version

from .errors import BadInput, did_you_mean


@dataclass(frozen=True, kw_only=True)
class Cpu:
    model: str | None = None
    features: tuple[str, ...] | None = None
    cores: int | None = None


@dataclass(frozen=True, kw_only=True)
class Gpu:
    vendor: str | None = None  # "nvidia" or "apple"
    name: str | None = None
    compute_capability: str | None = None  # "12.1"; NVIDIA only
    memory_gb: float | None = None
    memory_shared: bool | None = None  # True where the GPU has no memory of its own (GB10, Jetson, Apple)

    @property
    def cc(self) -> tuple[int, int] | None:
        return parse_cc(self.compute_capability)


@dataclass(frozen=True, kw_only=True)
class Jetson:
    l4t: str | None = None  # "36.4.4"
    jetpack: str | None = None  # "6.2.1", or "6" when only the major is implied
    module: str | None = None  # "NVIDIA Jetson AGX Orin Developer Kit"
    soc: str | None = None  # "tegra234"


@dataclass(frozen=True, kw_only=True)
class Apple:
    chip: str | None = None  # "Apple M4 Max"
    gpu_cores: int | None = None
    mps: bool | None = None  # whether MPS can be used by this Python (macOS >= 12.3, arm64, not translated)


@dataclass(frozen=True, kw_only=True)
class TorchBuild:
    version: str | None = None
    cuda: str | None = None  # None for CPU or MPS builds
    arch_list: tuple[str, ...] | None = None  # ("sm_80", "sm_90", "compute_120")


class FactState(str, enum.Enum):
    """Why a fact has no value, as the probe that owns it decided (never read back from its reason)."""

    ABSENT = "absent"  # the probe answered: there is none here (no nvcc, no nvidia-smi)
    UNKNOWN = "unknown"  # the probe could not tell
    TIMED_OUT = "timed_out"  # the probe gave no answer in its time
    BAD_TARGET = "bad_target"  # the target Python is not a usable interpreter: a usage error, not a finding


class ProbeStatus(str, enum.Enum):
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"


@dataclass(frozen=True, kw_only=True)
class ProbeRun:
    """How one probe went."""

    name: str
    status: ProbeStatus
    duration_ms: int
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Machine:
    os: str | None = None  # linux, darwin, windows
    arch: str | None = None  # x86_64, aarch64 (Apple's arm64 is reported as aarch64)
    distro: str | None = None
    kernel: str | None = None
    glibc: str | None = None
    libc: str | None = None  # "glibc" or "musl"; None with a glibc version means glibc
    musl: str | None = None  # musl's version where libc is musl (decides musllinux wheels)
    macos: str | None = None
    python: str | None = None
    python_build: str | None = None  # "default" or "freethreaded" (a cp313t build takes cp313t wheels, not abi3)
    python_translated: bool | None = None  # an x86_64 Python under Rosetta 2 on an Apple chip
    memory_gb: float | None = None
    memory_available_gb: float | None = None  # Linux MemAvailable when probed: a snapshot, not a reservation
    memory_bandwidth_gbs: float | None = None  # known for built-in profiles, not probed
    unified_memory: bool | None = None
    cpu: Cpu | None = None
    gpus: tuple[Gpu, ...] | None = None
    nvidia_driver: str | None = None
    cuda_driver: str | None = None  # the highest CUDA version the driver supports
    cuda_toolkit: str | None = None
    cuda_home: str | None = None
    jetson: Jetson | bool | None = None  # False: known not to be a Jetson
    apple: Apple | None = None
    packages: Mapping[str, str] | None = None
    requires: Mapping[str, tuple[str, ...]] | None = None  # Requires-Dist of installed tools
    torch_build: TorchBuild | None = None
    deep: Mapping[str, Any] | None = None  # what `--deep` saw when it ran torch
    unknown: Mapping[str, str] = field(default_factory=dict)  # fact -> why it is unknown
    states: Mapping[str, FactState] = field(default_factory=dict)  # fact -> its state; UNKNOWN when not listed
    derived: Mapping[str, str] = field(default_factory=dict)  # fact -> why it follows from other facts (core.derive)
    probes: tuple[ProbeRun, ...] = ()
    identifiers: Mapping[str, Any] | None = None  # only with --include-identifiers

    # -- derived facts, three-valued: True, False or None (unknown) --

    def is_jetson(self) -> bool | None:
        if isinstance(self.jetson, Jetson):
            return True
        if self.jetson is False or (self.os is not None and self.os != "linux"):
            return False
        if self.arch is not None and self.arch != "aarch64":
            return False
        return None

    def is_apple_silicon(self) -> bool | None:
        if self.os is None:
            return None
        if self.os != "darwin":
            return False
        if self.apple is not None and self.apple.chip:
            return self.apple.chip.startswith("Apple")
        return None if self.arch is None else self.arch == "aarch64" or bool(self.python_translated)

    def python_machine(self) -> str | None:
        """What the target Python's platform.machine() says on a Mac: x86_64 under Rosetta 2, else arm64."""
        if self.arch is None:
            return None
        if self.os == "darwin":
            return "x86_64" if self.python_translated else ("arm64" if self.arch == "aarch64" else self.arch)
        return self.arch

    def nvidia_gpus(self) -> tuple[Gpu, ...] | None:
        if self.gpus is None:
            return None
        return tuple(g for g in self.gpus if g.vendor == "nvidia")

    def has_nvidia_gpu(self) -> bool | None:
        gpus = self.nvidia_gpus()
        return None if gpus is None else bool(gpus)

    def gpu_ccs(self) -> tuple[tuple[int, int], ...] | None:
        """Compute capabilities of the NVIDIA GPUs; None if any is unknown."""
        gpus = self.nvidia_gpus()
        if gpus is None:
            return None
        ccs = tuple(g.cc for g in gpus)
        return None if any(cc is None for cc in ccs) else ccs  # type: ignore[return-value]

    def package(self, name: str) -> Version | None:
        if self.packages is None:
            return None
        return parse_version(self.packages.get(canonical_name(name)))

    def state(self, name: str) -> FactState | None:
        """None when the fact has a value; else why it has none."""
        if getattr(self, name) is not None:
            return None
        return self.states.get(name, FactState.UNKNOWN)

    def missing(self) -> set[str]:
        """Top-level facts that are unknown."""
        return {f.name for f in dataclasses.fields(self) if getattr(self, f.name) is None and f.name in _FACT_KEYS}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "identifiers" and value is None:
                continue
            if f.name == "states":
                # One state per fact in `unknown`, so a reader never has to interpret the reason.
                value = {name: self.states.get(name, FactState.UNKNOWN).value for name in self.unknown}
            out[f.name] = _plain(value)
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "facts") -> Machine:
        """Read a bare facts object or a whole report (which holds one under "facts"); keys it does not know are
        ignored, as a report from a newer aidoctor may carry facts this one does not read."""
        return cls.read(data, where)[0]

    @classmethod
    def read(cls, data: Any, where: str = "facts") -> tuple[Machine, tuple[StrayKey, ...]]:
        """`from_json`, and the keys of a bare facts object that no fact has (a misspelt `"gpu"`): a person
        wrote such a file, so a reader may refuse it. A whole report's keys were written by some aidoctor,
        perhaps a newer one, and are never stray."""
        if not isinstance(data, dict):
            raise BadInput(f"{where}: expected a JSON object, got {_type_name(data)}")
        report = "facts" in data and isinstance(data["facts"], dict) and "verdicts" in data
        if report:
            data = data["facts"]
        reader = _Reader(data, where)
        machine = cls._from_reader(reader, data)
        return machine, () if report else tuple(reader.stray_keys())

    @classmethod
    def _from_reader(cls, reader: _Reader, data: dict) -> Machine:
        unknown = reader.str_map("unknown") or {}
        reader.seen.add("jetson")  # true/false is read here, an object below
        jetson_raw = data.get("jetson")
        jetson: Jetson | bool | None
        if isinstance(jetson_raw, bool):
            jetson = False if jetson_raw is False else None
        else:
            jetson = reader.obj("jetson", lambda r: Jetson(l4t=r.str("l4t"), jetpack=r.str("jetpack"),
                                                           module=r.str("module"), soc=r.str("soc")))
        machine = cls(
            os=reader.choice("os", ("linux", "darwin", "windows")),
            arch=_normal_arch(reader.str("arch")),
            distro=reader.str("distro"),
            kernel=reader.str("kernel"),
            glibc=reader.version_str("glibc"),
            libc=reader.choice("libc", ("glibc", "musl")),
            musl=reader.version_str("musl"),
            macos=reader.version_str("macos"),
            python=reader.version_str("python"),
            python_build=reader.choice("python_build", ("default", "freethreaded")),
            python_translated=reader.bool("python_translated"),
            memory_gb=reader.number("memory_gb"),
            memory_available_gb=reader.number("memory_available_gb"),
            memory_bandwidth_gbs=reader.number("memory_bandwidth_gbs"),
            unified_memory=reader.bool("unified_memory"),
            cpu=reader.obj("cpu", lambda r: Cpu(model=r.str("model"), features=r.str_list("features"),
                                                cores=r.int("cores"))),
            gpus=reader.obj_list("gpus", lambda r: Gpu(
                vendor=r.str("vendor"), name=r.str("name"), compute_capability=r.cc("compute_capability"),
                memory_gb=r.number("memory_gb"), memory_shared=r.bool("memory_shared"))),
            nvidia_driver=reader.str("nvidia_driver"),
            cuda_driver=reader.version_str("cuda_driver"),
            cuda_toolkit=reader.version_str("cuda_toolkit"),
            cuda_home=reader.str("cuda_home"),
            jetson=jetson,
            apple=reader.obj("apple", lambda r: Apple(chip=r.str("chip"), gpu_cores=r.int("gpu_cores"),
                                                      mps=r.bool("mps"))),
            packages=reader.packages("packages"),
            requires=reader.requires("requires"),
            torch_build=reader.obj("torch_build", lambda r: TorchBuild(
                version=r.str("version"), cuda=r.version_str("cuda"), arch_list=r.str_list("arch_list"))),
            deep=reader.raw_obj("deep"),
            unknown=unknown,
            states=reader.states("states", unknown),
            derived=reader.str_map("derived") or {},
            probes=tuple(reader.obj_list("probes", lambda r: ProbeRun(
                name=r.str("name") or "?", status=ProbeStatus(r.choice("status", _PROBE_STATUSES) or "failed"),
                duration_ms=r.int("duration_ms") or 0, reason=r.str("reason"))) or ()),
            identifiers=reader.raw_obj("identifiers"),
        )
        return machine


_PROBE_STATUSES = tuple(s.value for s in ProbeStatus)


def legacy_state(reason: str) -> FactState:
    """The state a facts file written before `states` existed meant by its reason.

    Those versions decided it from their own sentences: "not found" meant absent, "within"
    a timeout, and the target-Python prefixes a usage error. Only such files are read this way.
    """
    if reason.startswith(("does not exist", "not a Python interpreter", "unsupported Python")):
        return FactState.BAD_TARGET
    if "not found" in reason:
        return FactState.ABSENT
    return FactState.TIMED_OUT if "within" in reason else FactState.UNKNOWN


_FACT_KEYS = {
    "os", "arch", "distro", "kernel", "glibc", "macos", "python", "python_translated", "memory_gb",
    "memory_available_gb", "unified_memory", "cpu", "gpus", "nvidia_driver", "cuda_driver", "cuda_toolkit",
    "jetson", "apple", "packages", "torch_build",
}


def parse_version(text: str | None) -> Version | None:
    if text is None:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def parse_cc(text: str | None) -> tuple[int, int] | None:
    """'12.1' -> (12, 1); '8.7' -> (8, 7)."""
    if not text:
        return None
    major, _, minor = str(text).partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return None


def _normal_arch(arch: str | None) -> str | None:
    if arch is None:
        return None
    return {"arm64": "aarch64", "amd64": "x86_64", "x64": "x86_64"}.get(arch.lower(), arch.lower())


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), type(value).__name__)


@dataclasses.dataclass(frozen=True)
class StrayKey:
    """A key in a facts file that no fact has, and the known key it most resembles."""

    path: str  # facts.gpus[0].compute_capabilty
    suggestion: str | None  # compute_capability

    def describe(self, outcome: str) -> str:
        """`facts.gpu: unknown key{outcome}; did you mean gpus?`"""
        guess = f"; did you mean {self.suggestion}?" if self.suggestion else ""
        return f"{self.path}: unknown key{outcome}{guess}"


class _Reader:
    """Typed access to one JSON object; every mistake names the key path. It remembers the keys asked for,
    and the objects read inside it, so that the keys nobody asked for can be named."""

    def __init__(self, data: dict, where: str) -> None:
        self.data = data
        self.where = where
        self.seen: set[str] = set()
        self.inner: list[_Reader] = []

    def stray_keys(self):
        for key in self.data:
            if key not in self.seen:
                yield StrayKey(f"{self.where}.{key}", did_you_mean(key, sorted(self.seen)))
        for reader in self.inner:
            yield from reader.stray_keys()

    def _get(self, key: str, types: tuple[type, ...], expected: str) -> Any:
        self.seen.add(key)
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) and bool not in types:
            raise BadInput(f"{self.where}.{key}: expected {expected}, got {_type_name(value)}")
        if not isinstance(value, types):
            raise BadInput(f"{self.where}.{key}: expected {expected}, got {_type_name(value)}")
        return value

    def str(self, key: str) -> str | None:
        return self._get(key, (str,), "a string")

    def version_str(self, key: str) -> str | None:
        value = self._get(key, (str, int, float), "a version string")
        if value is None:
            return None
        text = str(value)
        if parse_version(text) is None:
            raise BadInput(f"{self.where}.{key}: {text!r} is not a version")
        return text

    def cc(self, key: str) -> str | None:
        value = self._get(key, (str, int, float), 'a compute capability such as "8.7"')
        if value is None:
            return None
        text = str(value)
        if parse_cc(text) is None:
            raise BadInput(f'{self.where}.{key}: {text!r} is not a compute capability such as "8.7"')
        return text

    def choice(self, key: str, allowed: tuple[str, ...]) -> str | None:
        value = self.str(key)
        if value is not None and value not in allowed:
            raise BadInput(f"{self.where}.{key}: {value!r} is not one of {', '.join(allowed)}")
        return value

    def bool(self, key: str) -> bool | None:
        return self._get(key, (bool,), "true or false")

    def int(self, key: str) -> int | None:
        return self._get(key, (int,), "an integer")

    def number(self, key: str) -> float | None:
        value = self._get(key, (int, float), "a number")
        return None if value is None else float(value)

    def str_list(self, key: str) -> tuple[str, ...] | None:
        value = self._get(key, (list,), "a list of strings")
        if value is None:
            return None
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise BadInput(f"{self.where}.{key}[{i}]: expected a string, got {_type_name(item)}")
        return tuple(value)

    def str_map(self, key: str) -> dict[str, str] | None:
        value = self._get(key, (dict,), "an object")
        if value is None:
            return None
        for name, item in value.items():
            if not isinstance(item, str):
                raise BadInput(f"{self.where}.{key}.{name}: expected a string, got {_type_name(item)}")
        return dict(value)

    def states(self, key: str, unknown: Mapping[str, str]) -> dict[str, FactState]:
        value = self._get(key, (dict,), "an object")
        if value is None:
            states = {name: legacy_state(reason) for name, reason in unknown.items()}
        else:
            allowed = tuple(s.value for s in FactState)
            nested = _Reader(value, f"{self.where}.{key}")
            states = {name: FactState(nested.choice(name, allowed)) for name in value if value[name] is not None}
        return {name: state for name, state in states.items() if state is not FactState.UNKNOWN}  # the default

    def packages(self, key: str) -> dict[str, str] | None:
        value = self.str_map(key)
        return None if value is None else {canonical_name(k): v for k, v in value.items()}

    def requires(self, key: str) -> dict[str, tuple[str, ...]] | None:
        value = self._get(key, (dict,), "an object of lists")
        if value is None:
            return None
        nested = _Reader(value, f"{self.where}.{key}")
        return {canonical_name(name): nested.str_list(name) or () for name in value}

    def raw_obj(self, key: str) -> dict | None:
        return self._get(key, (dict,), "an object")

    def obj(self, key: str, build):
        value = self._get(key, (dict,), "an object")
        return None if value is None else build(self._inner(value, f"{self.where}.{key}"))

    def _inner(self, data: dict, where: str) -> _Reader:
        reader = _Reader(data, where)
        self.inner.append(reader)
        return reader

    def obj_list(self, key: str, build):
        value = self._get(key, (list,), "a list of objects")
        if value is None:
            return None
        items = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise BadInput(f"{self.where}.{key}[{i}]: expected an object, got {_type_name(item)}")
            items.append(build(self._inner(item, f"{self.where}.{key}[{i}]")))
        return tuple(items)
