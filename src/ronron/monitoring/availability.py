"""Time-weighted availability, from state changes.

A check's history is the list of its state changes: from each one on, it was in that state until
the next. Over a window, availability is the time it was up (or merely slow) divided by the time
its state was known, maintenance windows taken out of both. Time before the first change, or
spent "unknown", counts for nothing either way; a window where nothing is known has no figure.
The figures are computed ahead (``refresh_all``, every minute from the prober) so that pages
only read them.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from operator import itemgetter

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from ronron.monitoring import maintenance
from ronron.monitoring.maintenance import Interval
from ronron.monitoring.models import WINDOWS, Check, StateChange

_COUNTS_AS_UP = {Check.Status.UP, Check.Status.DEGRADED}
_COUNTS_AS_DOWN = {Check.Status.DOWN}
_MICROSECOND = timedelta(microseconds=1)
# Rows per bulk UPDATE: each carries a CASE over its rows.
_BATCH = 500


class _Excluded:
    """Maintenance windows, merged, with the running total of their lengths: the excluded
    time within any stretch is two binary searches away."""

    def __init__(self, windows: Sequence[Interval]) -> None:
        merged = maintenance.merge(windows)
        self.starts = [start for start, _end in merged]
        self.ends = [end for _start, end in merged]
        self.before = [0]  # before[i]: total length of windows 0..i-1, in microseconds
        for start, end in merged:
            self.before.append(self.before[-1] + (end - start) // _MICROSECOND)

    def _up_to(self, moment: datetime) -> int:
        """Excluded microseconds before ``moment``."""
        index = bisect.bisect_right(self.starts, moment)
        if index == 0:
            return 0
        last_start, last_end = self.starts[index - 1], self.ends[index - 1]
        return self.before[index - 1] + (min(moment, last_end) - last_start) // _MICROSECOND

    def within(self, start: datetime, end: datetime) -> int:
        return self._up_to(end) - self._up_to(start) if self.starts else 0


def _ratio(
    changes: Sequence[tuple[datetime, str]], start: datetime, end: datetime, excluded: _Excluded
) -> float | None:
    known = up = 0
    # Each change holds until the next one; the last one until ``end``.
    following = itertools.chain((at for at, _status in changes[1:]), [end])
    for (at, status), next_at in zip(changes, following, strict=False):
        stretch_start, stretch_end = max(at, start), min(next_at, end)
        if stretch_end <= stretch_start or (
            status not in _COUNTS_AS_UP and status not in _COUNTS_AS_DOWN
        ):
            continue
        length = (stretch_end - stretch_start) // _MICROSECOND
        length -= excluded.within(stretch_start, stretch_end)
        known += length
        if status in _COUNTS_AS_UP:
            up += length
    return up / known if known > 0 else None


def compute(
    changes: Sequence[tuple[datetime, str]],
    start: datetime,
    end: datetime,
    excluded: Sequence[Interval],
) -> float | None:
    """The share of [start, end) a check was up or degraded, out of the time its state was
    known outside ``excluded`` (maintenance windows); from 0 to 1, None when nothing is known.

    ``changes`` are (moment, status), sorted; the first may come before ``start`` (it gives the
    state at ``start``); each holds until the next one, the last one until ``end``.
    """
    if end <= start:
        return None
    return _ratio(changes, start, end, _Excluded(excluded))


def figures(
    changes: Sequence[tuple[datetime, str]], now: datetime, excluded: Sequence[Interval]
) -> dict[str, float | None]:
    """Availability in percent, to the third decimal, over each of ``WINDOWS`` ending ``now``."""
    return _figures(changes, now, _Excluded(excluded))


def _figures(
    changes: Sequence[tuple[datetime, str]], now: datetime, excluded: _Excluded
) -> dict[str, float | None]:
    result: dict[str, float | None] = {}
    for key, length in WINDOWS.items():
        ratio = _ratio(changes, now - length, now, excluded)
        result[key] = None if ratio is None else round(ratio * 100, 3)
    return result


def refresh_all(now: datetime | None = None) -> int:
    """Recompute the availability figures of every enabled check; returns how many checks.

    A fixed number of queries whatever the number of checks, plus one UPDATE per
    ``_BATCH`` checks whose figures moved: the checks with the state each was in when the
    longest window opens, the maintenance windows, the state changes since (read once, in
    order, streamed), the figures that changed, and the time of the computation.
    """
    now = now or timezone.now()
    since = now - max(WINDOWS.values())
    last_before_since = (
        StateChange.objects.filter(endpoint=OuterRef("pk"), at__lt=since)
        .order_by("-at", "-pk")
        .values("status")[:1]
    )
    checks = list(
        Check.objects.filter(enabled=True)
        .order_by("pk")
        .annotate(state_at_since=Subquery(last_before_since))
        .only("pk", "member_id", "availability")
    )
    windows = maintenance.intervals_by_check(checks, since, now)
    shared: dict[int, _Excluded] = {}  # checks with the same windows share one list object
    no_window = _Excluded([])
    moved: list[Check] = []
    for check, later in zip(checks, _changes_per_check(checks, since, now), strict=True):
        state_at_since: str | None = getattr(check, "state_at_since", None)
        changes = [(since, state_at_since)] if state_at_since else []
        changes.extend(later)
        own = windows.get(check.pk)
        if own is None:
            excluded = no_window
        elif id(own) in shared:
            excluded = shared[id(own)]
        else:
            excluded = shared[id(own)] = _Excluded(own)
        computed = _figures(changes, now, excluded)
        if computed != check.availability:
            check.availability = computed
            moved.append(check)
    Check.objects.bulk_update(moved, ["availability"], batch_size=_BATCH)
    Check.objects.filter(enabled=True).update(availability_at=now)
    return len(checks)


def _changes_per_check(
    checks: Sequence[Check], since: datetime, now: datetime
) -> Iterator[list[tuple[datetime, str]]]:
    """The state changes in [since, now] of each check, in the order of ``checks`` (by pk):
    one query, read as a stream and matched to the checks as they go."""
    rows = (
        StateChange.objects.filter(endpoint__enabled=True, at__gte=since, at__lte=now)
        .order_by("endpoint_id", "at", "pk")
        .values_list("endpoint_id", "at", "status")
        .iterator(chunk_size=5000)
    )
    groups = itertools.groupby(rows, key=itemgetter(0))
    current = next(groups, None)
    for check in checks:
        # A check enabled after ``checks`` was read may have rows: skipped.
        while current is not None and current[0] < check.pk:
            current = next(groups, None)
        if current is not None and current[0] == check.pk:
            yield [(at, status) for _pk, at, status in current[1]]
            current = next(groups, None)
        else:
            yield []
