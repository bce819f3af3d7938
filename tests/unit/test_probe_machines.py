"""The probes and the orchestrator on recorded machines, and on commands that hang.

Each folder under tests/machines/ is one machine: `root/` holds its recorded
files, `commands.json` its recorded command outputs, and SOURCE.md says where
each came from. What a folder lacks stays unknown, and the tests say so.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from aidoctor.doctor.core.facts import Apple, Cpu, FactState, Gpu, Jetson, ProbeStatus
from aidoctor.doctor.probes import apple, host, jetson, nvidia
from aidoctor.doctor.probes.collect import Options, collect
from aidoctor.doctor.core.system import ReplaySystem

MACHINES = Path(__file__).parents[1] / "machines"
ARM_SERVER_FEATURES = {"neon", "sve", "sve2", "bf16", "i8mm"}


def replay(name: str, **env: str) -> ReplaySystem:
    return ReplaySystem(MACHINES / name, env=env)


def check(name: str):
    """The whole collection; the target Python is not recorded, so its facts stay unknown."""
    return collect(replay(name), Options(python="python3", timeout=1.0, budget=5.0))


def run_status(machine, name: str) -> ProbeStatus:
    return next(run.status for run in machine.probes if run.name == name)


@pytest.mark.parametrize("folder", sorted(p.name for p in MACHINES.iterdir()))
def test_every_machine_folder_names_its_sources(folder):
    assert (MACHINES / folder / "SOURCE.md").is_file()
    commands = MACHINES / folder / "commands.json"
    for entry in json.loads(commands.read_text()) if commands.exists() else []:
        assert entry.get("source"), entry["argv"]


def test_gb10():
    m = check("gb10")
    assert (m.os, m.arch, m.kernel) == ("linux", "aarch64", "6.14.0-1013-nvidia")
    assert m.cpu.model == "Cortex-X925 + Cortex-A725"
    assert m.cpu.cores == 2  # the recording keeps 2 of the 20 processor blocks
    assert ARM_SERVER_FEATURES <= set(m.cpu.features)
    assert m.gpus == (Gpu(vendor="nvidia", name="NVIDIA GB10", compute_capability="12.1", memory_shared=True),)
    assert m.unified_memory is True
    assert (m.nvidia_driver, m.cuda_driver) == ("580.95.05", "13.0")
    assert (m.cuda_toolkit, m.cuda_home) == ("13.0", "/usr/local/cuda")
    assert m.jetson is False and m.is_jetson() is False
    # not recorded on a Spark: /etc/os-release, /proc/meminfo
    assert m.distro is None and "os-release" in m.unknown["distro"]
    assert m.memory_gb is None and "meminfo" in m.unknown["memory_gb"]
    assert run_status(m, "nvidia-smi") is ProbeStatus.OK and run_status(m, "nvcc") is ProbeStatus.OK


def test_gh200():
    m = check("gh200")
    assert (m.os, m.arch, m.kernel) == ("linux", "aarch64", "6.8.0-1022-nvidia-64k")
    assert m.cpu == Cpu(model="Neoverse-V2", features=m.cpu.features, cores=1)
    assert ARM_SERVER_FEATURES <= set(m.cpu.features)
    assert m.gpus == (Gpu(vendor="nvidia", name="NVIDIA GH200 120GB", compute_capability="9.0", memory_gb=95.6,
                          memory_shared=False),)
    assert m.unified_memory is False
    assert (m.nvidia_driver, m.cuda_driver) == ("550.54.15", "12.4")
    assert m.cuda_toolkit is None and "not found" in m.unknown["cuda_toolkit"]
    assert m.state("cuda_toolkit") is FactState.ABSENT and m.state("cuda_home") is FactState.ABSENT
    assert m.jetson is False


def test_jetson_orin_jetpack6():
    m = check("jetson-orin-jp6")
    assert (m.os, m.arch, m.kernel) == ("linux", "aarch64", "5.15.148-tegra")
    # no compatible file recorded for this unit: the SoC comes from the model name
    assert m.jetson == Jetson(l4t="36.4.4", jetpack="6.2.1", module="NVIDIA Jetson AGX Orin Developer Kit",
                              soc="tegra234")
    assert m.gpus == (Gpu(vendor="nvidia", name="Orin (nvgpu)", compute_capability="8.7", memory_shared=True),)
    assert m.unified_memory is True
    assert (m.nvidia_driver, m.cuda_driver, m.cuda_toolkit) == ("540.4.0", "12.6", "12.6")
    assert m.cpu is None and "cpuinfo" in m.unknown["cpu"]  # no Orin /proc/cpuinfo in the fixtures


def test_jetson_orin_jetpack5_has_no_nvidia_smi():
    system = replay("jetson-orin-jp5")
    direct = nvidia.probe_smi(system, 1.0)
    assert direct.facts == {"gpus": ()}
    assert direct.unknown["nvidia_driver"] == "nvidia-smi not found"
    assert direct.states == {"nvidia_driver": FactState.ABSENT, "cuda_driver": FactState.ABSENT}

    m = check("jetson-orin-jp5")
    assert m.kernel == "5.10.120-tegra"
    assert m.jetson == Jetson(l4t="35.3.1", jetpack="5.1.1", module="NVIDIA Orin Nano Developer Kit", soc="tegra234")
    # the orchestrator names the GPU from the SoC
    assert m.gpus == (Gpu(vendor="nvidia", name="NVIDIA Orin Nano Developer Kit", compute_capability="8.7",
                          memory_shared=True),)
    assert "gpus" not in m.unknown
    assert m.nvidia_driver is None and m.unknown["nvidia_driver"] == "nvidia-smi not found"
    assert m.cuda_toolkit is None and "not found" in m.unknown["cuda_toolkit"]
    assert m.state("nvidia_driver") is m.state("cuda_toolkit") is FactState.ABSENT
    assert run_status(m, "nvidia-smi") is ProbeStatus.OK and run_status(m, "nvcc") is ProbeStatus.OK  # absent is an answer


def test_jetson_orin_on_l4t_r39_names_no_tegra_in_its_device_tree():
    part = jetson.probe(replay("jetson-orin-r39"), 1.0)
    assert part.facts["jetson"] == Jetson(l4t="39.2.0", jetpack="7.2", module="NVIDIA Jetson AGX Orin Developer Kit",
                                          soc="tegra234")


def test_jetson_thor():
    m = check("jetson-thor")
    assert (m.os, m.arch, m.kernel) == ("linux", "aarch64", "6.8.12-tegra")
    assert m.jetson == Jetson(l4t="38.2.0", jetpack="7.0", module="NVIDIA Jetson AGX Thor Developer Kit",
                              soc="tegra264")
    assert m.cpu.model == "Neoverse-V3AE" and ARM_SERVER_FEATURES <= set(m.cpu.features)
    assert m.gpus == (Gpu(vendor="nvidia", name="NVIDIA Thor", compute_capability="11.0", memory_shared=True),)
    assert m.unified_memory is True
    assert (m.nvidia_driver, m.cuda_driver) == ("580.00", "13.0")


def test_graviton3_probe_by_probe():
    system = replay("graviton3")  # no uname recorded, so the probes are called one by one
    linux = host.probe_linux(system, 1.0)
    assert linux.facts["cpu"] == Cpu(model="Neoverse-V1", features=("asimd", "asimddp", "asimdhp", "dotprod", "neon",
                                                                     "sve"), cores=1)
    assert jetson.probe(system, 1.0).facts == {"jetson": False}
    smi = nvidia.probe_smi(system, 1.0)
    assert smi.facts == {"gpus": ()} and smi.unknown["cuda_driver"] == "nvidia-smi not found"
    nvcc = nvidia.probe_nvcc(system, 1.0)
    assert nvcc.facts == {} and nvcc.unknown["cuda_toolkit"] == nvidia.NVCC_NOT_FOUND
    assert nvcc.state("cuda_toolkit") is nvcc.state("cuda_home") is FactState.ABSENT


def test_h100_x86():
    m = check("h100-x86")
    assert (m.os, m.arch, m.kernel) == ("linux", "x86_64", "5.15.0-185-generic")
    assert m.gpus == (Gpu(vendor="nvidia", name="NVIDIA H100 80GB HBM3", compute_capability="9.0", memory_gb=79.6,
                          memory_shared=False),)
    assert m.unified_memory is False
    assert (m.nvidia_driver, m.cuda_driver) == ("590.48.01", "13.1")
    assert (m.cuda_toolkit, m.cuda_home) == ("12.8", "/usr/local/cuda")
    assert m.jetson is False  # x86_64: the Jetson probe does not run
    assert "jetson" not in {run.name for run in m.probes}
    assert m.cpu is None  # no x86 /proc/cpuinfo in the fixtures


def test_mac_m4_max():
    m = check("mac-m4-max")
    assert (m.os, m.arch, m.macos) == ("darwin", "aarch64", "14.0")
    assert m.memory_gb == 64.0
    assert m.cpu == Cpu(model="Apple M4 Max", features=("bf16", "i8mm", "neon", "sme", "sme2"), cores=16)
    assert m.apple == Apple(chip="Apple M4 Max", gpu_cores=None, mps=None)  # no M4 Max SPDisplays recorded
    assert m.gpus == (Gpu(vendor="apple", name="Apple M4 Max", memory_gb=64.0, memory_shared=True),)
    assert m.unified_memory is True
    assert m.is_apple_silicon() is True and m.jetson is False
    assert {run.name for run in m.probes} == {"uname", "apple", "python"}


def test_mac_m1_under_rosetta_is_still_apple_silicon():
    m = check("mac-m1-rosetta")
    assert (m.os, m.arch) == ("darwin", "x86_64")  # what a translated shell's uname says
    assert m.cpu == Cpu(model="Apple M1", features=("neon",), cores=8)
    assert m.memory_gb == 16.0 and m.unified_memory is True
    assert m.is_apple_silicon() is True
    assert m.macos is None and "sw_vers" in m.unknown["macos"]


@pytest.mark.parametrize(
    "folder, message",
    [
        ("nvidia-driver-mismatch", "Failed to initialize NVML: Driver/library version mismatch"),
        ("nvidia-driver-not-loaded", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"),
    ],
    ids=["mismatch", "not-loaded"],
)
def test_a_broken_driver_leaves_gpus_unknown_with_its_message(folder, message):
    part = nvidia.probe_smi(replay(folder), 1.0)
    assert "gpus" not in part.facts
    for key in ("gpus", "nvidia_driver", "cuda_driver"):
        assert message in part.unknown[key] and "\n" not in part.unknown[key]


def test_an_old_driver_without_compute_cap_is_asked_again_without_it():
    system = replay("v100-driver-418")
    part = nvidia.probe_smi(system, 1.0)
    assert part.facts["gpus"] == (Gpu(vendor="nvidia", name="Tesla V100-SXM2...", memory_gb=15.8, memory_shared=False),)
    assert (part.facts["nvidia_driver"], part.facts["cuda_driver"]) == ("418.67", "10.1")
    assert nvidia.query_argv(("name", "memory.total", "driver_version")) in system.calls


class _NoPathSystem(ReplaySystem):
    """nvcc is not on PATH; it can only be found through CUDA_HOME or /usr/local/cuda."""

    def which(self, name: str) -> str | None:
        return None


@pytest.mark.parametrize(
    "env, home",
    [({"CUDA_HOME": "/usr/local/cuda"}, "/usr/local/cuda"), ({}, "/usr/local/cuda")],
    ids=["cuda-home", "default-folder"],
)
def test_nvcc_is_found_outside_path(env, home):
    part = nvidia.probe_nvcc(_NoPathSystem(MACHINES / "gb10", env=env), 1.0)
    assert part.facts == {"cuda_toolkit": "13.0", "cuda_home": home}


def test_an_empty_machine_gives_reasons_not_exceptions(tmp_path):
    system = ReplaySystem(tmp_path)
    assert set(host.probe_uname(system, 1.0).unknown) == {"os", "arch", "kernel"}
    assert set(host.probe_linux(system, 1.0).unknown) == {"distro", "memory_gb", "cpu"}
    assert jetson.probe(system, 1.0).facts == {"jetson": False}
    assert set(nvidia.probe_nvcc(system, 1.0).unknown) == {"cuda_toolkit", "cuda_home"}
    mac = apple.probe(system, 1.0)
    assert mac.facts == {}
    assert set(mac.unknown) == {"apple", "macos", "memory_gb", "cpu", "gpus", "unified_memory"}
    assert all("\n" not in reason for reason in mac.unknown.values())


def _hanging_copy(tmp_path: Path, name: str) -> Path:
    """A copy of a recorded machine whose nvidia-smi never answers."""
    folder = tmp_path / name
    shutil.copytree(MACHINES / name, folder)
    entries = json.loads((folder / "commands.json").read_text())
    for entry in entries:
        if entry["argv"][0] == "nvidia-smi":
            entry["hang"] = True
    (folder / "commands.json").write_text(json.dumps(entries))
    return folder


def test_a_hanging_nvidia_smi_is_given_up_after_the_timeout(tmp_path):
    system = ReplaySystem(_hanging_copy(tmp_path, "gb10"))
    started = time.monotonic()
    part = nvidia.probe_smi(system, 0.3)
    assert time.monotonic() - started < 0.55  # the two calls wait at the same time
    assert part.unknown["gpus"] == "nvidia-smi did not answer within 0.3 s"
    assert set(part.unknown) == {"gpus", "nvidia_driver", "cuda_driver"}
    assert part.states == dict.fromkeys(("gpus", "nvidia_driver", "cuda_driver"), FactState.TIMED_OUT)

    m = collect(ReplaySystem(_hanging_copy(tmp_path / "again", "gb10")), Options(python="python3", timeout=0.3,
                                                                                   budget=3.0))
    assert run_status(m, "nvidia-smi") is ProbeStatus.TIMEOUT
    assert m.gpus is None and "did not answer" in m.unknown["gpus"]
    assert m.cpu.model == "Cortex-X925 + Cortex-A725" and m.cuda_toolkit == "13.0"  # the others still answer
    assert m.state("gpus") is FactState.TIMED_OUT and m.to_json()["states"]["gpus"] == "timed_out"


def test_an_emulated_aarch64_userland_does_not_take_the_hosts_cpu():
    """Under qemu-user an arm64 chroot reads the x86 host's /proc/cpuinfo (seen in testbed/arm64.sh)."""
    from aidoctor.doctor.core.facts import Cpu
    from aidoctor.doctor.probes.collect import derive

    unknown: dict[str, str] = {}
    facts = derive({"os": "linux", "arch": "aarch64",
                    "cpu": Cpu(model="AMD EPYC 7B13", features=("avx", "avx2", "fma"), cores=2)}, unknown)
    assert "cpu" not in facts and "qemu-user" in unknown["cpu"]
    native = derive({"os": "linux", "arch": "aarch64", "cpu": Cpu(model="Neoverse-V2", features=("asimd", "neon", "sve"),
                                                                 cores=72)}, {})
    assert native["cpu"].model == "Neoverse-V2"


def test_a_probed_machine_reads_back_from_its_json_with_its_states():
    from aidoctor.doctor.core.facts import Machine

    m = check("gh200")
    again = Machine.from_json(json.loads(json.dumps(m.to_json())))
    assert again.states == m.states and again.state("cuda_toolkit") is FactState.ABSENT
    assert again.probes == m.probes
