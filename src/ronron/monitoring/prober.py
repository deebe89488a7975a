"""The prober: every enabled check of its shard, each at its own steady rhythm.

One asyncio loop runs the probes; everything that touches the database (loading checks,
writing batches, alerts, housekeeping) runs in ONE worker thread, so writes never overlap and
a slow query never holds the schedule up.

Each check runs at ``phase + k × interval`` on the wall clock, its phase fixed by its pk: the
load spreads evenly over the interval, and a restarted (or another shard's) prober keeps the
same rhythm. The lag of a probe is how late it started after its planned time.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import math
import os
import resource
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from django.db import DatabaseError, connection
from django.db.models.functions import Mod

from ronron.core import ratelimit
from ronron.monitoring import alerts, availability, derived, maintenance, store
from ronron.monitoring.models import Check
from ronron.monitoring.probes import Outcome, Probe, new_session, run_probe

logger = logging.getLogger("ronron.monitoring.prober")

BATCH_SECONDS = 2.0
RELOAD_SECONDS = 30.0
HOUSEKEEPING_SECONDS = 60.0
DERIVED_SECONDS = 300.0
STATS_SECONDS = 60.0
# In-flight probes get this long to finish when the prober is asked to stop.
STOP_GRACE_SECONDS = 5.0
# Outcomes kept while the database cannot be written (a restart of PostgreSQL, a long lock).
MAX_PENDING = 200_000
T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"1/3"`` → Shard(1, 3); ValueError for anything else."""
        index, sep, count = text.partition("/")
        if not sep or not index.isdigit() or not count.isdigit():
            raise ValueError(text)
        shard = cls(int(index), int(count))
        if not 0 <= shard.index < shard.count <= 1000:
            raise ValueError(text)
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def phase(pk: int, interval_s: int) -> float:
    """A stable offset within the interval, spread evenly over pks (Knuth's multiplicative
    hash), so that checks created together do not all run at the same second."""
    return ((pk * 2_654_435_761) % 2**32) / 2**32 * interval_s


def next_due(probe: Probe, after: float) -> float:
    """The first planned time of ``probe`` at or after ``after`` (seconds since the epoch)."""
    offset = phase(probe.pk, probe.interval_s)
    k = math.ceil((after - offset) / probe.interval_s)
    return k * probe.interval_s + offset


def load_probes(shard: Shard) -> dict[int, Probe]:
    checks = Check.objects.filter(enabled=True)
    if shard.count > 1:
        checks = checks.annotate(shard=Mod("pk", shard.count)).filter(shard=shard.index)
    rows = checks.values_list("pk", "kind", "target", "settings", "interval_s", "timeout_s")
    return {
        pk: Probe(pk, kind, target, settings or {}, interval_s, timeout_s)
        for pk, kind, target, settings, interval_s, timeout_s in rows
    }


class LagHistogram:
    """Lags in whole milliseconds up to a minute; exact enough for p50/p99, constant memory."""

    LIMIT_MS = 60_000

    def __init__(self) -> None:
        self.counts = [0] * (self.LIMIT_MS + 1)
        self.total = 0
        self.max_ms = 0.0

    def add(self, lag_s: float) -> None:
        ms = max(0.0, lag_s * 1000)
        self.counts[min(self.LIMIT_MS, int(ms))] += 1
        self.total += 1
        self.max_ms = max(self.max_ms, ms)

    def percentile(self, fraction: float) -> int | None:
        if not self.total:
            return None
        wanted = math.ceil(self.total * fraction)
        seen = 0
        for ms, count in enumerate(self.counts):
            seen += count
            if seen >= wanted:
                return ms
        return self.LIMIT_MS

    def summary(self) -> dict[str, Any]:
        return {
            "probes": self.total,
            "p50": self.percentile(0.50),
            "p99": self.percentile(0.99),
            "max": round(self.max_ms, 1),
        }


@dataclass
class Stats:
    started: float = field(default_factory=time.time)
    window: LagHistogram = field(default_factory=LagHistogram)
    overall: LagHistogram = field(default_factory=LagHistogram)
    skipped: int = 0
    batches: int = 0
    flush_max_ms: float = 0.0
    flush_total_ms: float = 0.0
    errors: int = 0

    def lag(self, lag_s: float) -> None:
        self.window.add(lag_s)
        self.overall.add(lag_s)


