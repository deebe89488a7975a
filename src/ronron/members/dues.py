"""The dues calendar: the status of a year's membership on a given day."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Case, CharField, QuerySet, Value, When
from django.db.models.expressions import Combinable

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


def dues_status_expression(
    year: int, today: date, calendar: DuesCalendar | None = None
) -> Combinable:
    """The SQL twin of :func:`ronron.members.dues.membership_status` for memberships of one
    ``year``: the calendar's dates for that year are constants, only payment and call vary."""
    cal = calendar or settings.RONRON.dues
    unpaid: Combinable
    if today >= cal.cutoff_date(year):
        unpaid = Value("cut_off")
    elif today >= cal.reminder_date(year):
        unpaid = Value("overdue")
    elif today >= cal.call_date(year):
        unpaid = Value("called")
    else:
        unpaid = Case(
            When(called_on__isnull=False, then=Value("called")), default=Value("not_called")
        )
    return Case(
        When(paid_on__isnull=False, then=Value("paid")),
        default=unpaid,
        output_field=CharField(),
    )


def annotate_dues_status(
    memberships: QuerySet[Membership], year: int, today: date
) -> QuerySet[Any]:
    """``memberships`` (all of ``year``) with a ``dues_status`` column."""
    return memberships.annotate(dues_status=dues_status_expression(year, today))
