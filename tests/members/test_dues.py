"""The dues calendar: Le PIC's defaults and a configured calendar."""

from datetime import date
from decimal import Decimal

import pytest

from ronron.config import ConfigError, DuesCalendar, load
from ronron.members.dues import membership_status
from ronron.members.models import Membership

LE_PIC = DuesCalendar()


def status(day: date, *, year: int = 2026, called_on=None, paid_on=None, cal=LE_PIC) -> str:
    membership = Membership(year=year, amount=Decimal(30), called_on=called_on, paid_on=paid_on)
    return membership_status(membership, day, cal)


def test_le_pic_calendar_dates():
    assert LE_PIC.call_date(2026) == date(2025, 12, 1)
    assert LE_PIC.reminder_date(2026) == date(2026, 6, 1)
    assert LE_PIC.cutoff_date(2026) == date(2026, 9, 1)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 11, 30), "not_called"),
        (date(2025, 12, 1), "called"),
        (date(2026, 5, 31), "called"),
        (date(2026, 6, 1), "overdue"),
        (date(2026, 8, 31), "overdue"),
        (date(2026, 9, 1), "cut_off"),
        (date(2027, 3, 1), "cut_off"),
    ],
)
def test_unpaid_dues_move_through_the_calendar(day, expected):
    assert status(day) == expected


def test_a_recorded_call_counts_before_the_calendar_date():
    assert status(date(2025, 11, 15), called_on=date(2025, 11, 10)) == "called"


def test_payment_wins_whenever_it_comes():
    assert status(date(2026, 10, 1), paid_on=date(2026, 9, 20)) == "paid"
    assert status(date(2025, 12, 2), paid_on=date(2025, 12, 2)) == "paid"


def test_a_configured_calendar_is_used(tmp_path):
    path = tmp_path / "ronron.toml"
    path.write_text('[dues]\ncall = "01-15"\nreminder = "03-01"\ncutoff = "04-30"\n')
    cal = load({"RONRON_CONFIG": str(path), "RONRON_DATA_DIR": str(tmp_path)}).dues
    # A call in January is for the same year.
    assert cal.call_date(2026) == date(2026, 1, 15)
    assert status(date(2026, 1, 10), cal=cal) == "not_called"
    assert status(date(2026, 3, 1), cal=cal) == "overdue"
    assert status(date(2026, 4, 30), cal=cal) == "cut_off"


def test_environment_overrides_the_file(tmp_path):
    path = tmp_path / "ronron.toml"
    path.write_text('[dues]\ncutoff = "10-01"\n')
    env = {
        "RONRON_CONFIG": str(path),
        "RONRON_DATA_DIR": str(tmp_path),
        "RONRON_DUES_CUTOFF": "11-15",
    }
    assert load(env).dues.cutoff_date(2026) == date(2026, 11, 15)


@pytest.mark.parametrize("bad", ["13-01", "02-30", "1er juin", ""])
def test_a_bad_calendar_date_is_refused_with_its_key(tmp_path, bad):
    env = {"RONRON_DATA_DIR": str(tmp_path), "RONRON_DUES_REMINDER": bad}
    with pytest.raises(ConfigError, match=r"dues\.reminder"):
        load(env)
