"""What the prober writes: a batch of outcomes at a time, and the bounded history they leave.

A batch is one transaction: minute buckets are added to (an upsert that sums), a
:class:`StateChange` row is written only when a check's status changes, and each check's
current state is updated in place. Nothing stores one row per probe.

Buckets: ``probes`` counts every probe, ``failures`` the "down" ones; ``latency_sum_ms`` and
``latency_max_ms`` cover the probes that did not fail, so a bucket's mean latency is
``latency_sum_ms / (probes - failures)``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q, Sum
from django.db.models.functions import TruncHour

from ronron.monitoring.models import (
    HOUR_RETENTION,
    MINUTE_RETENTION,
    Bucket,
    Check,
    StateChange,
)
from ronron.monitoring.probes import DOWN, Outcome

STATE_CHANGE_RETENTION = timedelta(days=400)
# Minute buckets are rolled into their hour once the hour is this old: no probe of that hour
# can still be waiting in a batch.
ROLL_UP_DELAY = timedelta(hours=1)
_CHUNK = 500


@dataclass
class _State:
    status: str
    status_since: datetime | None
    failures: int
    successes: int
    alert_open: bool


def record(outcomes: list[Outcome], *, in_maintenance: set[int]) -> list[int]:
    """Store a batch of outcomes. Returns the pks the alerts should look at: those whose
    consecutive counters moved in a way an alert can follow (a failure counted, a failure
    streak broken, or any probe of a check whose alert is open).

    ``in_maintenance`` is accepted for the record: outcomes during maintenance are stored the
    same way (availability and alerts leave maintenance out themselves)."""
    if not outcomes:
        return []
    outcomes = sorted(outcomes, key=lambda outcome: outcome.at)
    with transaction.atomic():
        states = _load_states({outcome.pk for outcome in outcomes})
        outcomes = [outcome for outcome in outcomes if outcome.pk in states]
        changes: list[StateChange] = []
        last: dict[int, Outcome] = {}
        attention: set[int] = set()
        for outcome in outcomes:
            state = states[outcome.pk]
            if outcome.status != state.status:
                changes.append(
                    StateChange(
                        endpoint_id=outcome.pk,
                        at=outcome.at,
                        status=outcome.status,
                        message=outcome.message,
                    )
                )
                state.status = outcome.status
                state.status_since = outcome.at
            if outcome.status == DOWN:
                state.failures += 1
                state.successes = 0
                attention.add(outcome.pk)
            else:
                if state.failures or state.alert_open:
                    attention.add(outcome.pk)
                state.failures = 0
                state.successes += 1
            last[outcome.pk] = outcome
        _add_to_buckets(outcomes)
        if changes:
            StateChange.objects.bulk_create(changes, batch_size=_CHUNK)
        _write_states(states, last)
    return sorted(attention)


def _load_states(pks: set[int]) -> dict[int, _State]:
    states: dict[int, _State] = {}
    ordered = sorted(pks)
    for start in range(0, len(ordered), _CHUNK):
        rows = Check.objects.filter(pk__in=ordered[start : start + _CHUNK]).values_list(
            "pk",
            "status",
            "status_since",
            "consecutive_failures",
            "consecutive_successes",
            "alert_open",
        )
        for pk, status, since, failures, successes, alert_open in rows:
            states[pk] = _State(status, since, failures, successes, alert_open)
    return states


def _column(model: type, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)  # type: ignore[attr-defined]


def _write_states(states: dict[int, _State], last: dict[int, Outcome]) -> None:
    # Plain UPDATEs of the state columns only: an admin editing the check's name or settings at
    # the same moment loses nothing, and updated_at keeps meaning "edited by someone".
    table = connection.ops.quote_name(Check._meta.db_table)
    fields = [
        "status",
        "status_since",
        "last_checked_at",
        "last_latency_ms",
        "last_message",
        "consecutive_failures",
        "consecutive_successes",
    ]
    assignments = ", ".join(f"{_column(Check, name)} = %s" for name in fields)
    sql = f"UPDATE {table} SET {assignments} WHERE {_column(Check, 'id')} = %s"  # noqa: S608
    adapt = connection.ops.adapt_datetimefield_value
    rows = []
    for pk, outcome in last.items():
        state = states[pk]
        rows.append(
            (
                state.status,
                adapt(state.status_since),
                adapt(outcome.at),
                outcome.latency_ms,
                outcome.message,
                state.failures,
                state.successes,
                pk,
            )
        )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _add_to_buckets(outcomes: list[Outcome]) -> None:
    totals: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for outcome in outcomes:
        minute = outcome.at.replace(second=0, microsecond=0)
        total = totals[(outcome.pk, minute)]
        total[0] += 1
        if outcome.status == DOWN:
            total[1] += 1
        elif outcome.latency_ms is not None:
            total[2] += outcome.latency_ms
            total[3] = max(total[3], outcome.latency_ms)
    table = connection.ops.quote_name(Bucket._meta.db_table)
    endpoint, resolution, start = (
        _column(Bucket, "endpoint"),
        _column(Bucket, "resolution"),
        _column(Bucket, "start"),
    )
    probes, failures, latency_sum, latency_max = (
        _column(Bucket, "probes"),
        _column(Bucket, "failures"),
        _column(Bucket, "latency_sum_ms"),
        _column(Bucket, "latency_max_ms"),
    )
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    # Sums in the database: one statement whether the minute's bucket exists or not.
    sql = (
        f"INSERT INTO {table} ({endpoint}, {resolution}, {start}, {probes}, {failures}, "  # noqa: S608
        f"{latency_sum}, {latency_max}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        f"ON CONFLICT ({endpoint}, {resolution}, {start}) DO UPDATE SET "
        f"{probes} = {table}.{probes} + excluded.{probes}, "
        f"{failures} = {table}.{failures} + excluded.{failures}, "
        f"{latency_sum} = {table}.{latency_sum} + excluded.{latency_sum}, "
        f"{latency_max} = {greatest}({table}.{latency_max}, excluded.{latency_max})"
    )
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (pk, Bucket.Resolution.MINUTE, adapt(minute), *total)
        for (pk, minute), total in totals.items()
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def roll_up(now: datetime) -> dict[str, int]:
    """Minute buckets of each finished hour → one hour bucket per check; then what is past
    its retention is deleted (the last state change before the limit is kept: it says what
    the state was when the 400 days begin). Idempotent: an hour rolled twice is rewritten
    with the same sums."""
    limit = (now - ROLL_UP_DELAY).replace(minute=0, second=0, microsecond=0)
    minutes = Bucket.objects.filter(resolution=Bucket.Resolution.MINUTE)
    hours = Bucket.objects.filter(resolution=Bucket.Resolution.HOUR)
    # The newest hour already rolled (rolled again: harmless), or the oldest minute kept.
    since = hours.aggregate(last=Max("start"))["last"]
    if since is None:
        since = minutes.aggregate(first=Min("start"))["first"]
    rolled = 0
    with transaction.atomic():
        if since is not None and since < limit:
            sums = (
                minutes.filter(start__gte=since, start__lt=limit)
                .annotate(hour=TruncHour("start", tzinfo=UTC))
                .values("endpoint_id", "hour")
                .annotate(
                    total=Sum("probes"),
                    failed=Sum("failures"),
                    latency=Sum("latency_sum_ms"),
                    slowest=Max("latency_max_ms"),
                )
                .order_by()
            )
            buckets = [
                Bucket(
                    endpoint_id=row["endpoint_id"],
                    resolution=Bucket.Resolution.HOUR,
                    start=row["hour"],
                    probes=row["total"],
                    failures=row["failed"],
                    latency_sum_ms=row["latency"],
                    latency_max_ms=row["slowest"],
                )
                for row in sums
            ]
            Bucket.objects.bulk_create(
                buckets,
                batch_size=_CHUNK,
                update_conflicts=True,
                unique_fields=["endpoint", "resolution", "start"],
                update_fields=["probes", "failures", "latency_sum_ms", "latency_max_ms"],
            )
            rolled = len(buckets)
        deleted_minutes = minutes.filter(start__lt=now - MINUTE_RETENTION).delete()[0]
        deleted_hours = hours.filter(start__lt=now - HOUR_RETENTION).delete()[0]
        deleted_changes = _delete_old_changes(now - STATE_CHANGE_RETENTION)
    return {
        "hours_rolled": rolled,
        "minute_buckets_deleted": deleted_minutes,
        "hour_buckets_deleted": deleted_hours,
        "state_changes_deleted": deleted_changes,
    }


def _delete_old_changes(limit: datetime) -> int:
    # A change before the limit is deleted only when a later one (still before the limit)
    # exists for the same check: the last one before the limit stays.
    later = StateChange.objects.filter(endpoint=OuterRef("endpoint"), at__lt=limit).filter(
        Q(at__gt=OuterRef("at")) | Q(at=OuterRef("at"), pk__gt=OuterRef("pk"))
    )
    return StateChange.objects.filter(at__lt=limit).filter(Exists(later)).delete()[0]
