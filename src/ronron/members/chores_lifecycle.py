"""The daily chores of a member's life after onboarding: the dues follow-up and the steps of a
departure (leaving day, removal of the services, erasure of the personal data)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ronron.core import chores
from ronron.members import dues_reminders, offboarding, offboarding_erasure

DAILY = timedelta(days=1)


@chores.register("dues.follow_up", every=DAILY)
def dues_follow_up(now: datetime) -> Any:
    return dues_reminders.follow_up(now)


@chores.register("offboarding.leave", every=DAILY)
def offboarding_leave(now: datetime) -> Any:
    return offboarding.leave_due(now)


@chores.register("offboarding.remove_services", every=DAILY)
def offboarding_remove_services(now: datetime) -> Any:
    return offboarding.remove_due(now)


@chores.register("offboarding.erase_personal_data", every=DAILY)
def offboarding_erase(now: datetime) -> Any:
    return offboarding_erasure.erase_due(now)
