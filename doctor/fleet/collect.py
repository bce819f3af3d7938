"""`aidoctor fleet collect`: run `aidoctor report` on many machines at once and keep one file per machine.

Targets are SSH hosts (the system's OpenSSH client, never a password
prompt) and Docker images or running containers (the `docker` package, on
the local engine or the one DOCKER_HOST names). By default the machine needs
only python3 >= 3.10: aidoctor travels as a zip (`zipapp.build`), on ssh's
stdin or into the container. `--remote-command` runs an installed aidoctor
instead.

Every target gets a file in the output folder: its report, or a
`aidoctor.collect-failure/1` record saying why there is none (unreachable,
timeout, garbage, failed). One target's failure never stops the others.
The argv and records are built by pure functions (`ssh_argv`,
`remote_shell_command`, `classify`); `collect` runs them, bounded in
concurrency and in time per target.
"""

from __future__ import annotations

import enum
import io
import json
import re
import shlex
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Protocol

from ..core.errors import BadInput, MissingExtra
from ..core.jsonio import utc_timestamp, write_output
from ..core.system import Captured, LiveSystem
from .reportfile import FAILURE_SCHEMA, MAX_LABEL_CHARS, MAX_REPORT_BYTES, Failure, NotAReport, decode_json, from_data

# ssh(1) "exits with 255 if an error occurred" in ssh itself, not in the remote command; the Docker transport
# answers the same for an engine or a container it cannot reach.
UNREACHABLE = 255


class Via(str, enum.Enum):
    """How a target's report is fetched; the value is what failure records and reports name."""

    SSH = "ssh"
    DOCKER_IMAGE = "docker-image"  # a new container from an image, removed afterwards
    DOCKER_CONTAINER = "docker-container"  # a running container


