"""Facts files: partial ones are fine, wrong ones fail with the key named."""

from __future__ import annotations

import pytest

from aidoctor.doctor.core.errors import BadInput
from aidoctor.doctor.core.facts import Jetson, Machine


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
