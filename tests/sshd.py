"""A real OpenSSH server on loopback, with several "hosts" behind it, for fleet tests and the collect benchmark.

One sshd listens on several ports; `Match LocalPort` gives each port its
behaviour, so each port is a host: a normal one runs whatever the client
asks, others answer garbage or hang after login. Two more ports stand for
hosts that never answer (a listener that accepts and stays silent) and that
refuse (nothing listens). Keys and known_hosts are made here, so the client
runs with BatchMode and strict host key checking, as `fleet collect` does.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def available() -> str | None:
    """None when a test sshd can run here, else why not."""
    for tool in (SSHD, shutil.which("ssh"), shutil.which("ssh-keygen")):
        if not tool or not os.path.exists(tool):
            return "OpenSSH is not installed (apt-get install openssh-server openssh-client)"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SilentListener:
    """Accepts TCP connections and never says a word: a host whose sshd hangs before its banner."""

    port: int = field(default_factory=free_port)
    _sock: socket.socket | None = None
    _held: list[socket.socket] = field(default_factory=list)

    def start(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)

    def stop(self) -> None:
        for conn in self._held:
            conn.close()
        if self._sock is not None:
            self._sock.close()


@dataclass
class LoopbackSshd:
    root: Path
    behaviours: dict[str, str | None]  # host name -> ForceCommand (None: run what the client asks)
    ports: dict[str, int] = field(default_factory=dict)
    user: str = field(default_factory=getpass.getuser)
    process: subprocess.Popen | None = None

    @property
    def ssh_config(self) -> Path:
        return self.root / "ssh_config"

    def start(self, timeout: float = 10.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        host_key, client_key = self.root / "host_key", self.root / "client_key"
        for key in (host_key, client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        (self.root / "authorized_keys").write_text((self.root / "client_key.pub").read_text())
        self.ports = {name: free_port() for name in self.behaviours}
        config = [f"HostKey {host_key}", f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
                  f"PidFile {self.root / 'sshd.pid'}", "ListenAddress 127.0.0.1", "PasswordAuthentication no",
                  "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "PermitRootLogin prohibit-password",
                  f"AllowUsers {self.user}", "LogLevel ERROR",
                  # Every "host" here shares one sshd, whose default (10 unauthenticated connections at once)
                  # would drop a wide collect that real hosts, each with its own sshd, would take.
                  "MaxStartups 200"]
        config += [f"Port {port}" for port in self.ports.values()]
        for name, command in self.behaviours.items():  # Match blocks go last: they run to the end of the file
            if command is not None:
                config += [f"Match LocalPort {self.ports[name]}", f"    ForceCommand {command}"]
        (self.root / "sshd_config").write_text("\n".join(config) + "\n")
        public_host_key = (self.root / "host_key.pub").read_text().split()
        (self.root / "known_hosts").write_text("".join(
            f"[127.0.0.1]:{port} {public_host_key[0]} {public_host_key[1]}\n" for port in self.ports.values()))
        self.ssh_config.write_text(
            f"Host *\n  User {self.user}\n  IdentityFile {client_key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.root / 'known_hosts'}\n  StrictHostKeyChecking yes\n")
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.root / "sshd_config")],
                                        stdout=subprocess.DEVNULL, stderr=open(self.root / "sshd.log", "wb"))
        deadline = time.monotonic() + timeout
        for port in self.ports.values():
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()[-2000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"sshd did not listen on {port} within {timeout} s") from None
                    time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