class Problem(str, enum.Enum):
    """Why a target gave no report (the `problem` of a failure record)."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    GARBAGE = "garbage"  # output that is no aidoctor report
    FAILED = "failed"  # the remote command exited non-zero


@dataclass(frozen=True)
class Target:
    via: Via
    address: str  # ssh destination (user@host or an ssh_config alias), image reference, or container name
    label: str | None = None
    port: int | None = None

    @property
    def name(self) -> str:
        return self.label or self.address + (f":{self.port}" if self.port else "")


@dataclass(frozen=True)
class CollectOptions:
    remote_command: str | None = None  # None: send aidoctor's zip and run it with remote_python
    remote_python: str = "python3"
    report_args: tuple[str, ...] = ()  # appended to the zip's `report -o -`, e.g. --offline
    ssh_config: Path | None = None
    ssh_options: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    host_timeout: float = 300.0
    jobs: int = 16
    docker_platform: str | None = None
    docker_gpus: bool = False


@dataclass(frozen=True)
class Outcome:
    target: Target
    path: Path
    seconds: float
    failure: Failure | None = None  # None: a report was saved


# -- hosts files -----------------------------------------------------------------------------------------------

_HOST_PORT = re.compile(r"^(?P<host>\[[^\]]+\]|[^:\s\[\]]+)(?::(?P<port>\d+))?$")


def parse_hosts(text: str, source: str) -> list[Target]:
    """One host per line, `DESTINATION [LABEL]`; `#` starts a comment.

    DESTINATION is what ssh takes (`host`, `user@host`, an alias from ssh_config), optionally with `:PORT`
    (`[::1]:2222` for IPv6). The label may contain spaces.
    """
    targets = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        destination, _, label = line.partition(" ")
        targets.append(parse_destination(destination, f"{source}:{number}", label.strip() or None))
    return targets


def parse_destination(destination: str, where: str, label: str | None = None) -> Target:
    user, at, host_port = destination.rpartition("@")
    match = _HOST_PORT.match(host_port)
    if match is None or (at and not user) or destination.startswith("-"):
        raise BadInput(f"{where}: {destination!r} is not an ssh destination ([user@]host[:port])")
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port < 65536:
        raise BadInput(f"{where}: port {port} is out of range")
    if label is not None and len(label) > MAX_LABEL_CHARS:
        raise BadInput(f"{where}: the label is longer than {MAX_LABEL_CHARS} characters")
    host = match["host"].strip("[]")
    return Target(Via.SSH, f"{user}{at}{host}", label, port)


def read_hosts_file(path: Path) -> list[Target]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"hosts file {path}: no such file") from None
    except UnicodeDecodeError:
        raise BadInput(f"hosts file {path}: not UTF-8 text") from None
    except OSError as exc:
        raise BadInput(f"hosts file {path}: {exc.strerror or exc}") from None
    targets = parse_hosts(text, str(path))
    if not targets:
        raise BadInput(f"hosts file {path}: no hosts in it (one `[user@]host[:port] [label]` per line)")
    return targets


# -- commands --------------------------------------------------------------------------------------------------


def report_args(options: CollectOptions) -> list[str]:
    return ["report", "-o", "-", *options.report_args]


def remote_shell_command(options: CollectOptions, pyz_name: str) -> str:
    """What the remote shell runs: the given command, or save the zip from stdin to a private temp dir and run it."""
    if options.remote_command is not None:
        return options.remote_command
    run = " ".join([shlex.quote(options.remote_python), f'"$d"/{pyz_name}', *map(shlex.quote, report_args(options))])
    return f'd=$(mktemp -d) || exit 1; trap \'rm -rf "$d"\' EXIT; cat > "$d"/{pyz_name} && {run}'


def ssh_argv(target: Target, options: CollectOptions, remote: str) -> list[str]:
    argv = ["ssh", "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, round(options.connect_timeout))}",
            # A host that stops answering mid-report is dropped instead of waited on until the budget ends.
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
    if options.ssh_config is not None:
        argv += ["-F", str(options.ssh_config)]
    for option in options.ssh_options:
        argv += ["-o", option]
    if target.port is not None:
        argv += ["-p", str(target.port)]
    return argv + ["--", target.address, remote]


# -- judging what came back ------------------------------------------------------------------------------------


def classify(target: Target, captured: Captured, options: CollectOptions) -> tuple[dict | None, Failure | None]:
    """The saved report (with the label stamped in) or the failure record for what one target returned."""
    def failed(problem: Problem, reason: str) -> tuple[None, Failure]:
        return None, Failure(target.name, target.address, target.via.value, problem.value, reason)

    last_error = _last_line(captured.stderr)
    if captured.error is not None:
        return failed(Problem.UNREACHABLE if captured.returncode == UNREACHABLE else Problem.FAILED, captured.error)
    if captured.timed_out:
        return failed(Problem.TIMEOUT, f"no report within {options.host_timeout:g} s, the per-host budget"
                      + (f" ({last_error})" if last_error else ""))
    if captured.overflow:
        return failed(Problem.GARBAGE, f"more than {MAX_REPORT_BYTES >> 20} MiB of output; a report is far smaller")
    if target.via is Via.SSH and captured.returncode == UNREACHABLE:
        return failed(Problem.UNREACHABLE, last_error or "ssh exited with 255 and said nothing")
    if captured.returncode != 0:
        return failed(Problem.FAILED, f"the remote command exited with {captured.returncode}"
                      + (f": {last_error}" if last_error else ""))
    try:
        report = decode_json(captured.stdout)
        if not isinstance(from_data(report, target.name), Failure):
            if target.label is not None:
                report["label"] = target.label
            return report, None
        reason = "a collect-failure record, not a report"
    except NotAReport as exc:
        reason = str(exc)
    return failed(Problem.GARBAGE, f"not an aidoctor report: {reason}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def failure_record(failure: Failure, seconds: float) -> dict:
    return {"schema": FAILURE_SCHEMA, "label": failure.name, "target": failure.source, "via": failure.via,
            "problem": failure.problem, "reason": failure.reason, "seconds": round(seconds, 2),
            "created_at": utc_timestamp()}


def file_names(targets: Iterable[Target]) -> list[str]:
    """A distinct, safe file name per target, from its label or address."""
    names: list[str] = []
    for target in targets:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", target.name).strip("._")[:100] or "host"
        name, n = f"{stem}.json", 1
        while name in names:
            n += 1
            name = f"{stem}-{n}.json"
        names.append(name)
    return names


# -- running ---------------------------------------------------------------------------------------------------


class Reporter(Protocol):
    def started(self, target: Target) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...


class Transport(Protocol):
    def fetch(self, target: Target, options: CollectOptions, cancel: threading.Event) -> Captured: ...


class SshTransport:
    def __init__(self, system: LiveSystem | None = None) -> None:
        self.system = system or LiveSystem()

    def fetch(self, target: Target, options: CollectOptions, cancel: threading.Event) -> Captured:
        from . import zipapp

        payload = b"" if options.remote_command is not None else zipapp.build()
        remote = remote_shell_command(options, zipapp.file_name() if payload else "")
        return self.system.capture(ssh_argv(target, options, remote), options.host_timeout, MAX_REPORT_BYTES,
                                   stdin=payload, cancel=cancel)


def collect(targets: list[Target], out_dir: Path, options: CollectOptions, reporter: Reporter,
            transports: dict[Via, Transport] | None = None) -> list[Outcome]:
    """Fetch every target's report, at most `options.jobs` at a time, and write one file per target."""
    if options.remote_command is None:
        from . import zipapp

        zipapp.build()  # once, before the threads: each would otherwise wait on the first to build it
    transports = transports or {Via.SSH: SshTransport(), Via.DOCKER_IMAGE: DockerTransport(),
                                Via.DOCKER_CONTAINER: DockerTransport()}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"--output {out_dir}: {exc.strerror or exc}") from None
    paths = [out_dir / name for name in file_names(targets)]
    cancel = threading.Event()

    def one(target: Target, path: Path) -> Outcome:
        reporter.started(target)
        start = time.monotonic()
        try:
            captured = transports[target.via].fetch(target, options, cancel)
        except Exception as exc:  # an engine or library error on one target must not end the others
            captured = Captured((target.via.value,), None, error=f"{type(exc).__name__}: {exc}")
        report, failure = classify(target, captured, options)
        seconds = time.monotonic() - start
        data = report if failure is None else failure_record(failure, seconds)
        write_output(path, json.dumps(data, indent=2) + "\n")
        return Outcome(target, path, seconds, failure)

    outcomes = []
    pool = ThreadPoolExecutor(max_workers=max(1, options.jobs), thread_name_prefix="collect")
    try:
        futures = [pool.submit(one, target, path) for target, path in zip(targets, paths)]
        for future in as_completed(futures):
            outcome = future.result()
            reporter.finished(outcome)
            outcomes.append(outcome)
    except BaseException:  # Ctrl-C: stop the hosts not yet started, kill the running ones, then leave
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return sorted(outcomes, key=lambda o: str(o.path))


