"""A real nginx on 127.0.0.1 for the tests: run as root from a temporary prefix (its own
nginx.conf, PID file, logs and temp paths), workers as www-data, sites included from
``<base>/sites/*.conf``, started by its own binary (no systemd) and stopped at the end.

``start_nginx``/``stop_nginx``/``fetch`` are plain functions so that ``bench/provision.py``
can use them without pytest.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NGINX = "/usr/sbin/nginx"
# Test sites and their system users carry this prefix, so that cleaning up never touches
# anything else on the machine.
TEST_PREFIX = "t-"


@dataclass(frozen=True)
class NginxStack:
    base: Path
    conf: Path
    port: int
    https_port: int

    @property
    def sites_dir(self) -> Path:
        return self.base / "sites"

    @property
    def layout(self) -> dict[str, Any]:
        """Overrides for ``Server.layout``: everything under the temporary prefix."""
        conf = str(self.conf)
        return {
            "nginx_sites_dir": str(self.sites_dir),
            "nginx_reload": ["nginx", "-c", conf, "-s", "reload"],
            "nginx_test": ["nginx", "-t", "-q", "-c", conf],
            "http_port": self.port,
            "https_port": self.https_port,
            # No certificate authority by default: the TLS tests turn ACME on (pebble).
            "acme": False,
            "listen_address": "127.0.0.1",
            "sites_root": str(self.base / "srv" / "sites"),
            "suspended_root": str(self.base / "srv" / "suspended"),
            "acme_root": str(self.base / "srv" / "acme"),
            "certs_dir": str(self.base / "certs"),
            "run_dir": str(self.base / "run"),
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(base: Path, port: int) -> str:
    temp = base / "temp"
    return f"""user www-data;
worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log;
events {{
    worker_connections 256;
}}
http {{
    include mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen 127.0.0.1:{port} default_server;
        return 444;
    }}
    include {base}/sites/*.conf;
}}
"""


def start_nginx(base: Path | None = None) -> tuple[NginxStack, subprocess.Popen[bytes]]:
    # Under /tmp and traversable: www-data workers read the sites' files below it.
    base = base or Path(tempfile.mkdtemp(prefix="ronron-nginx-", dir="/tmp"))
    base.chmod(0o755)
    for sub in ("sites", "temp", "srv", "srv/sites", "srv/suspended", "srv/acme", "certs", "run"):
        (base / sub).mkdir(parents=True, exist_ok=True)
        (base / sub).chmod(0o755)
    for name in ("mime.types", "fastcgi_params"):
        shutil.copy(f"/etc/nginx/{name}", base / name)
    stack = NginxStack(base, base / "nginx.conf", free_port(), free_port())
    stack.conf.write_text(_config(base, stack.port))
    process = subprocess.Popen(
        [NGINX, "-c", str(stack.conf), "-e", str(base / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"nginx stopped: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", stack.port), timeout=0.5):
                return stack, process
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise RuntimeError("nginx did not answer")


def stop_nginx(stack: NginxStack, process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    shutil.rmtree(stack.base, ignore_errors=True)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def fetch(port: int, host: str, path: str = "/") -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host})
        answer = connection.getresponse()
        return Response(answer.status, dict(answer.getheaders()), answer.read())
    finally:
        connection.close()


def fetch_until(
    port: int, host: str, path: str = "/", *, status: int, contains: str = "", timeout: float = 5
) -> Response:
    """nginx reloads asynchronously (``-s reload`` only sends a signal): wait for the answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = fetch(port, host, path)
        except (OSError, http.client.HTTPException):
            response = Response(0, {}, b"")
        if response.status == status and contains in response.text:
            return response
        if time.monotonic() > deadline:
            return response
        time.sleep(0.01)


def workers(base: Path) -> set[int]:
    """The PIDs of the master's children (its workers, old and new)."""
    try:
        master = int((base / "nginx.pid").read_text())
    except (OSError, ValueError):
        return set()
    children = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                children.add(int(proc.name))
    return children


def wait_for_reload(base: Path, before: set[int], timeout: float = 10) -> None:
    """``nginx -s reload`` only sends a signal: wait until every worker that ran before it has
    been replaced, so that no request reaches the old configuration."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = workers(base)
        if now and not now & before:
            return
        time.sleep(0.005)
    raise RuntimeError("nginx did not reload")


def cleanup_sites(stack: NginxStack) -> None:
    """Remove what tests made: site files, nginx blocks, ``site-t-*`` users and groups."""
    for path in stack.sites_dir.glob("ronron-*.conf"):
        path.unlink()
    for sub in ("srv/sites", "run", "certs"):
        for path in (stack.base / sub).iterdir():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    # Only the users of this stack (their home is below it): another test session may be
    # running on the same machine with its own.
    passwd = subprocess.run(["getent", "passwd"], capture_output=True, text=True).stdout
    for line in passwd.splitlines():
        fields = line.split(":")
        if fields[0].startswith(f"site-{TEST_PREFIX}") and fields[5].startswith(f"{stack.base}/"):
            subprocess.run(["userdel", fields[0]], capture_output=True)
            subprocess.run(["groupdel", fields[0]], capture_output=True)
    before = workers(stack.base)
    reloaded = subprocess.run(
        ["nginx", "-c", str(stack.conf), "-s", "reload"], capture_output=True, check=False
    )
    if reloaded.returncode == 0 and before:
        wait_for_reload(stack.base, before)


def make_server(stack: NginxStack, name: str = "web-test") -> Any:
    """A local web server whose layout points at this nginx."""
    from ronron.fleet.actions import create_server

    return create_server(actor=None, name=name, host_kind="local", roles="web", layout=stack.layout)


@pytest.fixture(scope="session")
def nginx_stack() -> Iterator[NginxStack]:
    if not os.path.exists(NGINX):
        pytest.skip("nginx is not installed (scripts/install-test-deps)")
    if os.geteuid() != 0:
        pytest.skip("the nginx stack runs as root (system users, www-data workers)")
    stack, process = start_nginx()
    try:
        yield stack
    finally:
        cleanup_sites(stack)
        stop_nginx(stack, process)


@pytest.fixture
def web_server(nginx_stack: NginxStack, db: None) -> Iterator[Any]:
    """A ``Server`` (local, role web) on the test nginx; every site made on it is removed after
    the test."""
    cleanup_sites(nginx_stack)
    try:
        yield make_server(nginx_stack)
    finally:
        cleanup_sites(nginx_stack)