class Prober:
    def __init__(
        self,
        shard: Shard = Shard(),
        *,
        concurrency: int = 500,
        stats_path: Path | None = None,
        batch_seconds: float = BATCH_SECONDS,
        reload_seconds: float = RELOAD_SECONDS,
        handle_signals: bool = True,
    ) -> None:
        self.shard = shard
        self.concurrency = concurrency
        self.stats_path = stats_path
        self.batch_seconds = batch_seconds
        self.reload_seconds = reload_seconds
        self.handle_signals = handle_signals
        self._loop: asyncio.AbstractEventLoop | None = None
        self.probes: dict[int, Probe] = {}
        self.in_maintenance: set[int] = set()
        self.stats = Stats()
        self._heap: list[tuple[float, int, int]] = []
        self._generation: dict[int, int] = {}
        self._running: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: list[Outcome] = []
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ronron-prober-db")
        self._stop = asyncio.Event()

    # -- the database thread -------------------------------------------------------------------

    async def in_db(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function`` in the prober's database thread (the one connection it uses)."""

        def call() -> T:
            try:
                return function(*args)
            except DatabaseError:
                # The connection is kept between calls (one thread, one connection); a broken
                # one is not reused: the next call opens a new one.
                connection.close()
                raise

        return await asyncio.get_running_loop().run_in_executor(self._db, call)

    # -- life cycle ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the prober to stop (from its loop, a signal, or another thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._stop.set()
            return
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            self._stop.set()
        else:
            loop.call_soon_threadsafe(self._stop.set)

    async def run(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        if self.handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stop)
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._session = new_session(self.concurrency)
        try:
            await self._reload()
            logger.info("Prober %s: %d checks.", self.shard, len(self.probes))
            helpers = [
                asyncio.create_task(self._every(self.batch_seconds, self._flush)),
                asyncio.create_task(self._every(self.reload_seconds, self._reload, first=False)),
                asyncio.create_task(self._every(STATS_SECONDS, self._write_stats, first=False)),
            ]
            if self.shard.index == 0:
                helpers.append(
                    asyncio.create_task(self._every(HOUSEKEEPING_SECONDS, self._housekeep))
                )
                helpers.append(
                    asyncio.create_task(self._every(DERIVED_SECONDS, self._sync_derived))
                )
            await self._schedule()
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self._finish_in_flight()
            await self._flush()
            await self._write_stats()
        finally:
            await self._session.close()
            if self.handle_signals:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
            self._db.submit(lambda: connection.close()).result()
            self._db.shutdown(wait=True)
        logger.info("Prober %s stopped.", self.shard)

    async def _every(self, seconds: float, job: Callable[[], Any], *, first: bool = True) -> None:
        if not first:
            await self._sleep(seconds)
        while not self._stop.is_set():
            try:
                await job()
            except Exception:
                self.stats.errors += 1
                logger.exception("Prober %s: %s failed.", self.shard, job.__name__)
            await self._sleep(seconds)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    # -- scheduling ----------------------------------------------------------------------------

    async def _reload(self) -> None:
        probes = await self.in_db(load_probes, self.shard)
        self.in_maintenance = await self.in_db(maintenance.active_check_ids, datetime.now(UTC))
        now = time.time()
        for pk, probe in probes.items():
            old = self.probes.get(pk)
            if old is None or old.interval_s != probe.interval_s:
                # New, or a new rhythm: the old heap entry is left to expire (wrong generation).
                generation = self._generation.get(pk, 0) + 1
                self._generation[pk] = generation
                heapq.heappush(self._heap, (next_due(probe, now), pk, generation))
        for pk in self.probes.keys() - probes.keys():
            self._generation.pop(pk, None)
        # Settings and targets changed in place are used from the next probe on.
        self.probes = probes

    async def _schedule(self) -> None:
        heap = self._heap
        while not self._stop.is_set():
            now = time.time()
            while heap and heap[0][0] <= now:
                due, pk, generation = heapq.heappop(heap)
                probe = self.probes.get(pk)
                if probe is None or self._generation.get(pk) != generation:
                    continue
                following = due + probe.interval_s
                if following <= now:  # far behind (a suspended machine): skip to the present
                    following = next_due(probe, now + 0.001)
                heapq.heappush(heap, (following, pk, generation))
                if pk in self._running:
                    self.stats.skipped += 1
                    continue
                self._running.add(pk)
                task = asyncio.create_task(self._probe(probe, due))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            delay = heap[0][0] - time.time() if heap else 1.0
            if delay > 0:
                await self._sleep(min(delay, 1.0))
            else:
                await asyncio.sleep(0)

    async def _probe(self, probe: Probe, due: float) -> None:
        try:
            async with self._semaphore:
                self.stats.lag(time.time() - due)
                outcome = await run_probe(probe, self._session)
            self._pending.append(outcome)
        finally:
            self._running.discard(probe.pk)

    async def _finish_in_flight(self) -> None:
        if not self._tasks:
            return
        _done, late = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE_SECONDS)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    # -- writing -------------------------------------------------------------------------------

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        started = time.perf_counter()
        try:
            await self.in_db(self._write, batch, set(self.in_maintenance))
        except Exception:
            # Kept for the next attempt (newest first if too many: the state is what matters).
            self._pending = (batch + self._pending)[-MAX_PENDING:]
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.stats.batches += 1
        self.stats.flush_total_ms += elapsed_ms
        self.stats.flush_max_ms = max(self.stats.flush_max_ms, elapsed_ms)

    @staticmethod
    def _write(batch: list[Outcome], in_maintenance: set[int]) -> None:
        changed = store.record(batch, in_maintenance=in_maintenance)
        # The batch is stored: a failure from here on must not make it be stored twice.
        try:
            if changed:
                alerts.process(changed, datetime.now(UTC))
            else:
                # Alerts held back to be grouped go out once their window has passed.
                alerts.flush(datetime.now(UTC))
        except Exception as exc:
            if isinstance(exc, DatabaseError):
                connection.close()
            logger.exception("Alerts failed for %d checks.", len(changed))

    # -- housekeeping (shard 0) ----------------------------------------------------------------

    async def _housekeep(self) -> None:
        await self.in_db(self._housekeeping)

    @staticmethod
    def _housekeeping() -> None:
        now = datetime.now(UTC)
        from ronron.core import chores
        from ronron.secrets.store import purge_expired

        # Each job on its own: a failing one does not hold the others back. The prober's first
        # shard is Ronron's one steady clock, so it also forgets expired secrets and old
        # rate-limit counts.
        jobs = (
            availability.refresh_all,
            alerts.remind,
            store.roll_up,
            purge_expired,
            ratelimit.purge,
            chores.run_due,
        )
        for job in jobs:
            try:
                job(now)
            except Exception as exc:
                if isinstance(exc, DatabaseError):
                    connection.close()
                logger.exception("Housekeeping: %s failed.", job.__name__)

    async def _sync_derived(self) -> None:
        await self.in_db(derived.sync_derived_checks)

    # -- figures -------------------------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        stats = self.stats
        window, stats.window = stats.window, LagHistogram()
        return {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "shard": str(self.shard),
            "checks": len(self.probes),
            "uptime_s": round(time.time() - stats.started, 1),
            "lag_ms": window.summary(),
            "lag_ms_overall": stats.overall.summary(),
            "skipped": stats.skipped,
            "in_flight": len(self._tasks),
            "pending": len(self._pending),
            "batches": stats.batches,
            "flush_ms_max": round(stats.flush_max_ms, 1),
            "flush_ms_mean": round(stats.flush_total_ms / stats.batches, 1) if stats.batches else 0,
            "errors": stats.errors,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "max_rss_mib": round(usage.ru_maxrss / 1024, 1),
        }

    async def _write_stats(self) -> None:
        figures = self.figures()
        lag = figures["lag_ms"]
        logger.info(
            "Prober %s: %d probes in the last minute, lag p50 %s ms, p99 %s ms, max %s ms.",
            self.shard,
            lag["probes"],
            lag["p50"],
            lag["p99"],
            lag["max"],
        )
        if self.stats_path is not None:
            temporary = self.stats_path.with_name(self.stats_path.name + ".tmp")
            temporary.write_text(json.dumps(figures) + "\n", encoding="utf-8")
            os.replace(temporary, self.stats_path)
