"""Running ``ronron serve`` from tests: a fresh installation, started and stopped for real.

Used by the setup tests (tests/core/test_setup.py) and the browser tests: each gets its own
data directory and database, a free loopback port, and the server's output as it comes.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# The line `ronron serve` prints once, on the first start: "… admin / <password> …";
# group 1 is the user name (admin, or admin-2… if "admin" was taken), group 2 the password.
PASSWORD_LINE = re.compile(r"\b(admin(?:-\d+)?) / (\S+)")


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RONRON_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["RONRON_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> dict[int, str]:
    """Direct children of ``pid``, with their command lines."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # The command name may hold spaces or parentheses: the fields follow the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found[int(entry.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Served:
    """A ``ronron serve`` child process, its output collected as it comes."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str, port: int | None = None) -> None:
        # A port chosen beforehand lets the environment name the served address (public_url).
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ronron", "serve", "--bind", f"127.0.0.1:{self.port}", *args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def get(self, path: str) -> int:
        return self.fetch(path)[0]

    def fetch(self, path: str) -> tuple[int, bytes]:
        with urllib.request.urlopen(self.base + path, timeout=10) as response:  # noqa: S310
            return int(response.status), response.read()

    def wait_until_up(self, path: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._reader.join(5)
                pytest.fail(f"ronron serve exited with {self.process.returncode}:\n{self.output}")
            try:
                if self.get(path) == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        pytest.fail(f"ronron serve did not answer on {path} in {timeout} s:\n{self.output}")

    def children(self) -> dict[str, int]:
        by_role: dict[str, int] = {}
        for pid, cmdline in _children(self.process.pid).items():
            if "gunicorn" in cmdline:
                by_role["web"] = pid
            elif "db_worker" in cmdline:
                by_role["worker"] = pid
            elif "ronron probe" in cmdline:
                by_role["prober"] = pid
        return by_role

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._reader.join(5)

    def kill(self) -> None:
        """Clean up after a failed test: serve, and its children in their own groups."""
        groups = list(self.children().values())
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def serve_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment of a fresh installation: its own data directory and its own database.

    On the SQLite run, the database is a file in the data directory. On the PostgreSQL run
    (``RONRON_DATABASE_URL`` set), a new empty database in the same cluster, dropped afterwards.
    """
    extra = {"PYTHONPATH": str(REPO_ROOT)}
    url = os.environ.get("RONRON_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield clean_env(tmp_path / "data", **extra)
        return

    import psycopg
    from psycopg import sql

    name = f"ronron_serve_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _sep, _db = url.rpartition("/")
    try:
        yield clean_env(tmp_path / "data", RONRON_DATABASE_URL=f"{base}/{name}", **extra)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
