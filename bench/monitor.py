"""The prober under load: N HTTP checks on loopback, each probed once a minute, for a while.

    .venv/bin/python bench/monitor.py [--checks 10000] [--minutes 5] [--servers 2]
                                      [--page-checks 20] [--concurrency 500]

Everything is fresh and private: a data directory and SQLite database, ``--servers`` aiohttp
processes on loopback ports answering every path (their CPU is not the prober's), N checks of
``http://127.0.0.1:PORT/e/<i>`` at a 60-second interval, the real ``ronron probe`` as a
subprocess (``--stats`` file), and ``ronron serve --no-prober --no-worker`` for the member
status page, asked every quarter of a second while the prober runs.

Measured:
- ``prober_cpu_percent``: the prober's CPU (user + system, /proc/<pid>/stat) over the run after
  its first minute, in % of one core (target ≤ 25); ``prober_cpu_percent_first_minute`` apart
  (loading the checks, first availability refresh);
- ``prober_max_rss_mib``: its peak resident memory, VmHWM (target ≤ 256);
- ``lag_p99_ms``: p99 of (actual start − planned start) of every probe of the run, from the
  prober's own figures (target ≤ 1000), and the worst minute's p99;
- ``status_page_p95_ms``: the member page ``/status/m/<token>/`` (``page_checks`` checks), seen
  from a client on loopback (target ≤ 20);
- database growth: bytes per bucket row measured with SQLite's dbstat once the run's minute
  buckets are rolled up, then ``db_growth_mib_per_day`` (one hour bucket per check and hour;
  state changes are rare and counted apart), and the constants reached once the retentions of
  ``ronron.monitoring.models`` are full: ``minute_buckets_plateau_mib`` and
  ``hour_buckets_plateau_mib``.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench.processes import Child, machine  # noqa: E402

STARTED = time.perf_counter()
INTERVAL_S = 60
MIB = 1024 * 1024


def say(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:7.1f} s] {message}", flush=True)


# -- the targets (separate processes) ------------------------------------------------------------


def serve_targets(port: int) -> None:
    """Runs in a child process: answers 200 "ok" on every path, as fast as aiohttp can."""
    from aiohttp import web

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=1024)


def start_targets(count: int) -> tuple[list[subprocess.Popen[str]], list[int]]:
    from tests.serving import free_port

    processes, ports = [], []
    for _index in range(count):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve-targets", str(port)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("a target server did not start")
        processes.append(process)
        ports.append(port)
    for port in ports:
        wait_for_http(f"http://127.0.0.1:{port}/e/0", 30)
    return processes, ports


def wait_for_http(url: str, timeout: float, process: Child | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.process.poll() is not None:
            raise process.failure("stopped")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


# -- the data ------------------------------------------------------------------------------------


def create_checks(count: int, ports: list[int], page_checks: int) -> str:
    """N checks spread over the target servers; the first ``page_checks`` belong to a member
    whose private status page is measured. Returns the page's token."""
    import secrets

    from ronron.members.models import Member
    from ronron.monitoring.models import Check, StatusPage
    from ronron.monitoring.specs import validate_check

    member = Member.objects.create(number="A0001", kind="association", name="Mon Asso")
    token = secrets.token_urlsafe(32)
    StatusPage.objects.create(member=member, public=False, token=token)
    checks = []
    for index in range(count):
        target, settings = validate_check(
            "http", f"http://127.0.0.1:{ports[index % len(ports)]}/e/{index}", {}, INTERVAL_S, 10
        )
        checks.append(
            Check(
                name=f"site {index:05d}",
                kind="http",
                target=target,
                settings=settings,
                interval_s=INTERVAL_S,
                timeout_s=10,
                member=member if index < page_checks else None,
            )
        )
    Check.objects.bulk_create(checks, batch_size=1000)
    return token


