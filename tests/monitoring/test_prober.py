"""The prober and what it stores: state changes once per change, minute buckets rolled into
hours, targets on loopback that go down and come back, and ``ronron probe`` as a real process
(sharded, killed, restarted)."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ronron.monitoring import store
from ronron.monitoring.models import Bucket, Check, StateChange
from ronron.monitoring.prober import Prober, Shard
from ronron.monitoring.probes import Outcome
from tests.serving import REPO_ROOT

T0 = datetime(2026, 1, 5, 10, 0, 5, tzinfo=UTC)


def _check(name: str = "monasso.fr — site web", **fields: Any) -> Check:
    values: dict[str, Any] = {"kind": "http", "target": "https://monasso.fr/", **fields}
    return Check.objects.create(name=name, **values)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _history(check: Check) -> list[tuple[str, datetime]]:
    return [(change.status, change.at) for change in check.changes.order_by("at", "pk")]


# -- store.record --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_status_change_is_recorded_once_and_minutes_are_counted() -> None:
    check, other = _check(), _check("autre")
    pk = check.pk

    assert (
        store.record(
            [
                Outcome(pk, _at(0), "up", 100, "HTTP 200"),
                Outcome(pk, _at(20), "up", 300, "HTTP 200"),
            ],
            in_maintenance=set(),
        )
        == []
    )
    check.refresh_from_db()
    assert _history(check) == [("up", _at(0))]
    assert (check.status, check.status_since, check.last_checked_at) == ("up", _at(0), _at(20))
    assert (check.consecutive_successes, check.consecutive_failures) == (2, 0)
    assert (check.last_latency_ms, check.last_message) == (300, "HTTP 200")

    # Failures: counted, one change, and the alerts are told about the check.
    changed = store.record(
        [
            Outcome(pk, _at(40), "down", None, "Connection refused."),
            Outcome(pk, _at(60), "down", 50, "HTTP 503 (expected 200-399)."),
            Outcome(other.pk, _at(60), "up", 10, "HTTP 200"),
            Outcome(999_999, _at(60), "down", None, "a check deleted meanwhile"),
        ],
        in_maintenance={pk},
    )
    assert changed == [pk]
    check.refresh_from_db()
    assert _history(check) == [("up", _at(0)), ("down", _at(40))]
    assert (check.status, check.status_since) == ("down", _at(40))
    assert (check.consecutive_failures, check.consecutive_successes) == (2, 0)
    assert check.last_message == "HTTP 503 (expected 200-399)."

    # Slow counts as a success for alerting; the streak of failures is broken.
    assert store.record([Outcome(pk, _at(80), "degraded", 900, "slow")], in_maintenance=set()) == [
        pk
    ]
    assert (
        store.record([Outcome(pk, _at(100), "degraded", 700, "slow")], in_maintenance=set()) == []
    )
    check.refresh_from_db()
    assert _history(check) == [("up", _at(0)), ("down", _at(40)), ("degraded", _at(80))]
    assert (check.status_since, check.consecutive_successes, check.consecutive_failures) == (
        _at(80),
        2,
        0,
    )

    buckets = {
        bucket.start: (bucket.probes, bucket.failures, bucket.latency_sum_ms, bucket.latency_max_ms)
        for bucket in Bucket.objects.filter(endpoint=check, resolution="m")
    }
    minute = T0.replace(second=0)
    # Latency sums cover the probes that did not fail.
    assert buckets == {
        minute: (3, 1, 400, 300),
        minute + timedelta(minutes=1): (3, 1, 1600, 900),
    }
    assert Bucket.objects.get(endpoint=other).probes == 1
    assert _history(other) == [("up", _at(60))]


@pytest.mark.django_db
def test_an_open_alert_hears_about_every_probe() -> None:
    check = _check(alert_open=True)
    assert store.record([Outcome(check.pk, _at(0), "up", 5, "ok")], in_maintenance=set()) == [
        check.pk
    ]


# -- store.roll_up -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_roll_up_makes_hour_buckets_and_keeps_storage_bounded() -> None:
    check = _check()
    now = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
    outcomes = []
    # 09:00–11:59 every 20 s: down between 10:00 and 10:05, latency = minute of the hour.
    moment = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    while moment < datetime(2026, 3, 10, 12, 0, tzinfo=UTC):
        failed = moment.hour == 10 and moment.minute < 5
        outcomes.append(
            Outcome(
                check.pk, moment, "down" if failed else "up", None if failed else moment.minute, ""
            )
        )
        moment += timedelta(seconds=20)
    store.record(outcomes, in_maintenance=set())
    old_minute = now - timedelta(days=3)
    store.record([Outcome(check.pk, old_minute, "up", 1, "")], in_maintenance=set())
    Bucket.objects.create(
        endpoint=check, resolution="h", start=now - timedelta(days=401), probes=180
    )
    # State changes: three beyond 400 days (only the last one stays), one recent.
    long_ago = now - timedelta(days=500)
    for days, status in ((0, "up"), (10, "down"), (20, "up")):
        StateChange.objects.create(
            endpoint=check, at=long_ago + timedelta(days=days), status=status
        )
    other = _check("autre")
    StateChange.objects.create(endpoint=other, at=long_ago, status="down")

    result = store.roll_up(now)
    hours = {
        (bucket.start.day, bucket.start.hour): (
            bucket.probes,
            bucket.failures,
            bucket.latency_sum_ms,
            bucket.latency_max_ms,
        )
        for bucket in Bucket.objects.filter(endpoint=check, resolution="h")
    }
    # 11:00–11:59 is not an hour old yet: it stays in minutes until a later roll-up. The
    # minute of three days ago is rolled into its hour before it is deleted.
    assert hours == {
        (7, 12): (1, 0, 1, 1),
        (10, 9): (180, 0, 3 * sum(range(60)), 59),
        (10, 10): (180, 15, 3 * sum(range(5, 60)), 59),
    }
    assert result["hour_buckets_deleted"] == 1
    assert not Bucket.objects.filter(resolution="m", start__lt=now - timedelta(days=2)).exists()
    assert Bucket.objects.filter(resolution="m").count() == 180
    # The last change before the 400 days of each check stays: the state when they begin.
    remaining = {
        (change.endpoint_id, change.at)
        for change in StateChange.objects.filter(at__lt=now - timedelta(days=400))
    }
    assert remaining == {(check.pk, long_ago + timedelta(days=20)), (other.pk, long_ago)}
    assert result["state_changes_deleted"] == 2

    # Idempotent: rolled again (an hour later), the rolled hours keep their sums, 11:00 joins.
    store.roll_up(now + timedelta(hours=1))
    again = {
        (bucket.start.day, bucket.start.hour): bucket.probes
        for bucket in Bucket.objects.filter(endpoint=check, resolution="h")
    }
    assert again == {(7, 12): 1, (10, 9): 180, (10, 10): 180, (10, 11): 180}


# -- the prober, in this process, against targets that go down and come back ---------------------


class _Target:
    """An aiohttp server on a loopback port that can be stopped and started again."""

    def __init__(self) -> None:
        self.text = "Bienvenue chez Mon Asso"
        self.port = _free_port()
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def page(request: web.Request) -> web.Response:
            return web.Response(text=self.text)

        app = web.Application()
        app.router.add_get("/{path:.*}", page)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _state(pks: list[int]) -> dict[int, dict[str, Any]]:
    return {
        row["pk"]: {
            **row,
            "changes": [
                c.status
                for c in StateChange.objects.filter(endpoint=row["pk"]).order_by("at", "pk")
            ],
        }
        for row in Check.objects.filter(pk__in=pks).values(
            "pk",
            "status",
            "status_since",
            "consecutive_failures",
            "consecutive_successes",
            "last_checked_at",
        )
    }


async def _until(
    prober: Prober,
    pks: list[int],
    predicate: Callable[[dict[int, dict[str, Any]]], bool],
    timeout: float = 15,
) -> dict[int, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        state = await prober.in_db(_state, pks)
        if predicate(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout} s: {state}")
        await asyncio.sleep(0.2)


def _run_with_prober(scenario: Callable[[Prober], Awaitable[None]]) -> Prober:
    prober = Prober(handle_signals=False, batch_seconds=0.2, reload_seconds=0.5)

    async def main() -> None:
        running = asyncio.create_task(prober.run())
        try:
            await scenario(prober)
        finally:
            prober.stop()
            await asyncio.wait_for(running, 30)

    asyncio.run(main())
    return prober


@pytest.mark.django_db(transaction=True)
def test_prober_follows_targets_down_and_back_up() -> None:
    target = _Target()
    base = f"http://127.0.0.1:{target.port}"
    # Written directly: validation keeps real intervals ≥ 20 s; a test cannot wait that long.
    plain = _check("plain", target=f"{base}/", interval_s=1, timeout_s=1)
    keyword = _check(
        "keyword",
        target=f"{base}/home",
        interval_s=1,
        timeout_s=1,
        settings={"keyword": "Bienvenue"},
    )
    disabled = _check("disabled", target=f"{base}/off", interval_s=1, timeout_s=1, enabled=False)
    pks = [plain.pk, keyword.pk]

    async def scenario(prober: Prober) -> None:
        await target.start()
        both_up = await _until(prober, pks, lambda s: all(c["status"] == "up" for c in s.values()))
        # The page loses its keyword: only the keyword check goes down.
        target.text = "Erreur 500"
        state = await _until(prober, pks, lambda s: s[keyword.pk]["status"] == "down")
        assert state[plain.pk]["status"] == "up"
        assert state[plain.pk]["status_since"] == both_up[plain.pk]["status_since"]
        target.text = "Bienvenue à nouveau"
        await _until(prober, pks, lambda s: s[keyword.pk]["status"] == "up")
        # The server stops: both go down, and failures are counted probe after probe.
        await target.stop()
        down = await _until(
            prober, pks, lambda s: all(c["consecutive_failures"] >= 2 for c in s.values())
        )
        assert all(c["status"] == "down" for c in down.values())
        # It comes back on the same port.
        await target.start()
        await _until(prober, pks, lambda s: all(c["status"] == "up" for c in s.values()))
        # A check created while the prober runs is picked up at the next reload.
        late = await prober.in_db(
            lambda: _check("late", target=f"{base}/late", interval_s=1, timeout_s=1)
        )
        await _until(prober, [late.pk], lambda s: s[late.pk]["status"] == "up")
        await target.stop()

    prober = _run_with_prober(scenario)
    state = _state(pks)
    assert state[plain.pk]["changes"] == ["up", "down", "up"]
    assert state[keyword.pk]["changes"] == ["up", "down", "up", "down", "up"]
    # Stopping flushed the last outcomes: each probe of the check is in its minute buckets.
    buckets = Bucket.objects.filter(endpoint=plain, resolution="m")
    probes = sum(bucket.probes for bucket in buckets)
    failures = sum(bucket.failures for bucket in buckets)
    assert probes >= 5 and 2 <= failures < probes
    assert not Bucket.objects.filter(endpoint=disabled).exists()
    assert Check.objects.get(pk=disabled.pk).status == "unknown"
    figures = prober.figures()
    assert figures["lag_ms_overall"]["probes"] >= probes
    # Probes start on time on an idle machine (the target is 1 s of lag).
    assert figures["lag_ms_overall"]["p50"] < 200


def test_shards_are_parsed_strictly() -> None:
    assert Shard.parse("1/3") == Shard(1, 3)
    for bad in ("3/3", "-1/2", "1", "a/b", "0/0", "1/2/3"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


# -- `ronron probe`, a real process: two shards, killed, restarted ------------------------------


class _Hits(BaseHTTPRequestHandler):
    hits: dict[str, list[float]] = defaultdict(list)

    def do_GET(self) -> None:
        _Hits.hits[self.path].append(time.monotonic())
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HttpTarget:
    def __init__(self) -> None:
        self.port = _free_port()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _Hits)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _ronron(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ronron", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


_READ = """
import json
from ronron.monitoring.models import Check
print(json.dumps({c.pk: {"status": c.status, "since": c.status_since and c.status_since.isoformat(),
    "failures": c.consecutive_failures, "successes": c.consecutive_successes,
    "changes": [s.status for s in c.changes.order_by("at", "pk")]} for c in Check.objects.all()}))
