"""Maintenance windows: rules checked before they are kept, occurrences in the hoster's time
zone (across a change of summer time), and the checks each window covers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from ronron.members import actions as members
from ronron.monitoring import maintenance
from ronron.monitoring.models import Check, Maintenance

pytestmark = pytest.mark.django_db


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(autouse=True)
def paris(settings):
    settings.TIME_ZONE = "Europe/Paris"


@pytest.fixture
def two_members():
    return [
        members.create_member(
            actor=None, number=number, kind="association", name=name, joined_on=date(2020, 1, 1)
        )
        for number, name in (("A0001", "Vélo"), ("A0002", "Jardins"))
    ]


def new_check(name: str, member=None) -> Check:
    return Check.objects.create(name=name, kind="http", target=f"https://{name}/", member=member)


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("FREQ=WEEKLY;BYDAY=SU;BYHOUR=3", "FREQ=WEEKLY;BYDAY=SU;BYHOUR=3"),
        ("  rrule:freq=daily;byhour=2;  ", "FREQ=DAILY;BYHOUR=2"),
        ("FREQ=MONTHLY;BYDAY=1SU", "FREQ=MONTHLY;BYDAY=1SU"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"),
        ("FREQ=WEEKLY;UNTIL=20261231T235900Z", "FREQ=WEEKLY;UNTIL=20261231T235900Z"),
        ("", ""),
    ],
)
def test_a_rule_is_accepted_and_normalised(text: str, normalised: str) -> None:
    assert maintenance.validate_recurrence(text) == normalised


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("FREQ=MINUTELY", "FREQ=HOURLY, DAILY"),
        ("BYDAY=SU", "FREQ=HOURLY, DAILY"),
        ("FREQ=WEEKLY;BYDAY=XX", "is not a recurrence rule"),
        ("FREQ=DAILY;BYHOUR=25", "is not a recurrence rule"),
        ("FREQ=DAILY;INTERVAL=two", "is not a recurrence rule"),
        ("FREQ=DAILY;FREQ=WEEKLY", "is not a recurrence rule"),
        ("FREQ=DAILY;DTSTART=20250101T000000Z", "DTSTART cannot be used"),
        ("FREQ=DAILY;BYSETPOS=1", "BYSETPOS cannot be used"),
        ("FREQ=WEEKLY;UNTIL=20250101", "UNTIL is a UTC date"),
        ("FREQ=DAILY\nX=1", "Line breaks"),
        # dateutil would look for these up to the year 9999 (minutes of CPU).
        ("FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31", "never happens"),
        ("FREQ=MONTHLY;BYDAY=1SU;BYMONTHDAY=10", "never happens"),
        ("FREQ=HOURLY;BYMINUTE=0,10,20,30,40,50", "too often"),
    ],
)
def test_a_wrong_rule_is_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        maintenance.validate_recurrence(text)
    assert says in caught.value.messages[0]


def test_weekly_occurrences_stay_at_local_time_across_summer_time(two_members) -> None:
    check = new_check("velo.example")
    # Sundays at 03:00 in Paris, one hour each: 02:00 UTC in winter, 01:00 UTC in summer
    # (clocks went forward on Sunday 30 March 2025).
    Maintenance.objects.create(
        title="Mises à jour",
        starts_at=at("2025-03-16T02:00"),
        recurrence=maintenance.validate_recurrence("FREQ=WEEKLY;BYDAY=SU;BYHOUR=3"),
        duration_minutes=60,
    )
    windows = maintenance.intervals(check, at("2025-03-20T00:00"), at("2025-04-10T00:00"))
    assert windows == [
        (at("2025-03-23T02:00"), at("2025-03-23T03:00")),
        (at("2025-03-30T01:00"), at("2025-03-30T02:00")),
        (at("2025-04-06T01:00"), at("2025-04-06T02:00")),
    ]
    # Clipped to the period asked for; none before the maintenance starts.
    assert maintenance.intervals(check, at("2025-03-23T02:30"), at("2025-03-23T12:00")) == [
        (at("2025-03-23T02:30"), at("2025-03-23T03:00"))
    ]
    assert maintenance.intervals(check, at("2025-03-01T00:00"), at("2025-03-15T00:00")) == []


def test_a_recurring_maintenance_ends_when_it_says(two_members) -> None:
    check = new_check("velo.example")
    Maintenance.objects.create(
        title="Sauvegardes",
        starts_at=at("2025-01-01T01:00"),  # 02:00 in Paris
        ends_at=at("2025-01-03T12:00"),  # no occurrence starts after this
        recurrence="FREQ=DAILY",
        duration_minutes=30,
    )
    windows = maintenance.intervals(check, at("2024-12-01T00:00"), at("2025-02-01T00:00"))
    assert windows == [
        (at("2025-01-01T01:00"), at("2025-01-01T01:30")),
        (at("2025-01-02T01:00"), at("2025-01-02T01:30")),
        (at("2025-01-03T01:00"), at("2025-01-03T01:30")),
    ]


def test_scopes_global_member_and_listed_checks_and_overlaps_merged(two_members) -> None:
    velo, jardins = two_members
    velo_site, velo_cloud = new_check("velo.example", velo), new_check("cloud.velo.example", velo)
    jardins_site = new_check("jardins.example", jardins)
    hoster = new_check("ronron.example")
    Maintenance.objects.create(
        title="Tout", starts_at=at("2025-05-01T10:00"), ends_at=at("2025-05-01T11:00")
    )
    Maintenance.objects.create(
        title="Vélo",
        member=velo,
        starts_at=at("2025-05-01T10:30"),
        ends_at=at("2025-05-01T12:00"),
    )
    listed = Maintenance.objects.create(
        title="Un site", starts_at=at("2025-05-01T14:00"), ends_at=at("2025-05-01T15:00")
    )
    listed.checks.add(jardins_site)
    # Long finished: never returned.
    Maintenance.objects.create(
        title="Ancien", starts_at=at("2024-05-01T10:00"), ends_at=at("2024-05-01T11:00")
    )

    start, end = at("2025-05-01T00:00"), at("2025-05-02T00:00")
    everyone = [(at("2025-05-01T10:00"), at("2025-05-01T11:00"))]
    assert maintenance.intervals(velo_site, start, end) == [
        (at("2025-05-01T10:00"), at("2025-05-01T12:00"))
    ]
    assert maintenance.intervals(jardins_site, start, end) == [
        *everyone,
        (at("2025-05-01T14:00"), at("2025-05-01T15:00")),
    ]
    assert maintenance.intervals(hoster, start, end) == everyone

    by_check = maintenance.intervals_by_check(
        [velo_site, velo_cloud, jardins_site, hoster], start, end
    )
    assert by_check[velo_cloud.pk] == by_check[velo_site.pk]
    assert by_check[hoster.pk] == everyone

    assert maintenance.active_check_ids(at("2025-05-01T09:59")) == set()
    assert maintenance.active_check_ids(at("2025-05-01T10:00")) == {
        velo_site.pk,
        velo_cloud.pk,
        jardins_site.pk,
        hoster.pk,
    }
    assert maintenance.active_check_ids(at("2025-05-01T11:30")) == {velo_site.pk, velo_cloud.pk}
    assert maintenance.active_check_ids(at("2025-05-01T14:30")) == {jardins_site.pk}
    assert maintenance.active_check_ids(at("2025-05-01T15:00")) == set()


def test_intervals_by_check_reads_maintenances_in_one_query(
    two_members, django_assert_num_queries
) -> None:
    velo, _jardins = two_members
    checks = [new_check(f"site{n}.example", velo) for n in range(20)]
    for n in range(5):
        maintenance_row = Maintenance.objects.create(
            title=f"M{n}",
            member=velo if n % 2 else None,
            starts_at=at("2025-01-05T02:00"),
            recurrence="FREQ=WEEKLY",
            duration_minutes=60,
        )
        maintenance_row.checks.add(*checks[n : n + 3])
    with django_assert_num_queries(1):
        by_check = maintenance.intervals_by_check(
            checks, at("2025-06-01T00:00"), at("2025-06-01T00:00") + timedelta(days=30)
        )
    assert set(by_check) == {check.pk for check in checks}


def test_a_one_off_maintenance_without_an_end_lasts_its_duration_or_until_ended(
    two_members,
) -> None:
    check = new_check("velo.example")
    timed = Maintenance.objects.create(
        title="Une heure", starts_at=at("2025-05-01T10:00"), duration_minutes=60
    )
    assert maintenance.active_check_ids(at("2025-05-01T10:59")) == {check.pk}
    assert maintenance.active_check_ids(at("2025-05-01T11:00")) == set()
    timed.delete()
    Maintenance.objects.create(title="Jusqu'à nouvel ordre", starts_at=at("2025-05-01T10:00"))
    assert maintenance.active_check_ids(at("2026-05-01T10:00")) == {check.pk}
    # A disabled check is not under maintenance: it is not watched at all.
    Check.objects.filter(pk=check.pk).update(enabled=False)
    assert maintenance.active_check_ids(at("2026-05-01T10:00")) == set()
