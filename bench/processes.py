"""Processes the benchmarks start and measure: ``ronron serve`` and ``db_worker`` as children
with their output kept, CPU seconds and peak memory read from /proc, and the machine's size."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Child:
    """A Ronron process of ours (``serve`` or ``db_worker``), its output kept to be shown if it
    fails (without the password the first ``serve`` prints for the new administrator)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.name = " ".join(argv[2:4])
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def failure(self, what: str) -> RuntimeError:
        from tests.serving import PASSWORD_LINE

        shown = [line for line in self.lines[-20:] if not PASSWORD_LINE.search(line)]
        return RuntimeError(f"{self.name} {what}; its last lines:\n{''.join(shown)}")

    def wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise self.failure(f"did not say {text!r}")

    def peak_rss_mib(self) -> float:
        """The largest peak resident size among the process and its descendants."""
        peaks = [_vm_hwm_kib(pid) for pid in [self.process.pid, *_descendants(self.process.pid)]]
        return round(max(peaks, default=0) / 1024, 1)

    def stop(self) -> None:
        if self.process.poll() is None:
            # Its own session: the signal reaches serve, gunicorn and its workers at once.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._reader.join(5)


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                parents[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for kid in parents.get(todo.pop(), []):
            found.append(kid)
            todo.append(kid)
    return found


def _cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_now(serve: Child) -> dict[str, float]:
    """CPU seconds used so far by this process (the worker's job runs here), by the Sympa
    processes it ran and waited for, and by ``ronron serve`` (the roster feeds)."""
    sympa = resource.getrusage(resource.RUSAGE_CHILDREN)
    web = [serve.process.pid, *_descendants(serve.process.pid)]
    return {
        "ronron": time.process_time(),
        "sympa": sympa.ru_utime + sympa.ru_stime,
        "web": _cpu_seconds(web),
    }


def cpu_used(before: dict[str, float], after: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}_{key}_cpu_s": round(after[key] - before[key], 2) for key in before}


def _vm_hwm_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def start_serve(data_dir: Path, web_processes: int) -> tuple[Child, str]:
    from tests.serving import clean_env, free_port

    port = free_port()
    argv = [sys.executable, "-m", "ronron", "serve", "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", str(web_processes), "--no-worker", "--no-prober"]
    env = clean_env(data_dir, PYTHONPATH=str(ROOT))
    return Child(argv, env), f"http://127.0.0.1:{port}"


def wait_until_up(serve: Child, base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if serve.process.poll() is not None:
            raise serve.failure("stopped")
        try:
            with urllib.request.urlopen(base + "/rosters/feed/0/", timeout=5):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return  # 401/404: it answers
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise serve.failure(f"did not answer in {timeout} s")


def machine() -> dict[str, Any]:
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
