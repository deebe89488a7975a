"""A real PHP-FPM 8.2 master for the tests: its own configuration, pool directory, sockets and
PID file in a temporary directory, started by its own binary in the foreground (no systemd),
as root so that each pool runs as its own site user, and stopped at the end of the session.

Reload is what Debian's service does: SIGUSR2 to the master, which re-reads every pool."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PHP_FPM = "/usr/sbin/php-fpm8.2"


@dataclass(frozen=True)
class PhpFpm:
    base: Path
    config: Path
    pool_dir: Path
    run_dir: Path
    pid: int

    def layout_overrides(self) -> dict[str, Any]:
        return {
            "php_fpm_pool_dir": str(self.pool_dir),
            "php_fpm_test": [PHP_FPM, "-t", "-y", str(self.config)],
            "php_fpm_reload": ["kill", "-USR2", str(self.pid)],
            "run_dir": str(self.run_dir),
        }


def _config(base: Path, pool_dir: Path, run_dir: Path) -> str:
    # php-fpm refuses to start without a pool: a tiny idle one that is not a Ronron pool.
    return "\n".join(
        [
            "[global]",
            f"pid = {base / 'php-fpm.pid'}",
            f"error_log = {base / 'php-fpm.log'}",
            "daemonize = no",
            "",
            "[fixture-idle]",
            "user = www-data",
            "group = www-data",
            f"listen = {run_dir / 'fixture-idle.sock'}",
            "pm = ondemand",
            "pm.max_children = 1",
            "",
            f"include = {pool_dir}/*.conf",
            "",
        ]
    )


def start_phpfpm() -> tuple[PhpFpm, subprocess.Popen[bytes]]:
    # Outside pytest's tmp_path, whose parents are private to root: pools run as site users.
    base = Path(tempfile.mkdtemp(prefix="ronron-phpfpm-"))
    base.chmod(0o755)
    pool_dir, run_dir = base / "pools", base / "run"
    pool_dir.mkdir()
    run_dir.mkdir(mode=0o755)
    config = base / "php-fpm.conf"
    config.write_text(_config(base, pool_dir, run_dir))
    log = base / "php-fpm.log"
    process = subprocess.Popen(
        [PHP_FPM, "-F", "-y", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 15
    while not (run_dir / "fixture-idle.sock").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"php-fpm did not start: {text[-3000:]}")
        time.sleep(0.05)
    return PhpFpm(base, config, pool_dir, run_dir, process.pid), process


def stop_phpfpm(fpm: PhpFpm, process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGQUIT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    shutil.rmtree(fpm.base, ignore_errors=True)


@pytest.fixture(scope="session")
def phpfpm() -> Iterator[PhpFpm]:
    if not os.path.exists(PHP_FPM):
        pytest.skip("php8.2-fpm is not installed (scripts/install-test-deps)")
    fpm, process = start_phpfpm()
    try:
        yield fpm
    finally:
        stop_phpfpm(fpm, process)