"""


def _read(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    return json.loads(_ronron(env, "shell", "--no-imports", "-c", _READ).stdout.splitlines()[-1])


def _probers(env: dict[str, str], tmp_path: Path) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ronron",
                "probe",
                "--shard",
                f"{i}/2",
                "--stats",
                str(tmp_path / f"stats{i}.json"),
            ],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / f"prober{i}.log", "ab"),
        )
        for i in range(2)
    ]


def _poll(
    env: dict[str, str], predicate: Callable[[dict[str, dict[str, Any]]], bool], timeout: float = 30
) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        state = _read(env)
        if predicate(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout} s: {state}")
        time.sleep(0.5)


@pytest.mark.slow
def test_probe_command_is_sharded_and_survives_being_killed(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    # This working copy's code, whichever copy the virtualenv was installed from.
    serve_env = {**serve_env, "PYTHONPATH": f"{REPO_ROOT / 'src'}:{REPO_ROOT}"}
    _ronron(serve_env, "migrate", "-v0")
    target = _HttpTarget()
    target.start()
    _ronron(
        serve_env,
        "shell",
        "--no-imports",
        "-c",
        "from ronron.monitoring.models import Check\n"
        f"for i in range(6): Check.objects.create(name=f'c{{i}}', kind='http', interval_s=1, "
        f"timeout_s=1, target=f'http://127.0.0.1:{target.port}/c/{{i}}')",
    )
    probers = _probers(serve_env, tmp_path)
    try:
        up = _poll(
            serve_env,
            lambda s: all(c["status"] == "up" and c["successes"] >= 3 for c in s.values()),
        )
        assert len(up) == 6
        # Each check is probed by one shard only: one probe a second, never two at once.
        for i in range(6):
            times = _Hits.hits[f"/c/{i}"]
            assert len(times) >= 3
            assert min(b - a for a, b in itertools.pairwise(times)) > 0.5, times

        target.stop()
        down = _poll(serve_env, lambda s: all(c["failures"] >= 2 for c in s.values()))
        for process in probers:
            process.kill()
            process.wait(10)
        probers = _probers(serve_env, tmp_path)
        again = _poll(
            serve_env,
            lambda s: all(c["failures"] >= down[pk]["failures"] + 2 for pk, c in s.items()),
        )
        # Restarted: the counters went on, the outage still started when it started.
        for pk, check in again.items():
            assert check["since"] == down[pk]["since"]
            assert check["changes"] == ["up", "down"]

        target.start()
        back = _poll(serve_env, lambda s: all(c["status"] == "up" for c in s.values()))
        assert all(c["changes"] == ["up", "down", "up"] for c in back.values())
        for process in probers:
            process.send_signal(signal.SIGTERM)
        assert [process.wait(30) for process in probers] == [0, 0]
    finally:
        for process in probers:
            if process.poll() is None:
                process.kill()
        target.stop()
    figures = [json.loads((tmp_path / f"stats{i}.json").read_text()) for i in range(2)]
    assert sorted(f["shard"] for f in figures) == ["0/2", "1/2"]
    assert sum(f["checks"] for f in figures) == 6 and all(f["checks"] for f in figures)