# -- Docker ----------------------------------------------------------------------------------------------------


class DockerTransport:
    """The check inside a new container of an image, or inside a running container, through the Docker API."""

    def fetch(self, target: Target, options: CollectOptions, cancel: threading.Event) -> Captured:
        import docker  # only a Docker collect pays for importing it
        from docker.errors import DockerException, NotFound

        deadline = time.monotonic() + options.host_timeout
        try:
            # The HTTP timeout bounds each API call; the loops below bound the whole target by `deadline`.
            client = docker.from_env(timeout=max(1, round(options.host_timeout)))
        except DockerException as exc:
            return Captured((target.address,), UNREACHABLE, error=f"cannot reach the Docker engine: {_short(exc)}")
        try:
            if target.via is Via.DOCKER_IMAGE:
                return self._in_new_container(client, target, options, deadline, cancel)
            return self._in_running_container(client, target, options, deadline, cancel)
        except NotFound as exc:
            return Captured((target.address,), UNREACHABLE, error=f"Docker: {_short(exc.explanation or exc)}")
        except DockerException as exc:
            return Captured((target.address,), None, error=f"Docker: {_short(getattr(exc, 'explanation', None) or exc)}")
        finally:
            client.close()

    def _in_new_container(self, client, target: Target, options: CollectOptions, deadline: float,
                          cancel: threading.Event) -> Captured:
        from docker.errors import ImageNotFound
        from docker.types import DeviceRequest

        workdir = _container_workdir()
        # The entrypoint is replaced: an image's own (NGC's prints a banner) would wrap or garble the report.
        if options.remote_command is None:
            entrypoint, command = [options.remote_python], [f"{workdir}/{_pyz_name()}", *report_args(options)]
        else:
            entrypoint, command = ["sh", "-c"], [options.remote_command]  # a shell, as over SSH
        gpus = [DeviceRequest(count=-1, capabilities=[["gpu"]])] if options.docker_gpus else None

        def create():
            return client.containers.create(target.address, command, entrypoint=entrypoint, detach=True,
                                            platform=options.docker_platform, device_requests=gpus,
                                            labels={"org.aidoctor": "fleet-collect"})

        try:
            container = create()
        except ImageNotFound:  # as `docker run` does: pull it once, then create
            client.images.pull(target.address, platform=options.docker_platform)
            container = create()
        argv = (*entrypoint, *command)
        try:
            if options.remote_command is None:
                container.put_archive("/", _pyz_tar(workdir))
            container.start()
            while True:  # short waits, so a deadline or a Ctrl-C (cancel) is noticed
                if time.monotonic() >= deadline or cancel.is_set():
                    return Captured(argv, None, timed_out=True)
                status = _wait(container)
                if status is not None:
                    break
            stdout = _bounded(container.logs(stdout=True, stderr=False, stream=True), MAX_REPORT_BYTES + 1)
            stderr = _bounded(container.logs(stdout=False, stderr=True, stream=True), 1 << 16)
            return Captured(argv, int(status.get("StatusCode", -1)), stdout, stderr.decode("utf-8", "replace"),
                            overflow=len(stdout) > MAX_REPORT_BYTES)
        finally:
            container.remove(force=True)

    def _in_running_container(self, client, target: Target, options: CollectOptions, deadline: float,
                              cancel: threading.Event) -> Captured:
        """A detached exec writing to files in a private folder: its status can be polled (to notice the
        deadline), its output read with its size known first, and the folder removed afterwards."""
        container = client.containers.get(target.address)
        if container.status != "running":
            return Captured((target.address,), UNREACHABLE, error=f"container {target.address} is {container.status}")
        workdir = _container_workdir()
        # Made by the exec's own user, who must write the output there; the zip comes in after, readable.
        made = container.exec_run(["mkdir", "-m", "700", workdir])
        if made.exit_code != 0:
            return Captured((target.address,), None, error=f"cannot make {workdir} in {target.address}: "
                                                           f"{_short(made.output.decode('utf-8', 'replace'))}")
        if options.remote_command is None:
            command = " ".join(shlex.quote(a) for a in [options.remote_python, f"{workdir}/{_pyz_name()}",
                                                        *report_args(options)])
            container.put_archive(workdir, _pyz_tar(None))
        else:
            command = options.remote_command
        script = f"echo $$ > {workdir}/pid && exec sh -c {shlex.quote(command)} > {workdir}/out 2> {workdir}/err"
        argv = ("sh", "-c", script)
        try:
            exec_id = client.api.exec_create(container.id, list(argv))["Id"]
            client.api.exec_start(exec_id, detach=True)
            while client.api.exec_inspect(exec_id).get("Running", True):
                if time.monotonic() >= deadline or cancel.is_set():
                    # The engine starts each exec as its own process group: kill the group, children included
                    # (dash, the usual /bin/sh, takes no `--` before a negative pid).
                    client.api.exec_start(client.api.exec_create(
                        container.id, ["sh", "-c", f"kill -9 -$(cat {workdir}/pid)"])["Id"], detach=True)
                    return Captured(argv, None, timed_out=True)
                time.sleep(0.2)
            returncode = client.api.exec_inspect(exec_id).get("ExitCode")
            stdout = _read_file(container, f"{workdir}/out", MAX_REPORT_BYTES)
            stderr = _read_file(container, f"{workdir}/err", 1 << 16)
            return Captured(argv, returncode, stdout, stderr.decode("utf-8", "replace"),
                            overflow=len(stdout) > MAX_REPORT_BYTES)
        finally:  # the user's container keeps nothing of ours
            client.api.exec_start(client.api.exec_create(container.id, ["rm", "-rf", workdir])["Id"], detach=True)


