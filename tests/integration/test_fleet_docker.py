"""`aidoctor fleet collect --image/--container` against a real Docker engine, through the real CLI.

The images are built locally by `testbed/docker.sh` (no registry): aidoctor-testbed:amd64 runs natively,
aidoctor-testbed:arm64 is a Debian arm64 userland run under qemu-user. Without the engine or the images these
tests skip; with AIDOCTOR_REQUIRE_DOCKER set (as CI sets it) they fail instead.

Timings on a 2-core x86_64 VM (other jobs sharing the cores), Docker 20.10, qemu 7.2: the two-image collect
3.6-4.2 s (the arm64 report under qemu is the long pole), the timeout test 5.5 s, the whole module 12.5-14 s.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from aidoctor.doctor.check import REPORT_SCHEMA
from aidoctor.doctor.fleet.reportfile import FAILURE_SCHEMA

from ..beds import require

pytestmark = pytest.mark.docker

AMD64 = "aidoctor-testbed:amd64"
ARM64 = "aidoctor-testbed:arm64"
MACHINES = {AMD64: "x86_64", ARM64: "aarch64"}
SETUP_HINT = "run `sudo testbed/docker.sh` (needs docker.io, debootstrap and qemu-user-static)"
COLLECT_TIMEOUT = 300  # seconds for one CLI run; the arm64 report under qemu takes a few
FLEET_LABEL = "org.aidoctor=fleet-collect"  # what fleet collect puts on the containers it creates
# What each image's own python3 says about its userland: the reports must agree with it.
USERLAND = ("import json, platform; print(json.dumps({'machine': platform.machine(), "
            "'python': platform.python_version(), 'glibc': platform.libc_ver()[1], "
            "'distro': platform.freedesktop_os_release()['PRETTY_NAME']}))")


def _testbed_problem() -> str | None:
    """Why these tests cannot run here, or None."""
    try:
        import docker
        from docker.errors import DockerException, ImageNotFound
    except ImportError:
        return "the docker package is not installed (pip install -e .)"
    try:
        client = docker.from_env(timeout=30)
    except DockerException as exc:
        return f"no Docker engine answers ({exc}): {SETUP_HINT}"
    try:
        for image in MACHINES:
            try:
                client.images.get(image)
            except ImageNotFound:
                return f"no image {image}: {SETUP_HINT}"
    finally:
        client.close()
    return None


@pytest.fixture(scope="module")
def client():
    """A Docker client for the engine the CLI will use; skips (or fails, when required) without the testbed."""
    require("docker", _testbed_problem())
    import docker

    docker_client = docker.from_env(timeout=60)
    yield docker_client
    docker_client.close()


def aidoctor(*args: str, env: dict[str, str] | None = None,
             timeout: float = COLLECT_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aidoctor.doctor", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def by_label(folder: Path) -> dict[str, dict]:
    """Every file fleet collect wrote, report or failure record, by its label."""
    records = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    return {record["label"]: record for record in records}


def fleet_containers(client) -> set[str]:
    return {c.id for c in client.containers.list(all=True, filters={"label": FLEET_LABEL})}


# -- both images, one collect run ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def userland(client) -> dict[str, dict]:
    """What each image's python3 reports about itself, to compare the reports with."""
    return {image: json.loads(client.containers.run(image, ["python3", "-c", USERLAND], remove=True))
            for image in MACHINES}


