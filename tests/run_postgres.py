"""Run the test suite against a real, throwaway PostgreSQL cluster (Debian's binaries).

    .venv/bin/python tests/run_postgres.py [pytest arguments…]

Creates a cluster in a temporary directory owned by the unprivileged ``postgres`` user,
listening on 127.0.0.1 on a free port (and on a socket inside that directory), creates a role
with a random password that may create databases (pytest-django creates its test database),
runs ``pytest`` with ``RONRON_DATABASE_URL`` pointing at it, then always stops the cluster and
removes the directory. Exits with pytest's exit code.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

REPO_ROOT = Path(__file__).resolve().parents[1]
CLUSTER_USER = "postgres"
PR_SET_PDEATHSIG = 1
ROLE = "ronron"
DATABASE = "ronron"

# A throwaway cluster: durability is worth nothing here, speed is.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "128MB",
    "log_min_messages": "warning",
}


class Interrupted(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _die_with_parent() -> None:
    """In the pytest child: end with this script rather than run on against a dead server."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def postgres_bin() -> Path:
    """The ``bin`` directory of the newest PostgreSQL installed from Debian's packages."""
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if not candidates:
        sys.exit(
            "run_postgres: PostgreSQL server binaries not found under /usr/lib/postgresql; "
            "run scripts/install-test-deps (Debian package 'postgresql')."
        )
    return max(candidates, key=lambda p: int(re.sub(r"\D.*", "", p.parent.name) or 0))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="ronron-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.server: subprocess.Popen[bytes] | None = None
        # initdb and postgres refuse to run as root: run them as the postgres user then.
        # setpriv execs in place (no intermediate process), so signals reach postgres itself.
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam(CLUSTER_USER)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_owner = [
                "setpriv",
                f"--reuid={owner.pw_uid}",
                f"--regid={owner.pw_gid}",
                "--init-groups",
                "--pdeathsig=INT",
                "--",
            ]
        os.chmod(self.root, 0o700)

    def _run(self, *argv: str) -> None:
        # Their chatter goes; their errors (on stderr) stay visible.
        subprocess.run(
            [*self.as_owner, *argv], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )

    def start(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            CLUSTER_USER,
            "--auth-local",
            "trust",
            "--auth-host",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--locale",
            "C.UTF-8",
            "--no-sync",
            "--no-instructions",
        )
        settings = {
            **SERVER_SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
        }
        # Appended: the last occurrence of a setting wins. The file stays the cluster owner's.
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# run_postgres.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        # The server is this script's own child (not pg_ctl's daemon), so that it is reaped
        # when it stops, and it gets SIGINT (fast shutdown) if this script is killed outright.
        with open(self.root / "server.log", "ab") as log:
            self.server = subprocess.Popen(
                [*self.as_owner, str(self.bin_dir / "postgres"), "-D", str(self.data)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            if self.server is None or self.server.poll() is not None:
                raise RuntimeError("the server exited")
            try:
                with psycopg.connect(self._admin_dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not answer in {timeout:.0f} s") from None
                time.sleep(0.1)

    def _admin_dsn(self) -> str:
        return f"host={self.root} port={self.port} user={CLUSTER_USER} dbname=postgres"

    def create_role(self) -> str:
        """Create the role and its database; return the URL that reaches them over TCP."""
        import psycopg
        from psycopg import sql

        password = secrets.token_urlsafe(24)
        with psycopg.connect(self._admin_dsn()) as conn:
            conn.autocommit = True
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(ROLE), sql.Literal(password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(ROLE)
                )
            )
        return f"postgres://{ROLE}:{password}@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGINT)  # fast shutdown: no waiting for clients
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.root / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def main(argv: list[str]) -> int:
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    cluster = Cluster(postgres_bin())
    pytest: subprocess.Popen[bytes] | None = None
    started_at = time.monotonic()
    try:
        try:
            cluster.start()
        except (subprocess.CalledProcessError, RuntimeError):
            print(f"run_postgres: PostgreSQL did not start:\n{cluster.log_tail()}", file=sys.stderr)
            return 1
        env = dict(os.environ, RONRON_DATABASE_URL=cluster.create_role())
        print(
            f"run_postgres: PostgreSQL {cluster.bin_dir.parent.name} on 127.0.0.1:{cluster.port}"
            f" ready in {time.monotonic() - started_at:.1f} s",
            flush=True,
        )
        pytest_bin = Path(sys.executable).with_name("pytest")
        pytest = subprocess.Popen(
            [str(pytest_bin), *argv], env=env, cwd=REPO_ROOT, preexec_fn=_die_with_parent
        )
        return pytest.wait()
    except (KeyboardInterrupt, Interrupted):
        # Ctrl+C reached pytest too (same process group); a SIGTERM for us is passed on.
        if pytest is not None and pytest.poll() is None:
            pytest.terminate()
            try:
                pytest.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pytest.kill()
        return 130
    finally:
        cluster.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
