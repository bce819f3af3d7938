"""The fleet's pure parts: hosts files, ssh arguments, failure classes, file names, the machine id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aidoctor.doctor.core.errors import BadInput
from aidoctor.doctor.core.system import Captured
from aidoctor.doctor.fleet.collect import (UNREACHABLE, CollectOptions, Target, Via, classify, file_names, parse_hosts,
                                           ssh_argv)
from aidoctor.doctor.fleet.reportfile import FAILURE_SCHEMA


def _judge(captured: Captured, label: str | None = "gh200-a"):
    return classify(Target(Via.SSH, "root@gh200", label), captured, CollectOptions(host_timeout=30))


def test_hosts_file_lines_give_destination_port_and_label():
    targets = parse_hosts("# lab\nspark-01  DGX Spark one\nroot@10.0.0.5:2222 gh200-a  # rack 3\n[::1]:22\n\n"
                          "alias\n", "hosts.txt")
    assert [(t.address, t.port, t.label) for t in targets] == [
        ("spark-01", None, "DGX Spark one"), ("root@10.0.0.5", 2222, "gh200-a"), ("::1", 22, None),
        ("alias", None, None)]
    assert targets[1].name == "gh200-a" and targets[3].name == "alias"


@pytest.mark.parametrize("line, problem", [
    ("host:99999", "port 99999 is out of range"),
    ("@host", "is not an ssh destination"),
    ("-oProxyCommand=evil", "is not an ssh destination"),  # would be read by ssh as an option
    ("host:port", "is not an ssh destination"),
])
def test_bad_hosts_lines_are_named_with_file_and_line(line, problem):
    with pytest.raises(BadInput) as error:
        parse_hosts(f"ok-host\n{line}\n", "hosts.txt")
    assert str(error.value).startswith("hosts.txt:2: ") and problem in str(error.value)


def test_ssh_never_prompts_and_bounds_the_connect():
    argv = ssh_argv(Target(Via.SSH, "root@gh200", port=2222), CollectOptions(ssh_config=Path("cfg"),
                                                                            ssh_options=("Compression=yes",),
                                                                            connect_timeout=7), "CMD")
    assert argv[:2] == ["ssh", "-T"]
    assert "BatchMode=yes" in argv and "ConnectTimeout=7" in argv and "Compression=yes" in argv
    assert argv[argv.index("-F") + 1] == "cfg" and argv[argv.index("-p") + 1] == "2222"
    assert argv[-3:] == ["--", "root@gh200", "CMD"]  # `--`: a destination can never become an option


def test_classify_names_each_way_a_host_can_fail():
    report = (Path(__file__).parents[1] / "fixtures" / "reports" / "report-x86.json").read_bytes()
    saved, failure = _judge(Captured(("ssh",), 0, report))
    assert failure is None and saved["label"] == "gh200-a"
    cases = [
        (Captured(("ssh",), UNREACHABLE, stderr="ssh: connect to host gh200 port 22: Connection refused\n"),
         "unreachable", "Connection refused"),
        (Captured(("ssh",), None, timed_out=True), "timeout", "no report within 30 s"),
        (Captured(("ssh",), 127, stderr="sh: 1: python3: not found\n"), "failed", "exited with 127: sh: 1: python3"),
        (Captured(("ssh",), 0, b"Welcome to Ubuntu!\n"), "garbage", "not an aidoctor report: malformed JSON"),
        (Captured(("ssh",), 0, report[:200]), "garbage", "truncated JSON"),
        (Captured(("ssh",), 0, b"x" * 10, overflow=True), "garbage", "more than 8 MiB"),
        (Captured(("ssh",), 0, json.dumps({"schema": FAILURE_SCHEMA}).encode()), "garbage", "not an aidoctor report"),
    ]
    for captured, problem, reason in cases:
        saved, failure = _judge(captured)
        assert saved is None and failure is not None
        assert (failure.problem, failure.name, failure.via) == (problem, "gh200-a", "ssh")
        assert reason in failure.reason, failure.reason


def test_file_names_are_safe_and_distinct():
    targets = [Target(Via.SSH, "a/../../etc"), Target(Via.SSH, "x", "same"), Target(Via.SSH, "y", "same"),
               Target(Via.DOCKER_IMAGE, "nvcr.io/nvidia/pytorch:25.09-py3", "image nvcr.io/nvidia/pytorch:25.09-py3")]
    names = file_names(targets)
    assert names == ["a_.._.._etc.json", "same.json", "same-2.json", "image_nvcr.io_nvidia_pytorch_25.09-py3.json"]
    assert all("/" not in n and not n.startswith(".") for n in names)


def test_machine_id_is_a_salted_hash_of_machine_id_5():
    from aidoctor.doctor.fleet.report import machine_hash, parse_machine_id

    raw = "4c4c4544004d3510804bb4c04f4d4d32"
    assert parse_machine_id(raw.upper() + "\n") == raw
    assert parse_machine_id("uninitialized\n") is None and parse_machine_id("") is None
    assert len(machine_hash(raw)) == 16 and raw not in machine_hash(raw)
    assert machine_hash(raw) != machine_hash("4c4c4544004d3510804bb4c04f4d4d33")
