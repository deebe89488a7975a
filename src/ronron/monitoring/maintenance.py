"""Maintenance windows: which stretches of time apply to which check.

A maintenance is one-off (``starts_at`` → ``ends_at``; with no end it lasts ``duration_minutes``
or, with no duration either, until someone ends it) or recurring (an RRULE expanded from
``starts_at``, each occurrence lasting ``duration_minutes``; ``ends_at``, when set, is the last
moment an occurrence may start). Recurrences are expanded in the hoster's time zone
(``settings.TIME_ZONE``), so "BYHOUR=3" stays at 3 o'clock on both sides of a DST change.

Scope: no member and no check listed → every check; otherwise the checks of its member and the
checks it lists.
"""

from __future__ import annotations

import calendar
import itertools
import re
import zoneinfo
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from dateutil.rrule import rrule, rrulestr  # type: ignore[import-untyped]
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from ronron.monitoring.models import Check, Maintenance

Interval = tuple[datetime, datetime]

# An RRULE is expanded over up to a year for availability: a rule firing every minute would
# make hundreds of thousands of windows. Hourly is the finest a maintenance needs.
_ALLOWED_FREQUENCIES = {"HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
# What a maintenance rule may say. dateutil looks for the next occurrence of a rule that can
# never fire (30 February, the first Sunday falling on the 10th) up to the year 9999, which takes
# minutes: the parts kept here are those whose days ``_some_day_matches`` can check first.
_ALLOWED_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYMONTHDAY", "BYDAY"}
_ALLOWED_PARTS |= {"BYHOUR", "BYMINUTE", "WKST"}
_MAX_OCCURRENCES_PER_YEAR = 9000
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY = re.compile(r"([+-]?[0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_REFERENCE_START = datetime(2024, 1, 1, tzinfo=UTC)
_OPEN_ENDED = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)


def _invalid(rule: str) -> ValidationError:
    return ValidationError(
        _("“%(rule)s” is not a recurrence rule (example: FREQ=WEEKLY;BYDAY=SU;BYHOUR=3).")
        % {"rule": rule[:100]},
        code="recurrence_invalid",
    )


def validate_recurrence(text: str) -> str:
    """Check an RFC 5545 recurrence rule and return it normalised (upper case, no ``RRULE:``).

    An empty text is valid: the maintenance is one-off.
    """
    rule = (text or "").strip()
    if not rule:
        return ""
    if any(char in rule for char in "\r\n\x00"):
        raise ValidationError(
            _("Line breaks and NUL characters are not allowed here."), code="control_character"
        )
    upper = rule.upper().removeprefix("RRULE:")
    parts: dict[str, str] = {}
    for part in filter(None, upper.split(";")):
        name, equals, value = part.partition("=")
        if not equals or not value or name in parts:
            raise _invalid(rule)
        parts[name] = value
    unknown = sorted(set(parts) - _ALLOWED_PARTS)
    if unknown:
        raise ValidationError(
            _("%(part)s cannot be used in a maintenance rule; use FREQ, INTERVAL, COUNT, UNTIL, "
              "BYMONTH, BYMONTHDAY, BYDAY, BYHOUR or BYMINUTE.") % {"part": unknown[0][:30]},
            code="recurrence_parts",
        )  # fmt: skip
    if "UNTIL" in parts and not re.fullmatch(r"[0-9]{8}T[0-9]{6}Z", parts["UNTIL"]):
        raise ValidationError(
            _("UNTIL is a UTC date and time such as 20261231T235900Z."), code="recurrence_until"
        )
    if parts.get("FREQ") not in _ALLOWED_FREQUENCIES:
        raise ValidationError(
            _("The rule needs FREQ=HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY."),
            code="recurrence_frequency",
        )
    normalised = ";".join(f"{name}={value}" for name, value in parts.items())
    try:
        parsed = rrulestr(normalised, dtstart=_REFERENCE_START)
        days = _day_filter(parts)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise _invalid(rule) from exc
    if not isinstance(parsed, rrule):
        raise _invalid(rule)
    if not _some_day_matches(days):
        raise ValidationError(
            _("This rule never happens (no such day in the calendar)."), code="recurrence_never"
        )
    year_later = _REFERENCE_START + timedelta(days=366)
    first_year = itertools.takewhile(lambda at: at < year_later, parsed)
    if sum(1 for _at in itertools.islice(first_year, _MAX_OCCURRENCES_PER_YEAR + 1)) > (
        _MAX_OCCURRENCES_PER_YEAR
    ):
        raise ValidationError(
            _("This rule repeats too often: at most %(count)s windows a year.")
            % {"count": _MAX_OCCURRENCES_PER_YEAR},
            code="recurrence_too_often",
        )
    return normalised


_DayFilter = tuple[str, set[int], set[int], set[tuple[int, int]]]


def _day_filter(parts: dict[str, str]) -> _DayFilter:
    """(frequency, months, month days, (ordinal or 0, weekday)) as the rule gives them."""

    def numbers(name: str) -> set[int]:
        return {int(item) for item in parts[name].split(",")} if name in parts else set()

    weekdays: set[tuple[int, int]] = set()
    for item in parts["BYDAY"].split(",") if "BYDAY" in parts else []:
        match = _BYDAY.fullmatch(item)
        if match is None:
            raise ValueError(item)
        ordinal = int(match.group(1) or 0)
        if ordinal and parts["FREQ"] not in {"MONTHLY", "YEARLY"}:
            raise ValueError(item)  # RFC 5545: ordinals only with a monthly or yearly rule
        weekdays.add((ordinal, _WEEKDAYS.index(match.group(2))))
    return parts["FREQ"], numbers("BYMONTH"), numbers("BYMONTHDAY"), weekdays


def _some_day_matches(days: _DayFilter) -> bool:
    """Whether any day of eight years (two leap cycles) passes the rule's day filters."""
    frequency, months, month_days, weekdays = days
    within_year = frequency == "YEARLY" and not months
    day = _REFERENCE_START.date()
    for _offset in range(8 * 366):
        day += timedelta(days=1)
        month_length = calendar.monthrange(day.year, day.month)[1]
        year_length = 366 if calendar.isleap(day.year) else 365
        if months and day.month not in months:
            continue
        if month_days and not {day.day, day.day - month_length - 1} & month_days:
            continue
        if weekdays:
            if within_year:
                position, length = day.timetuple().tm_yday, year_length
            else:
                position, length = day.day, month_length
            ordinals = {0, (position - 1) // 7 + 1, -((length - position) // 7 + 1)}
            if not any((n, day.weekday()) in weekdays for n in ordinals):
                continue
        return True
    return False


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals covering the same time (touching ones joined)."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _windows(row: dict[str, Any], start: datetime, end: datetime) -> list[Interval]:
    """The windows of one maintenance that overlap [start, end), clipped to it."""
    duration = timedelta(minutes=row["duration_minutes"])
    if not row["recurrence"]:
        until = row["ends_at"] or (row["starts_at"] + duration if duration else _OPEN_ENDED)
        found = [(row["starts_at"], until)]
    elif not duration:
        found = []
    else:
        local = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        try:
            rule = rrulestr(row["recurrence"], dtstart=row["starts_at"].astimezone(local))
        except (ValueError, TypeError, KeyError):
            # Validated on the way in; a rule that stopped parsing applies nowhere.
            return []
        last_start = end if row["ends_at"] is None else min(end, row["ends_at"])
        assert isinstance(rule, rrule)
        occurrences = rule.between(
            (start - duration).astimezone(local), last_start.astimezone(local), inc=True
        )
        found = [(at.astimezone(UTC), at.astimezone(UTC) + duration) for at in occurrences]
    return [(max(s, start), min(e, end)) for s, e in found if s < end and e > start]


def _rows(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Maintenances that may overlap [start, end), one row per check listed (one query)."""
    overlapping = Q(starts_at__lt=end) & (
        ~Q(recurrence="") | Q(ends_at__isnull=True) | Q(ends_at__gt=start)
    )
    rows = Maintenance.objects.filter(overlapping).values(
        "pk",
        "starts_at",
        "ends_at",
        "recurrence",
        "duration_minutes",
        "member_id",
        "checks__id",
    )
    return cast("list[dict[str, Any]]", list(rows))


def _by_scope(
    rows: list[dict[str, Any]], start: datetime, end: datetime
) -> tuple[list[Interval], dict[int, list[Interval]], dict[int, list[Interval]]]:
    """(global windows, windows per member, windows per listed check)."""
    everyone: list[Interval] = []
    per_member: dict[int, list[Interval]] = {}
    per_check: dict[int, list[Interval]] = {}
    for _pk, group in itertools.groupby(sorted(rows, key=lambda r: r["pk"]), key=lambda r: r["pk"]):
        listed = list(group)
        windows = _windows(listed[0], start, end)
        if not windows:
            continue
        member_id = listed[0]["member_id"]
        check_ids = [row["checks__id"] for row in listed if row["checks__id"] is not None]
        if member_id is None and not check_ids:
            everyone.extend(windows)
        if member_id is not None:
            per_member.setdefault(member_id, []).extend(windows)
        for check_id in check_ids:
            per_check.setdefault(check_id, []).extend(windows)
    return merge(everyone), per_member, per_check


def intervals_by_check(
    checks: Iterable[Check], start: datetime, end: datetime
) -> dict[int, list[Interval]]:
    """The merged maintenance windows within [start, end) of each check (one query).

    Checks without any window are left out; checks that share the same windows share the
    same list object (do not change it).
    """
    everyone, per_member, per_check = _by_scope(_rows(start, end), start, end)
    result: dict[int, list[Interval]] = {}
    member_cache: dict[int, list[Interval]] = {}
    for check in checks:
        own = per_check.get(check.pk, [])
        if check.member_id is not None and check.member_id in per_member:
            if check.member_id not in member_cache:
                member_cache[check.member_id] = merge(everyone + per_member[check.member_id])
            shared = member_cache[check.member_id]
        else:
            shared = everyone
        windows = merge(shared + own) if own else shared
        if windows:
            result[check.pk] = windows
    return result


def intervals(check: Check, start: datetime, end: datetime) -> list[Interval]:
    """The merged maintenance windows that apply to ``check`` within [start, end)."""
    return list(intervals_by_check([check], start, end).get(check.pk, []))


def active_check_ids(now: datetime) -> set[int]:
    """The enabled checks under maintenance at ``now``."""
    # A window covering ``now`` overlaps the next microsecond.
    everyone, per_member, per_check = _by_scope(
        _rows(now, now + timedelta(microseconds=1)), now, now + timedelta(microseconds=1)
    )
    enabled = Check.objects.filter(enabled=True)
    if everyone:
        return set(enabled.values_list("pk", flat=True))
    if not per_member and not per_check:
        return set()
    return set(
        enabled.filter(Q(member_id__in=list(per_member)) | Q(pk__in=list(per_check))).values_list(
            "pk", flat=True
        )
    )
