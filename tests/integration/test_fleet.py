"""fleet collect: the pure parts (hosts files, ssh argv, judging what came back), the zip sent along, and
real collects over a real sshd on loopback with hosts that work, answer garbage, hang and refuse."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from aidoctor.doctor.fleet import zipapp
from aidoctor.doctor.core.errors import MissingExtra
from aidoctor.doctor.fleet.collect import (CollectOptions, Via, classify, docker_targets, parse_hosts, remote_shell_command)
from aidoctor.doctor.core.system import Captured

from .. import sshd
from ..beds import require

CLI = [sys.executable, "-m", "aidoctor.doctor"]
REPORT_CMD = f"{sys.executable} -m aidoctor.doctor report -o - --offline"


# -- hosts files and commands ----------------------------------------------------------------------------------


def test_remote_command_saves_the_zip_privately_and_cleans_up(tmp_path):
    command = remote_shell_command(CollectOptions(remote_python="/opt/venv/bin/python", report_args=("--offline",)),
                                   "aidoctor-1.pyz")
    # Run it for real with a local sh standing in for the remote one.
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho \"ran $1 $2 $3 $4 $5\"; ls \"$(dirname \"$1\")\"\n")
    fake_python.chmod(0o755)
    result = subprocess.run(["sh", "-c", command.replace("/opt/venv/bin/python", str(fake_python))],
                            input=b"zip bytes", capture_output=True, timeout=10)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr
    assert "ran /tmp/" in out and "/aidoctor-1.pyz report -o - --offline" in out
    saved = out.split()[1]
    assert not os.path.exists(saved)  # removed on exit
    assert remote_shell_command(CollectOptions(remote_command="uvx aidoctor report"), "x.pyz") == "uvx aidoctor report"


# -- the zip sent along ----------------------------------------------------------------------------------------


def test_the_zip_runs_on_a_bare_python_and_writes_a_report(tmp_path):
    pyz = tmp_path / zipapp.file_name()
    pyz.write_bytes(zipapp.build())
    names = zipfile.ZipFile(pyz).namelist()
    assert not [n for n in names if n.endswith((".so", ".pyc"))]
    assert "aidoctor/doctor/check/profiles/dgx-spark.json" in names
    # -I -S: no site-packages, no user site, no PYTHON* variables: only the stdlib and the zip.
    result = subprocess.run([sys.executable, "-I", "-S", str(pyz), "report", "--offline", "--label", "bare"],
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["schema"] == "aidoctor.report/1" and report["label"] == "bare"
    assert report["facts"]["arch"] and len(report["verdicts"]) >= 10


# -- a real sshd -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    require("sshd", sshd.available())  # CI installs OpenSSH: there a missing sshd is a failure
    server = sshd.LoopbackSshd(tmp_path_factory.mktemp("sshd"), {
        "node-a": None, "node-b": None,
        "garbage": "echo 'Last login: yesterday'",  # a login banner where the report should be
        "hangs": "sleep 600",  # logs in, then never answers
    })
    silent = sshd.SilentListener()
    silent.start()
    server.start()
    yield server, silent.port, sshd.free_port()
    server.stop()
    silent.stop()


def _collect(tmp_path: Path, hosts_text: str, server, *extra: str, timeout: float = 120):
    hosts_file = tmp_path / "hosts.txt"
    hosts_file.write_text(hosts_text)
    out = tmp_path / "reports"
    start = time.monotonic()
    result = subprocess.run([*CLI, "fleet", "collect", "--hosts", str(hosts_file), "--ssh-config",
                             str(server.ssh_config), "-o", str(out), *extra], capture_output=True, text=True,
                            timeout=timeout)
    return result, out, time.monotonic() - start


def test_collect_over_ssh_keeps_going_past_hosts_that_fail(hosts, tmp_path):
    server, silent_port, closed_port = hosts
    p = server.ports
    hosts_text = (f"127.0.0.1:{p['node-a']} node-a\n127.0.0.1:{p['node-b']} node-b\n"
                  f"127.0.0.1:{p['garbage']} garbage-host\n127.0.0.1:{p['hangs']} hanging-host\n"
                  f"127.0.0.1:{silent_port} silent-host\n127.0.0.1:{closed_port} refusing-host\n")
    result, out, seconds = _collect(tmp_path, hosts_text, server, "--offline", "--connect-timeout", "3",
                                    "--host-timeout", "12")
    assert result.returncode == 1, result.stderr  # some hosts failed; each has its file
    assert "Traceback" not in result.stderr
    assert "2 collected, 4 failed" in result.stderr
    # All at once: the hanging host's 12 s budget bounds the run, not the sum of the hosts.
    assert seconds < 12 + 25, seconds
    files = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert set(files) == {"node-a", "node-b", "garbage-host", "hanging-host", "silent-host", "refusing-host"}
    for node in ("node-a", "node-b"):
        assert files[node]["schema"] == "aidoctor.report/1" and files[node]["label"] == node
        assert files[node]["facts"]["os"] == "linux"
    problems = {name: (files[name]["problem"], files[name]["reason"]) for name in files if name.endswith("-host")}
    assert problems["garbage-host"][0] == "garbage" and "not an aidoctor report" in problems["garbage-host"][1]
    assert problems["hanging-host"] == ("timeout", "no report within 12 s, the per-host budget")
    assert problems["silent-host"][0] == "unreachable" and "timed out" in problems["silent-host"][1]
    assert problems["refusing-host"][0] == "unreachable" and "Connection refused" in problems["refusing-host"][1]

    matrix = subprocess.run([*CLI, "matrix", str(out), "--format", "json"], capture_output=True, text=True,
                            timeout=60)
    assert matrix.returncode == 0, matrix.stderr
    data = json.loads(matrix.stdout)
    # node-a and node-b are one machine behind two ports: identical, so one column of two.
    assert [(c["count"], sorted(m["name"] for m in c["machines"])) for c in data["columns"]] == [
        (2, ["node-a", "node-b"])]
    assert {f["name"]: f["problem"] for f in data["failures"]} == {
        "garbage-host": "garbage", "hanging-host": "timeout", "silent-host": "unreachable",
        "refusing-host": "unreachable"}
    terminal = subprocess.run([*CLI, "matrix", str(out)], capture_output=True, text=True, timeout=60)
    assert "node-a, node-b (×2)" in terminal.stdout
    assert "refusing-host (ssh): unreachable:" in terminal.stdout and "Connection refused" in terminal.stdout


def test_collect_runs_an_installed_aidoctor_when_told(hosts, tmp_path):
    server, _, _ = hosts
    result, out, _ = _collect(tmp_path, f"127.0.0.1:{server.ports['node-a']}\n", server,
                              "--remote-command", REPORT_CMD)
    assert result.returncode == 0, result.stderr
    (report,) = out.glob("*.json")
    data = json.loads(report.read_text())
    assert data["schema"] == "aidoctor.report/1" and data["label"] is None and len(data["machine_id"]) == 16


def test_a_bad_hosts_file_is_one_line_and_exit_2(tmp_path):
    hosts_file = tmp_path / "hosts.txt"
    hosts_file.write_text("good\nhost:70000 x\n")
    result = subprocess.run([*CLI, "fleet", "collect", "--hosts", str(hosts_file), "-o", str(tmp_path / "r")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"aidoctor: error: {hosts_file}:2: port 70000 is out of range"]
    assert not (tmp_path / "r").exists()
    missing = subprocess.run([*CLI, "fleet", "collect", "--hosts", str(tmp_path / "nope")], capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 2 and missing.stderr.startswith(f"aidoctor: error: hosts file {tmp_path / 'nope'}")


# -- aidoctor report -------------------------------------------------------------------------------------------


def test_report_has_a_label_or_a_hash_and_no_identifiers_unless_asked(tmp_path):
    import socket

    out = tmp_path / "r.json"
    result = subprocess.run([*CLI, "report", "--offline", "--label", "lab spark 1", "-o", str(out)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["label"] == "lab spark 1" and len(report["machine_id"]) == 16 and report["created_at"]
    assert "identifiers" not in report["facts"]
    assert f'"{socket.gethostname()}"' not in out.read_text()
    named = json.loads(subprocess.run([*CLI, "report", "--offline", "--include-identifiers"], capture_output=True,
                                      text=True, timeout=60).stdout)
    assert named["label"] == socket.gethostname() and named["facts"]["identifiers"]["hostname"] == socket.gethostname()


def test_a_bad_label_or_an_unwritable_output_is_one_line_and_exit_2(tmp_path):
    long = subprocess.run([*CLI, "report", "--label", "x" * 201, "-o", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=60)
    assert long.returncode == 2 and long.stderr == "aidoctor: error: --label must be 1 to 200 characters\n"
    assert not (tmp_path / "r.json").exists()
    (tmp_path / "file").write_text("")
    blocked = subprocess.run([*CLI, "report", "--offline", "-o", str(tmp_path / "file" / "r.json")],
                             capture_output=True, text=True, timeout=60)
    assert blocked.returncode == 2 and blocked.stderr.startswith(f"aidoctor: error: cannot write {tmp_path}/file/r.json")


def test_docker_targets_without_the_docker_sdk_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # as when aidoctor was installed without [fleet]
    assert docker_targets([], []) == []  # ssh-only collects never need it
    with pytest.raises(MissingExtra, match=re.escape("pip install 'aidoctor[fleet]'")):
        docker_targets(["debian:12"], [])


@pytest.mark.parametrize("option", ["--image", "--container"])
def test_fleet_collect_without_the_docker_sdk_is_one_line_and_exit_2(tmp_path, option):
    hide_docker = ("import sys; sys.modules['docker'] = None; from aidoctor.doctor.cli import main; "
                   f"sys.argv = ['aidoctor', 'fleet', 'collect', {option!r}, 'x', '-o', {str(tmp_path / 'out')!r}]; "
                   "main()")
    result = subprocess.run([sys.executable, "-c", hide_docker], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == ("aidoctor: error: fleet collect --image/--container needs the Docker SDK: "
                             "pip install 'aidoctor[fleet]'\n")
    assert not (tmp_path / "out").exists()


def test_the_zip_carries_the_page_assets_and_platformdirs_but_not_the_docker_extra():
    names = set(zipfile.ZipFile(io.BytesIO(zipapp.build())).namelist())
    assert {"aidoctor/doctor/render/matrix.css", "aidoctor/doctor/render/matrix.js",
            "aidoctor/doctor/check/profiles/dgx-spark.json", "platformdirs/__init__.py"} <= names
    assert not any(name.startswith(("docker/", "psutil/")) for name in names)


def test_fleet_zipapp_writes_the_zip_a_cluster_node_runs(tmp_path):
    pyz = tmp_path / "shared" / "aidoctor.pyz"
    result = subprocess.run([*CLI, "fleet", "zipapp", "-o", str(pyz)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert pyz.read_bytes() == zipapp.build()
    version = subprocess.run([sys.executable, "-I", "-S", str(pyz), "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.stdout.startswith("aidoctor ")


def test_targets_say_how_they_are_reached_as_a_type():
    (host,) = parse_hosts("root@gh200:2222 gh200-a\n", "hosts.txt")
    assert host.via is Via.SSH and host.port == 2222
    image, container = docker_targets(["debian:13"], ["trainer"])
    assert (image.via, container.via) == (Via.DOCKER_IMAGE, Via.DOCKER_CONTAINER)
    # failure records keep the plain words a reader of earlier records knows
    _, failure = classify(image, Captured(("docker",), None, timed_out=True), CollectOptions(host_timeout=30))
    assert (failure.via, failure.problem) == ("docker-image", "timeout")
