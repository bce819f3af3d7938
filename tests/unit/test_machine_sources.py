"""One description per machine: the recorded outputs in tests/machines/ and the built-in profiles agree.

The profiles (doctor/check/profiles/*.json) are the facts the verdict tests and the golden files use; the
recordings are what the probes read. Where a recording and a profile are the same kind of machine, every fact
that names the machine (platform, CPU model, GPU, driver, Jetson release) must be the same in both. Facts of one
configuration or one install stay out: memory size, macOS version, cores kept in the recording, CPU flags kept
in the profile, and whether a CUDA toolkit is installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aidoctor.doctor.check.profiles import all_profiles, load
from aidoctor.doctor.core.facts import Machine
from aidoctor.doctor.core.system import ReplaySystem
from aidoctor.doctor.probes.collect import Options, collect

MACHINES = Path(__file__).parents[1] / "machines"
PROFILE_OF_RECORDING = {"gb10": "dgx-spark", "gh200": "gh200", "graviton3": "graviton", "h100-x86": "h100",
                        "jetson-orin-jp6": "jetson-agx-orin", "jetson-thor": "jetson-thor",
                        "mac-m4-max": "mac-studio-m4-max"}
LINUX_INSTALL = ("distro", "kernel", "glibc")


def identity(machine: Machine) -> dict[str, object]:
    gpus = None if machine.gpus is None else [(g.vendor, g.name, g.compute_capability, g.memory_shared)
                                              for g in machine.gpus]
    facts = {"os": machine.os, "arch": machine.arch, "cpu model": machine.cpu.model if machine.cpu else None,
             "gpus": gpus, "unified_memory": machine.unified_memory, "nvidia_driver": machine.nvidia_driver,
             "cuda_driver": machine.cuda_driver, "jetson": machine.jetson, "python": machine.python}
    if machine.os == "linux":
        facts.update({name: getattr(machine, name) for name in LINUX_INSTALL})
    return facts


def test_every_recording_with_a_profile_is_named_and_every_name_exists():
    assert set(PROFILE_OF_RECORDING) <= {p.name for p in MACHINES.iterdir()}
    assert set(PROFILE_OF_RECORDING.values()) <= set(all_profiles())


@pytest.mark.parametrize("recording, profile", sorted(PROFILE_OF_RECORDING.items()))
def test_a_recording_and_its_profile_describe_the_machine_alike(recording, profile):
    probed = collect(ReplaySystem(MACHINES / recording, env={}), Options(python="python3", timeout=1.0, budget=5.0))
    recorded, described = identity(probed), identity(load(profile).machine)
    disagree = {name: (value, described[name]) for name, value in recorded.items()
                if value is not None and value != described[name]}
    assert not disagree, f"tests/machines/{recording} vs profile {profile} (recorded, profile): {disagree}"
