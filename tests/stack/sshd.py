"""A real OpenSSH server on 127.0.0.1 for the tests: its own host key, config, authorised key
and PID file in a temporary directory, started by its own binary (no systemd) and stopped at
the end of the session."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class SSHServer:
    host: str
    port: int
    user: str
    private_key: str
    host_key: str
    # Also authorised: the same account with an RSA key, since hosters still use those.
    rsa_private_key: str = ""

    def __iter__(self) -> Iterator[object]:
        # (host, port, user, private_key_text, host_key_line), as the fixture's contract says.
        return iter((self.host, self.port, self.user, self.private_key, self.host_key))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keygen(path: Path, kind: str = "ed25519") -> None:
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "ronron-test", "-f", str(path)]
    if kind == "rsa":
        args[4:4] = ["-b", "2048"]
    subprocess.run(args, check=True, capture_output=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd stopped: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not answer: {log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    if not os.path.exists(SSHD):
        pytest.skip("openssh-server is not installed (scripts/install-test-deps)")
    base = tmp_path_factory.mktemp("sshd")
    keygen(base / "host_ed25519")
    keygen(base / "client_ed25519")
    keygen(base / "client_rsa", "rsa")
    (base / "authorized_keys").write_text(
        (base / "client_ed25519.pub").read_text() + (base / "client_rsa.pub").read_text()
    )
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"Port {port}",
                f"HostKey {base / 'host_ed25519'}",
                f"PidFile {base / 'sshd.pid'}",
                f"AuthorizedKeysFile {base / 'authorized_keys'}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "UsePAM no",
                "StrictModes no",
                "Subsystem sftp internal-sftp",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    # sshd refuses to start without its privilege-separation directory (systemd makes it).
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = base / "sshd.log"
    with log.open("wb") as log_handle:
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=log_handle, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_port(port, process, log)
        host_key = (base / "host_ed25519.pub").read_text().strip()
        yield SSHServer(
            host="127.0.0.1",
            port=port,
            user="root",
            private_key=(base / "client_ed25519").read_text(),
            host_key=host_key,
            rsa_private_key=(base / "client_rsa").read_text(),
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