def _container_workdir() -> str:
    import uuid

    return f"/tmp/aidoctor-collect-{uuid.uuid4().hex[:12]}"


def _wait(container) -> dict | None:
    """The exit status, or None when the container still runs after a second."""
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import ReadTimeout

    try:
        return container.wait(timeout=1)
    except (ReadTimeout, RequestsConnectionError):
        return None


def _bounded(chunks: Iterable[bytes], limit: int) -> bytes:
    """At most `limit` bytes of a stream: a target that prints gigabytes must not fill the collector's memory."""
    kept = bytearray()
    for chunk in chunks:
        kept.extend(chunk)
        if len(kept) >= limit:
            break
    return bytes(kept[:limit])


def _read_file(container, path: str, limit: int) -> bytes:
    """A file from the container: whole when within `limit`, else its first `limit + 1` bytes (an overflow)."""
    bits, stat = container.get_archive(path)
    if stat.get("size", 0) > limit:
        return b"\0" * (limit + 1)  # what matters is that it is too large; its content is not read
    archive = tarfile.open(fileobj=io.BytesIO(_bounded(bits, limit + (1 << 20))))
    member = archive.next()
    handle = archive.extractfile(member) if member is not None else None
    return handle.read() if handle is not None else b""


def _pyz_name() -> str:
    from . import zipapp

    return zipapp.file_name()


def _pyz_tar(folder: str | None) -> bytes:
    """A tar holding the zip: in `folder` (made by it, for unpacking at /), or bare (for an existing folder).
    Readable by all: the image's or exec's user may not be root."""
    from . import zipapp

    payload = zipapp.build()
    prefix = "" if folder is None else folder.lstrip("/") + "/"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        if folder is not None:
            entry = tarfile.TarInfo(folder.lstrip("/"))
            entry.type, entry.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(entry)
        info = tarfile.TarInfo(prefix + _pyz_name())
        info.size, info.mode = len(payload), 0o644
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def _short(exc: object) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def docker_targets(images: Iterable[str], containers: Iterable[str]) -> list[Target]:
    """The Docker targets; MissingExtra, before anything is collected, when there are some and no Docker SDK."""
    targets = ([Target(Via.DOCKER_IMAGE, image, label=f"image {image}") for image in images]
               + [Target(Via.DOCKER_CONTAINER, name, label=f"container {name}") for name in containers])
    if targets:
        try:
            import docker  # noqa: F401  (imported again by DockerTransport, which only a Docker collect reaches)
        except ImportError:
            raise MissingExtra("fleet collect --image/--container needs the Docker SDK: "
                               "pip install 'aidoctor[fleet]'") from None
    return targets
