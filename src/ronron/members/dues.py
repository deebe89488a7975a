"""The dues calendar: the status of a year's membership on a given day."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from ronron.config import DuesCalendar

if TYPE_CHECKING:
    from ronron.members.models import Membership


def membership_status(membership: Membership, day: date, calendar: DuesCalendar) -> str:
    """paid / cut_off / overdue / called / not_called, as the calendar sees ``day``.

    A membership is *called* once its dues have been called (recorded, or the call date has
    passed), *overdue* from the reminder date while unpaid, and *cut off* from the cut-off date
    while still unpaid. A payment, whenever it comes, makes it *paid*.
    """
    year = membership.year
    if membership.paid_on is not None:
        return "paid"
    if day >= calendar.cutoff_date(year):
        return "cut_off"
    if day >= calendar.reminder_date(year):
        return "overdue"
    if membership.called_on is not None or day >= calendar.call_date(year):
        return "called"
    return "not_called"


def default_amount(kind: str, calendar: DuesCalendar) -> object:
    return calendar.amount_individual if kind == "individual" else calendar.amount_association
