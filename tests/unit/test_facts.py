"""Facts files: partial ones are fine, wrong ones fail with the key named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aidoctor.doctor.core.errors import BadInput
from aidoctor.doctor.core.facts import FactState, Jetson, Machine, ProbeStatus


def test_a_partial_facts_object_leaves_the_rest_unknown():
    machine = Machine.from_json({"os": "linux", "arch": "arm64", "gpus": [{"vendor": "nvidia", "compute_capability": 12.1}]})
    assert machine.arch == "aarch64"  # Apple's and Windows' names are normalised
    assert machine.gpus[0].cc == (12, 1)
    assert machine.python is None and "python" in machine.missing()
    assert machine.is_jetson() is None  # aarch64 Linux without a jetson key: cannot tell


def test_a_whole_report_is_accepted_and_round_trips():
    machine = Machine(os="linux", arch="aarch64", python="3.10.12", jetson=Jetson(l4t="36.4.4", jetpack="6.2.1"),
                      packages={"torch": "2.5.0"}, unknown={"cuda_toolkit": "nvcc not found"})
    report = {"schema": "aidoctor.report/1", "facts": machine.to_json(), "verdicts": []}
    assert Machine.from_json(report) == machine


def test_available_memory_is_read_and_round_trips():
    machine = Machine.from_json({"os": "linux", "memory_gb": 121.7, "memory_available_gb": 97})
    assert machine.memory_available_gb == 97.0
    assert Machine.from_json(machine.to_json()) == machine
    assert "memory_available_gb" in Machine.from_json({"os": "darwin"}).missing()  # never probed on macOS


def test_jetson_false_means_known_not_a_jetson():
    assert Machine.from_json({"os": "linux", "arch": "aarch64", "jetson": False}).is_jetson() is False


def test_package_names_are_normalised():
    machine = Machine.from_json({"packages": {"Flash_Attn": "2.8.3"}})
    assert str(machine.package("flash-attn")) == "2.8.3"


@pytest.mark.parametrize("data, message", [
    ([], "expected a JSON object, got a list"),
    ({"os": "beos"}, "facts.os: 'beos' is not one of linux, darwin, windows"),
    ({"python": 3.12, "memory_gb": "lots"}, "facts.memory_gb: expected a number, got a string"),
    ({"gpus": {"name": "GB10"}}, "facts.gpus: expected a list of objects, got an object"),
    ({"gpus": [{"compute_capability": "sm_121"}]}, "facts.gpus[0].compute_capability: 'sm_121' is not a compute capability"),
    ({"cpu": {"features": ["sve", 2]}}, "facts.cpu.features[1]: expected a string, got int"),
    ({"packages": {"torch": 2}}, "facts.packages.torch: expected a string, got int"),
    ({"unified_memory": "yes"}, "facts.unified_memory: expected true or false, got a string"),
    ({"glibc": "two"}, "facts.glibc: 'two' is not a version"),
    ({"memory_gb": True}, "facts.memory_gb: expected a number, got true/false"),
    ({"memory_available_gb": "97 GB"}, "facts.memory_available_gb: expected a number, got a string"),
])
def test_wrong_types_name_the_key(data, message):
    with pytest.raises(BadInput) as error:
        Machine.from_json(data)
    assert message in str(error.value)


def test_fact_states_round_trip_and_default_to_unknown():
    machine = Machine(os="linux", unknown={"cuda_toolkit": "nvcc not found (no CUDA toolkit on PATH)",
                                           "gpus": "nvidia-smi did not answer within 5 s", "distro": "no os-release"},
                      states={"cuda_toolkit": FactState.ABSENT, "gpus": FactState.TIMED_OUT})
    data = machine.to_json()
    assert data["states"] == {"cuda_toolkit": "absent", "gpus": "timed_out", "distro": "unknown"}
    again = Machine.from_json(json.loads(json.dumps(data)))
    assert again == machine
    assert (again.state("cuda_toolkit"), again.state("gpus"), again.state("distro")) == (
        FactState.ABSENT, FactState.TIMED_OUT, FactState.UNKNOWN)
    assert again.state("os") is None  # known


def test_the_state_is_the_probes_not_the_wording_of_its_reason():
    # A reason that happens to say "not found" is not read as absent when the file states otherwise.
    machine = Machine.from_json({"unknown": {"cuda_toolkit": "libcudart not found by nvcc"},
                                 "states": {"cuda_toolkit": "unknown"}})
    assert machine.state("cuda_toolkit") is FactState.UNKNOWN


def test_a_facts_file_from_before_states_keeps_its_meaning():
    machine = Machine.from_json({"unknown": {"cuda_toolkit": "nvcc not found", "nvidia_driver": "nvidia-smi not found",
                                             "gpus": "nvidia-smi did not answer within 5 s",
                                             "python": "does not exist", "distro": "no /etc/os-release"}})
    assert machine.states == {"cuda_toolkit": FactState.ABSENT, "nvidia_driver": FactState.ABSENT,
                              "gpus": FactState.TIMED_OUT, "python": FactState.BAD_TARGET}
    assert machine.state("distro") is FactState.UNKNOWN


def test_a_wrong_state_is_named():
    with pytest.raises(BadInput, match=r"facts\.states\.gpus: 'gone' is not one of absent, unknown"):
        Machine.from_json({"unknown": {"gpus": "?"}, "states": {"gpus": "gone"}})
    with pytest.raises(BadInput, match=r"facts\.probes\[0\]\.status: 'odd' is not one of ok, failed"):
        Machine.from_json({"probes": [{"name": "nvcc", "status": "odd", "duration_ms": 3}]})


def test_probe_runs_read_back_typed():
    machine = Machine.from_json({"probes": [{"name": "nvcc", "status": "timeout", "duration_ms": 5000}]})
    assert machine.probes[0].status is ProbeStatus.TIMEOUT
    assert machine.to_json()["probes"][0]["status"] == "timeout"


# -- keys no fact has (issue 12, item 5) --

@pytest.mark.parametrize("data, path, suggestion", [
    ({"os": "linux", "gpu": [{"name": "NVIDIA GB10"}]}, "facts.gpu", "gpus"),
    ({"os": "linux", "nvidia_drvier": "580.95.05"}, "facts.nvidia_drvier", "nvidia_driver"),
    ({"gpus": [{"name": "NVIDIA GB10", "compute_capabilty": "12.1"}]}, "facts.gpus[0].compute_capabilty",
     "compute_capability"),
    ({"cpu": {"model": "Cortex-X925", "cores": 20, "colour": "green"}}, "facts.cpu.colour", None),
])
def test_a_key_no_fact_has_is_named_with_the_one_it_resembles(data, path, suggestion):
    _, stray = Machine.read(data)
    assert [(s.path, s.suggestion) for s in stray] == [(path, suggestion)]


def test_every_key_a_machine_writes_is_one_it_reads():
    machine = Machine(os="linux", arch="aarch64", packages={"torch": "2.9.1"}, requires={"torch": ("filelock",)},
                      jetson=Jetson(l4t="36.4.3", jetpack="6.2", module="p3701-0005", soc="t234"),
                      unknown={"cuda_toolkit": "nvcc not found"}, states={"cuda_toolkit": FactState.ABSENT})
    assert Machine.read(machine.to_json()) == (machine, ())
    assert Machine.read({**machine.to_json(), "jetson": False})[1] == ()


def test_a_whole_reports_facts_may_carry_keys_a_newer_aidoctor_added():
    report = {"schema": "aidoctor.report/1", "verdicts": [], "facts": {"os": "linux", "npu_driver": "1.2"}}
    machine, stray = Machine.read(report)
    assert machine.os == "linux" and stray == ()
    assert Machine.from_json({"os": "linux", "npu_driver": "1.2"}).os == "linux"  # from_json never refuses


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "doctor/check/profiles").glob("*.json")),
                         ids=lambda p: p.stem)
def test_every_built_in_profile_has_only_known_keys(path):
    assert Machine.read(json.loads(path.read_text())["facts"])[1] == ()