# -- measuring -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class PageTimer(threading.Thread):
    """Asks for the status page every ``every`` seconds until stopped; keeps each duration."""

    def __init__(self, url: str, every: float) -> None:
        super().__init__(daemon=True)
        self.url, self.every = url, every
        self.durations_ms: list[float] = []
        self.errors = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:  # noqa: S310
                    response.read()
                self.durations_ms.append((time.perf_counter() - started) * 1000)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                self.errors += 1


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))], 2)


def table_bytes(path: Path, table: str) -> tuple[int, int]:
    """Bytes of a table and its indexes (dbstat), and its row count."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        names = [table] + [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
            )
        ]
        size = sum(
            db.execute(
                "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = ?", (name,)
            ).fetchone()[0]
            for name in names
        )
        rows = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
    return size, rows


# -- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace, tmp: Path, cleanup: list[Any]) -> dict[str, Any]:
    import django
    from django.core.management import call_command
    from tests.serving import clean_env, free_port

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    targets, ports = start_targets(args.servers)
    cleanup.append(lambda: [stop_process(process) for process in targets])
    token = create_checks(args.checks, ports, args.page_checks)
    say(f"{args.checks} checks on {len(ports)} target servers")

    env = clean_env(tmp / "data", PYTHONPATH=f"{ROOT / 'src'}:{ROOT}")
    stats_path = tmp / "prober-stats.json"
    prober = Child(
        [
            sys.executable,
            "-m",
            "ronron",
            "probe",
            "--stats",
            str(stats_path),
            "--concurrency",
            str(args.concurrency),
        ],
        env,
    )
    cleanup.append(prober.stop)
    started = time.monotonic()
    port = free_port()
    serve = Child(
        [
            sys.executable,
            "-m",
            "ronron",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--no-worker",
            "--no-prober",
        ],
        env,
    )
    cleanup.append(serve.stop)
    page_url = f"http://127.0.0.1:{port}/status/m/{token}/"
    wait_for_http(page_url, 120, serve)
    say("prober and status page running")

    minutes: list[dict[str, Any]] = []
    seen_at = ""
    timer: PageTimer | None = None
    cpu_after_first_minute = None
    end = started + args.minutes * 60
    while time.monotonic() < end:
        time.sleep(1)
        if prober.process.poll() is not None:
            raise prober.failure("stopped")
        elapsed = time.monotonic() - started
        if cpu_after_first_minute is None and elapsed >= 60:
            cpu_after_first_minute = (cpu_seconds(prober.process.pid), time.monotonic())
            timer = PageTimer(page_url, 0.25)
            timer.start()
        with contextlib.suppress(OSError, ValueError):
            figures = json.loads(stats_path.read_text())
            if figures["at"] != seen_at:
                seen_at = figures["at"]
                minutes.append(figures)
                lag = figures["lag_ms"]
                say(
                    f"minute {len(minutes)}: {lag['probes']} probes, lag p50 {lag['p50']} ms "
                    f"p99 {lag['p99']} ms max {lag['max']} ms, cpu {figures['cpu_s']} s, "
                    f"rss {figures['max_rss_mib']} MiB, flush mean {figures['flush_ms_mean']} ms"
                )
    assert cpu_after_first_minute is not None and timer is not None
    cpu_end, at_end = cpu_seconds(prober.process.pid), time.monotonic()
    cpu_total = cpu_end
    rss = peak_rss_mib(prober.process.pid)
    timer.stopped.set()
    timer.join(15)
    prober.process.send_signal(signal.SIGTERM)
    exit_code = prober.process.wait(60)
    final = json.loads(stats_path.read_text())
    serve.stop()
    say(f"prober stopped ({exit_code}); measuring the database")

    from ronron.monitoring import store
    from ronron.monitoring.models import Bucket

    db_path = tmp / "data" / "ronron.sqlite3"
    minute_bytes, minute_rows = table_bytes(db_path, "monitoring_bucket")
    probes_stored = sum(Bucket.objects.filter(resolution="m").values_list("probes", flat=True))
    store.roll_up(datetime.now(UTC) + timedelta(hours=2))
    bucket_bytes, bucket_rows = table_bytes(db_path, "monitoring_bucket")
    hour_rows = Bucket.objects.filter(resolution="h").count()
    per_row = bucket_bytes / bucket_rows
    from ronron.monitoring.models import HOUR_RETENTION, MINUTE_RETENTION

    change_bytes, change_rows = table_bytes(db_path, "monitoring_statechange")
    measured_s = at_end - cpu_after_first_minute[1]
    lag_minutes = [m["lag_ms"]["p99"] for m in minutes if m["lag_ms"]["p99"] is not None]
    durations = timer.durations_ms
    return {
        "bench": "monitor",
        "checks": args.checks,
        "interval_s": INTERVAL_S,
        "minutes": args.minutes,
        "target_servers": args.servers,
        "concurrency": args.concurrency,
        "prober_cpu_percent": round(100 * (cpu_end - cpu_after_first_minute[0]) / measured_s, 1),
        "prober_cpu_percent_first_minute": round(100 * cpu_after_first_minute[0] / 60, 1),
        "prober_cpu_s_total": round(cpu_total, 1),
        "prober_max_rss_mib": rss,
        "probes": final["lag_ms_overall"]["probes"],
        "probes_stored": probes_stored,
        "probes_expected": round(args.checks * (final["uptime_s"] / INTERVAL_S)),
        "lag_p50_ms": final["lag_ms_overall"]["p50"],
        "lag_p99_ms": final["lag_ms_overall"]["p99"],
        "lag_max_ms": final["lag_ms_overall"]["max"],
        "lag_p99_ms_worst_minute": max(lag_minutes, default=None),
        "skipped": final["skipped"],
        "prober_errors": final["errors"],
        "flush_ms_mean": final["flush_ms_mean"],
        "flush_ms_max": final["flush_ms_max"],
        "prober_exit_code": exit_code,
        "status_page_requests": len(durations),
        "status_page_errors": timer.errors,
        "status_page_p50_ms": percentile(durations, 0.50),
        "status_page_p95_ms": percentile(durations, 0.95),
        "status_page_mean_ms": round(statistics.fmean(durations), 2) if durations else None,
        "page_checks": args.page_checks,
        "db_size_mib_after_run": round(db_path.stat().st_size / MIB, 1),
        "minute_bucket_rows_after_run": minute_rows,
        "minute_bucket_bytes_after_run": minute_bytes,
        "hour_bucket_rows_after_roll_up": hour_rows,
        "bucket_bytes_per_row": round(per_row, 1),
        "state_changes": change_rows,
        "state_change_bytes": change_bytes,
        "minute_buckets_plateau_mib": round(
            args.checks * MINUTE_RETENTION.total_seconds() / 60 * per_row / MIB, 1
        ),
        "db_growth_mib_per_day": round(args.checks * 24 * per_row / MIB, 1),
        "hour_buckets_plateau_mib": round(
            args.checks * HOUR_RETENTION.total_seconds() / 3600 * per_row / MIB, 1
        ),
        "target_cpu_percent": 25,
        "target_rss_mib": 256,
        "target_lag_p99_ms": 1000,
        "target_status_page_p95_ms": 20,
        **machine(),
    }


def stop_process(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--page-checks", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--serve-targets", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_targets:
        serve_targets(args.serve_targets)
        return
    if args.checks < 1 or args.servers < 1 or not 0 <= args.page_checks <= args.checks:
        parser.error("--checks and --servers must be at least 1, --page-checks at most --checks")
    if args.minutes < 2:
        parser.error("--minutes must be at least 2 (the first minute is warm-up)")

    tmp = Path(tempfile.mkdtemp(prefix="ronron-bench-monitor-"))
    os.environ.pop("RONRON_DATABASE_URL", None)
    os.environ["RONRON_DATA_DIR"] = str(tmp / "data")
    os.environ["DJANGO_SETTINGS_MODULE"] = "ronron.settings"
    (tmp / "data").mkdir()
    cleanup: list[Any] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        result = run(args, tmp, cleanup)
    finally:
        for undo in reversed(cleanup):
            try:
                undo()
            except Exception as exc:
                print(f"cleanup: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