@pytest.fixture(scope="module")
def images_run(client, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("images")
    result = aidoctor("fleet", "collect", "--image", AMD64, "--image", ARM64, "--offline", "-o", str(out))
    return result, out


def test_both_images_give_a_report(images_run):
    result, out = images_run
    assert result.returncode == 0, result.stderr
    assert len(list(out.glob("*.json"))) == 2
    assert sorted(by_label(out)) == [f"image {AMD64}", f"image {ARM64}"]
    assert all(record["schema"] == REPORT_SCHEMA for record in by_label(out).values())


@pytest.mark.parametrize("image", [AMD64, ARM64])
def test_report_describes_the_image_userland(images_run, userland, image):
    facts = by_label(images_run[1])[f"image {image}"]["facts"]
    expected = userland[image]
    assert expected["machine"] == MACHINES[image]  # the image itself is what testbed/docker.sh promises
    assert (facts["os"], facts["arch"]) == ("linux", MACHINES[image])
    assert facts["python"] == expected["python"]
    assert facts["glibc"] == expected["glibc"]
    assert facts["distro"] == expected["distro"]


def test_matrix_json_has_one_column_per_architecture(images_run):
    result = aidoctor("matrix", str(images_run[1]), "--format", "json")
    assert result.returncode == 0, result.stderr
    merged = json.loads(result.stdout)
    kinds = [column["kind"] for column in merged["columns"]]
    assert len(kinds) == 2 and len(set(kinds)) == 2, kinds
    assert sum("aarch64" in kind for kind in kinds) == 1, kinds
    assert merged["failures"] == [] and merged["rejected"] == []


def test_matrix_terminal_names_both_images(images_run):
    # Piped output now takes COLUMNS (else 80); at 80 the two long image names are cut with "...", as the
    # matrix's narrow layout still does (issue 12). 160 was the width piped output had before.
    result = aidoctor("matrix", str(images_run[1]), env={**os.environ, "COLUMNS": "160"})
    assert result.returncode == 0, result.stderr
    assert f"image {AMD64}" in result.stdout and f"image {ARM64}" in result.stdout, result.stdout


# -- running, stopped and missing containers -------------------------------------------------------------------


@pytest.fixture
def make_container(client) -> Iterator[Callable[..., str]]:
    """Create (and with start=True run) a container of the amd64 image; every one is removed afterwards."""
    made = []

    def make(start: bool) -> str:
        name = f"aidoctor-test-{uuid.uuid4().hex[:10]}"
        # Not root, as many users run their containers: the collect must manage with that user's rights.
        container = client.containers.create(AMD64, ["sleep", "infinity"], name=name, user="1000:1000")
        made.append(container)
        if start:
            container.start()
        return name

    yield make
    for container in made:
        container.remove(force=True)


def test_containers_running_stopped_and_missing(client, make_container, tmp_path):
    running, stopped = make_container(start=True), make_container(start=False)
    missing = f"aidoctor-test-missing-{uuid.uuid4().hex[:10]}"
    result = aidoctor("fleet", "collect", "--container", running, "--container", stopped, "--container", missing,
                      "--offline", "-o", str(tmp_path))
    assert result.returncode == 1, result.stderr
    records = by_label(tmp_path)
    report = records[f"container {running}"]
    assert report["schema"] == REPORT_SCHEMA and report["facts"]["arch"] == "x86_64"
    leftovers = client.containers.get(running).exec_run(["ls", "-A", "/tmp"]).output.decode()
    assert "aidoctor" not in leftovers  # the zip and the output files went with the exec
    not_running = records[f"container {stopped}"]
    assert not_running["schema"] == FAILURE_SCHEMA and not_running["problem"] == "unreachable"
    assert stopped in not_running["reason"], not_running
    absent = records[f"container {missing}"]
    assert absent["schema"] == FAILURE_SCHEMA and absent["problem"] == "unreachable"
    assert missing in absent["reason"], absent


def test_a_hanging_check_in_a_running_container_times_out_and_is_cleaned_up(client, make_container, tmp_path):
    running = make_container(start=True)
    start = time.monotonic()
    result = aidoctor("fleet", "collect", "--container", running, "--remote-command", "sleep 600",
                      "--host-timeout", "3", "-o", str(tmp_path), timeout=60)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - start < 20
    record = by_label(tmp_path)[f"container {running}"]
    assert record["schema"] == FAILURE_SCHEMA and record["problem"] == "timeout", record
    container = client.containers.get(running)
    assert container.status == "running"  # the user's container lives on
    processes = container.exec_run(["sh", "-c", "ls -A /tmp; cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]).output
    assert b"aidoctor" not in processes and b"sleep 600" not in processes


def test_an_image_entrypoint_that_prints_a_banner_is_bypassed(client, tmp_path):
    """NGC's images wrap every command in an entrypoint that prints a banner to stdout first."""
    import io

    dockerfile = (f"FROM {AMD64}\n"
                  'ENTRYPOINT ["sh", "-c", "echo \'== NVIDIA-style banner ==\'; exec \\"$@\\"", "--"]\n')
    image, _ = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag="aidoctor-test-banner:latest",
                                   rm=True)
    try:
        assert client.containers.run(image.id, ["true"], remove=True).startswith(b"== NVIDIA-style banner ==")
        result = aidoctor("fleet", "collect", "--image", "aidoctor-test-banner:latest", "--offline",
                          "-o", str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert by_label(tmp_path)["image aidoctor-test-banner:latest"]["schema"] == REPORT_SCHEMA
    finally:
        client.images.remove(image.id, force=True)


# -- what comes back is not a report ---------------------------------------------------------------------------


def test_hanging_check_times_out_and_leaves_no_container(client, tmp_path):
    before = fleet_containers(client)
    start = time.monotonic()
    result = aidoctor("fleet", "collect", "--image", AMD64, "--remote-command", "sleep 600", "--host-timeout", "5",
                      "-o", str(tmp_path), timeout=60)
    elapsed = time.monotonic() - start
    assert result.returncode == 1, result.stderr
    assert elapsed < 20, f"a 5 s budget took {elapsed:.1f} s"
    record = by_label(tmp_path)[f"image {AMD64}"]
    assert record["schema"] == FAILURE_SCHEMA and record["problem"] == "timeout", record
    assert fleet_containers(client) - before == set()


def test_output_that_is_not_a_report_is_garbage(client, tmp_path):
    result = aidoctor("fleet", "collect", "--image", AMD64, "--remote-command", "echo hello", "-o", str(tmp_path))
    assert result.returncode == 1, result.stderr
    record = by_label(tmp_path)[f"image {AMD64}"]
    assert record["problem"] == "garbage", record
    assert record["reason"].startswith("not an aidoctor report: "), record


# -- no engine at all: needs neither the engine nor the images -------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("scheme", ["unix", "tcp"])
def test_engine_that_does_not_answer_is_unreachable(scheme, tmp_path):
    docker_host = "unix:///nonexistent/docker.sock" if scheme == "unix" else f"tcp://127.0.0.1:{_free_port()}"
    result = aidoctor("fleet", "collect", "--image", AMD64, "--offline", "-o", str(tmp_path),
                      env={**os.environ, "DOCKER_HOST": docker_host}, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    record = by_label(tmp_path)[f"image {AMD64}"]
    assert record["schema"] == FAILURE_SCHEMA and record["problem"] == "unreachable", record
    assert "Docker engine" in record["reason"], record
