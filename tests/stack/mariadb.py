"""A real MariaDB server for the tests: a fresh data directory, reachable only through a unix
socket (no TCP), started by its own binary as the ``mysql`` user and stopped at the end of the
session. Root logs in through the socket (unix_socket authentication), as on Debian."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MARIADBD = "/usr/sbin/mariadbd"


@dataclass(frozen=True)
class MariaDB:
    base: Path
    socket: str

    def layout_overrides(self) -> dict[str, Any]:
        return {
            "mysql": ["mariadb", f"--socket={self.socket}"],
            "mysqldump": ["mariadb-dump", f"--socket={self.socket}"],
            "mysql_socket": self.socket,
        }

    def query(self, statement: str) -> str:
        """Run SQL as root; the tab-separated result without headers."""
        done = subprocess.run(
            ["mariadb", f"--socket={self.socket}", "--batch", "--skip-column-names"],
            input=statement.encode(),
            capture_output=True,
            check=True,
            timeout=60,
        )
        return done.stdout.decode()


def _wait_for_socket(socket_path: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mariadbd stopped: {log.read_text(errors='replace')[-3000:]}")
        if os.path.exists(socket_path):
            probe = subprocess.run(
                ["mariadb", f"--socket={socket_path}", "-e", "SELECT 1"],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"mariadbd did not answer: {log.read_text(errors='replace')[-3000:]}")


def start_mariadb() -> tuple[MariaDB, subprocess.Popen[bytes]]:
    # Not under pytest's tmp_path: its parents are private to root, and mariadbd runs as mysql.
    base = Path(tempfile.mkdtemp(prefix="ronron-mariadb-"))
    base.chmod(0o755)
    datadir = base / "data"
    datadir.mkdir()
    shutil.chown(datadir, "mysql", "mysql")
    log = base / "mariadbd.log"
    socket_path = str(base / "mysqld.sock")
    subprocess.run(
        [
            "mariadb-install-db",
            f"--datadir={datadir}",
            "--user=mysql",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    shutil.chown(base, "mysql", "mysql")
    process = subprocess.Popen(
        [
            MARIADBD,
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={socket_path}",
            f"--pid-file={base / 'mariadbd.pid'}",
            f"--log-error={log}",
            "--skip-networking",
            "--user=mysql",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=16M",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_socket(socket_path, process, log)
    except BaseException:
        process.kill()
        raise
    return MariaDB(base=base, socket=socket_path), process


def stop_mariadb(server: MariaDB, process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    shutil.rmtree(server.base, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    if not os.path.exists(MARIADBD):
        pytest.skip("mariadb-server is not installed (scripts/install-test-deps)")
    server, process = start_mariadb()
    try:
        yield server
    finally:
        stop_mariadb(server, process)
