"""Availability is time-weighted from state changes, over 24 h, 7, 30 and 365 days: checked to
the third decimal over timelines written by hand, with unknown time, one-off, recurring and
member-scoped maintenance taken out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ronron.members import actions as members
from ronron.monitoring import availability, maintenance
from ronron.monitoring.models import Check, Maintenance, StateChange

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)  # a Monday, noon UTC (13:00 in Paris)
MINUTE = timedelta(minutes=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(autouse=True)
def paris(settings):
    settings.TIME_ZONE = "Europe/Paris"


@pytest.fixture
def velo():
    return members.create_member(
        actor=None, number="A0001", kind="association", name="Vélo", joined_on=date(2020, 1, 1)
    )


@pytest.fixture
def jardins():
    return members.create_member(
        actor=None, number="A0002", kind="association", name="Jardins", joined_on=date(2020, 1, 1)
    )


def new_check(name: str, member=None, *, enabled: bool = True) -> Check:
    return Check.objects.create(
        name=name, kind="http", target=f"https://{name}/", member=member, enabled=enabled
    )


def write_timeline(check: Check, timeline: list[tuple[datetime, str]]) -> None:
    StateChange.objects.bulk_create(
        StateChange(endpoint=check, at=moment, status=status) for moment, status in timeline
    )


def reloaded(check: Check) -> Check:
    return Check.objects.get(pk=check.pk)


def test_compute_weighs_time_and_ignores_unknown_and_excluded_time() -> None:
    changes = [
        (at("2025-03-10T10:00"), "up"),
        (at("2025-03-10T10:30"), "down"),
        (at("2025-03-10T10:45"), "degraded"),  # slow still counts as available
        (at("2025-03-10T11:05"), "down"),
        (at("2025-03-10T11:10"), "unknown"),
        (at("2025-03-10T11:20"), "up"),
    ]
    maintenance_window = [(at("2025-03-10T11:00"), at("2025-03-10T11:15"))]
    # The window opens at 09:00, before the first change: that hour is unknown.
    start, end = at("2025-03-10T09:00"), NOW
    # Known: 10:00–11:10 minus 11:00–11:10 (60 min) + 11:20–12:00 (40) = 100 minutes;
    # down: 10:30–10:45 (11:05–11:10 is under maintenance) = 15 minutes.
    assert availability.compute(changes, start, end, maintenance_window) == pytest.approx(0.85)
    assert availability.compute(changes, start, end, []) == pytest.approx(90 / 110)
    # A change before the window gives the state at its start.
    assert availability.compute(changes, at("2025-03-10T10:40"), at("2025-03-10T10:50"), []) == (
        pytest.approx(0.5)
    )
    # Nothing known: no figure rather than 0 % or 100 %.
    assert availability.compute(changes, at("2025-03-10T08:00"), at("2025-03-10T10:00"), []) is None
    assert availability.compute([], start, end, []) is None
    assert availability.compute(changes[4:5], at("2025-03-10T11:10"), NOW, []) is None
    # Fully under maintenance: nothing counts.
    assert availability.compute(changes, start, end, [(start, end)]) is None


def test_the_four_windows_over_a_controlled_timeline(velo) -> None:
    check = new_check("velo.example", velo)
    write_timeline(
        check,
        [
            (NOW - timedelta(days=20), "up"),  # the first change: before it, nothing is known
            (NOW - timedelta(days=10), "down"),
            (NOW - timedelta(days=10) + timedelta(hours=1), "up"),
            (NOW - timedelta(days=3), "unknown"),  # the prober was stopped for two hours
            (NOW - timedelta(days=3) + timedelta(hours=2), "up"),
            (at("2025-03-10T10:30"), "down"),
            (at("2025-03-10T10:45"), "up"),
            (at("2025-03-10T11:05"), "down"),  # under the maintenance below
            (at("2025-03-10T11:10"), "up"),
        ],
    )
    planned = Maintenance.objects.create(
        title="Mise à jour", starts_at=at("2025-03-10T11:00"), ends_at=at("2025-03-10T11:15")
    )
    planned.checks.add(check)

    assert availability.refresh_all(NOW) == 1
    check = reloaded(check)
    # 24 h: known 1440 − 15 (maintenance) = 1425 min, down 15 → 1410 / 1425.
    # 7 d: known 10080 − 120 (unknown) − 15 = 9945 min, down 15 → 9930 / 9945.
    # 30 d and 365 d: known from the first change, 28800 − 135 = 28665 min, down 60 + 15.
    assert check.availability == {"24h": 98.947, "7d": 99.849, "30d": 99.738, "365d": 99.738}
    assert check.availability_at == NOW


def test_the_state_before_the_longest_window_is_the_state_at_its_start(velo) -> None:
    check = new_check("velo.example", velo)
    # Down for a year and more, then up for the last six hours.
    write_timeline(
        check,
        [(NOW - timedelta(days=500), "down"), (NOW - timedelta(hours=6), "up")],
    )
    availability.refresh_all(NOW)
    figures = reloaded(check).availability
    assert figures == {"24h": 25.0, "7d": round(6 / 168 * 100, 3), "30d": 0.833, "365d": 0.068}


def test_recurring_member_maintenance_is_taken_out_for_that_member_only(velo, jardins) -> None:
    # Every Sunday at 03:00 in Paris (02:00 UTC in March) for an hour, for Vélo's checks.
    Maintenance.objects.create(
        title="Mises à jour du dimanche",
        member=velo,
        starts_at=at("2025-01-05T02:00"),
        recurrence=maintenance.validate_recurrence("FREQ=WEEKLY;BYDAY=SU;BYHOUR=3"),
        duration_minutes=60,
    )
    timeline = [
        (NOW - timedelta(days=8), "up"),
        (at("2025-03-09T02:00"), "down"),  # the whole maintenance hour
        (at("2025-03-09T03:00"), "up"),
        (at("2025-03-09T05:00"), "down"),  # twenty minutes outside it
        (at("2025-03-09T05:20"), "up"),
    ]
    velo_site, jardins_site = new_check("velo.example", velo), new_check("jardins.example", jardins)
    write_timeline(velo_site, timeline)
    write_timeline(jardins_site, timeline)

    assert availability.refresh_all(NOW) == 2
    # Vélo, 7 d: known 10080 − 60 = 10020 min, down 20; 30 d and 365 d: known from the
    # first change (8 days, 11520 − 60), down 20. The Sunday before (2 March, 02:00 UTC) falls
    # before the first change.
    assert reloaded(velo_site).availability == {
        "24h": 100.0,
        "7d": 99.8,
        "30d": 99.825,
        "365d": 99.825,
    }
    # Jardins: the same timeline, no maintenance: down 80 minutes.
    assert reloaded(jardins_site).availability == {
        "24h": 100.0,
        "7d": 99.206,
        "30d": 99.306,
        "365d": 99.306,
    }


def test_a_check_never_seen_has_no_figures_and_disabled_checks_are_left_alone(velo) -> None:
    never_seen = new_check("new.example", velo)
    disabled = new_check("old.example", velo, enabled=False)
    write_timeline(disabled, [(NOW - timedelta(days=3), "down")])
    assert availability.refresh_all(NOW) == 1
    assert reloaded(never_seen).availability == {
        "24h": None,
        "7d": None,
        "30d": None,
        "365d": None,
    }
    assert reloaded(disabled).availability == {}
    assert reloaded(disabled).availability_at is None


def test_refresh_all_uses_a_bounded_number_of_queries(
    velo, jardins, django_assert_max_num_queries
) -> None:
    checks = [new_check(f"site{n}.example", velo if n % 2 else jardins) for n in range(40)]
    changes = []
    for n, check in enumerate(checks):
        changes.append(StateChange(endpoint=check, at=NOW - timedelta(days=400), status="up"))
        for day in range(n % 5):
            start = NOW - timedelta(days=day + 1)
            changes.append(StateChange(endpoint=check, at=start, status="down"))
            changes.append(StateChange(endpoint=check, at=start + 30 * MINUTE, status="up"))
    StateChange.objects.bulk_create(changes)
    Maintenance.objects.create(
        title="Global", starts_at=NOW - timedelta(days=2), ends_at=NOW - timedelta(days=1)
    )
    Maintenance.objects.create(
        title="Vélo",
        member=velo,
        starts_at=NOW - timedelta(days=100) + timedelta(hours=6),  # 18:00 UTC
        recurrence="FREQ=DAILY",
        duration_minutes=10,
    )

    # Checks, maintenance windows, state changes, one bulk UPDATE (and its savepoint), the
    # time of the computation: the same whatever the number of checks.
    with django_assert_max_num_queries(8):
        assert availability.refresh_all(NOW) == 40
    figures = {c.name: c.availability for c in Check.objects.all()}
    assert figures["site0.example"] == {"24h": 100.0, "7d": 100.0, "30d": 100.0, "365d": 100.0}
    # site3 (Vélo): down 30 min on each of the last three days; day 2's is under the global
    # maintenance (known 24h − 24h), and the daily 10-minute window comes off every day.
    site3 = figures["site3.example"]
    assert site3["24h"] == round((1440 - 10 - 30) / (1440 - 10) * 100, 3)
    assert site3["7d"] == round((10080 - 1440 - 6 * 10 - 60) / (10080 - 1440 - 6 * 10) * 100, 3)

    # Nothing moved: only the time of the computation is written.
    with django_assert_max_num_queries(4):
        availability.refresh_all(NOW)
