"""The follow-up of dues, day by day along the calendar (``settings.RONRON.dues``).

Run once a day by the chore ``dues.follow_up`` (members/chores_lifecycle.py):

* **call** — from the call date of a year until its cut-off, every current member that owes
  that year and has no call recorded is called (``members.actions.call_dues``) and sent
  ``dues.call``. A membership someone else called (an admin, the onboarding) is left alone.
* **reminder** — from the reminder date until the cut-off, ``dues.reminder`` goes once to
  every member still unpaid whose dues were called at least ``GRACE`` before it.
* **cut-off** — from the cut-off date until the next year's call, ``dues.cutoff`` goes once
  to every member still unpaid whose dues were called at least ``GRACE`` before it; if
  ``[lifecycle] suspend_unpaid`` is on, its managed services that run are suspended (the
  reason and the list recorded) and it is sent ``dues.suspended``.
* **payment** — a payment recorded later resumes exactly the services the cut-off suspended
  (:func:`resume_after_payment`, called by the payment actions; the daily run catches any
  payment recorded another way), never one suspended for another reason or a member leaving.

Who gets these messages: the member's billing contacts and treasurers; without one, its
president; without one, its first contact. Each step is a ``DuesNotice`` row written before
the message goes (so never twice); a message that could not go keeps its error on the row and
in the audit, and is tried again the next day.

A member owes a year's dues unless it leaves before that year's cut-off (a notice given by the
deadline, see members/offboarding.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ronron.config import DuesCalendar
from ronron.core import audit, mail
from ronron.members import actions
from ronron.members.models import Contact, Member, Membership
from ronron.members.models_lifecycle import DuesNotice
from ronron.services.models import Service

log = logging.getLogger(__name__)

OWING = (Member.Status.MEMBER, Member.Status.LEAVING)
# Dues called late (a member admitted in August) get a month to be paid before any reminder
# or cut-off: those steps skip a year called less than this before them.
GRACE = timedelta(days=30)
# A message that could not go is tried again each day for this long; after that its error
# stays on the notice and in the member's history for an admin to see.
RETRY_FOR = timedelta(days=14)
SUSPENSION_REASON = "dues unpaid at the cut-off"


def absolute(path: str) -> str:
    return settings.RONRON.public_url.rstrip("/") + path


def dues_recipients(member: Member) -> list[str]:
    """The member's billing contacts and treasurers; else its president; else its first."""
    contacts = list(member.contacts.exclude(email="").order_by("pk"))
    for roles in ((Contact.Role.BILLING, Contact.Role.TREASURER), (Contact.Role.PRESIDENT,)):
        chosen = [c.email for c in contacts if set(roles) & set(c.role_list)]
        if chosen:
            return chosen
    return [contacts[0].email] if contacts else []


def owes(member: Member, year: int, calendar: DuesCalendar) -> bool:
    """Whether the member owes ``year``'s dues: a current member not leaving before the
    year's cut-off."""
    if member.status not in OWING:
        return False
    return member.left_on is None or member.left_on >= calendar.cutoff_date(year)


def year_being_called(today: date, calendar: DuesCalendar) -> int | None:
    """The year whose dues are being called on ``today`` (between its call and its cut-off)."""
    for year in (today.year, today.year + 1):
        if calendar.call_date(year) <= today < calendar.cutoff_date(year):
            return year
    return None


def _context(membership: Membership, calendar: DuesCalendar) -> dict[str, Any]:
    member = membership.member
    return {
        "member_name": member.name,
        "member_number": member.number,
        "year": membership.year,
        "amount": membership.amount,
        "called_on": membership.called_on,
        "reminder_date": calendar.reminder_date(membership.year),
        "cutoff_date": calendar.cutoff_date(membership.year),
        "portal_url": absolute("/portal/"),
    }


def _claim(membership: Membership, step: str, **values: Any) -> DuesNotice | None:
    """The step's row, new; None when the step was already taken."""
    try:
        with transaction.atomic():
            return DuesNotice.objects.create(membership=membership, step=step, **values)
    except IntegrityError:
        return None


def _send(notice: DuesNotice, key: str, calendar: DuesCalendar) -> bool:
    """Send the step's message and write down how it went; True when it went."""
    membership = notice.membership
    recipients = dues_recipients(membership.member)
    error = mail.send_recorded(
        key,
        recipients,
        _context(membership, calendar),
        member_id=membership.member_id,
        obj=membership,
    )
    DuesNotice.objects.filter(pk=notice.pk).update(
        recipients=recipients,
        sent_at=None if error else timezone.now(),
        error=error or "",
    )
    return error is None


def _retry(
    step: str, key: str, calendar: DuesCalendar, figures: Counter[str], now: datetime
) -> None:
    """Messages of a step that could not go last time (or were cut off by a crash)."""
    waiting = DuesNotice.objects.filter(
        step=step, sent_at__isnull=True, created_at__gte=now - RETRY_FOR
    ).select_related("membership__member")
    for notice in waiting:
        if notice.membership.paid_on is not None and step != DuesNotice.Step.SUSPENDED:
            continue  # paid since: the message would be wrong
        figures[f"{step}_sent" if _send(notice, key, calendar) else f"{step}_failed"] += 1


@dataclass
class FollowUp:
    today: date
    calendar: DuesCalendar
    suspend_unpaid: bool
    figures: Counter[str]
    members_to_apply: set[str]

    def call(self) -> None:
        year = year_being_called(self.today, self.calendar)
        if year is None:
            return
        called = set(
            Membership.objects.filter(year=year)
            .filter(called_on__isnull=False)
            .values_list("member_id", flat=True)
        )
        paid = set(
            Membership.objects.filter(year=year, paid_on__isnull=False).values_list(
                "member_id", flat=True
            )
        )
        for member in Member.objects.filter(status__in=OWING).order_by("pk"):
            if member.pk in called or member.pk in paid or not owes(member, year, self.calendar):
                continue
            with transaction.atomic():
                membership = actions.call_dues(member, actor=None, year=year, on=self.today)
                notice = DuesNotice.objects.create(membership=membership, step=DuesNotice.Step.CALL)
            self.figures["called"] += 1
            sent = _send(notice, "dues.call", self.calendar)
            self.figures["call_sent" if sent else "call_failed"] += 1

    def _unpaid(self, year: int, step_date: date) -> list[Membership]:
        memberships = (
            Membership.objects.filter(
                year=year,
                paid_on__isnull=True,
                called_on__isnull=False,
                called_on__lte=step_date - GRACE,
                member__status__in=OWING,
            )
            .select_related("member")
            .order_by("member__number")
        )
        return [m for m in memberships if owes(m.member, year, self.calendar)]

    def remind(self) -> None:
        year = self.today.year
        reminder = self.calendar.reminder_date(year)
        if not reminder <= self.today < self.calendar.cutoff_date(year):
            return
        for membership in self._unpaid(year, reminder):
            notice = _claim(membership, DuesNotice.Step.REMINDER)
            if notice is not None:
                sent = _send(notice, "dues.reminder", self.calendar)
                self.figures["reminder_sent" if sent else "reminder_failed"] += 1

    def cut_off(self) -> None:
        year = self.today.year
        if self.today < self.calendar.cutoff_date(year):
            year -= 1
        if self.today >= self.calendar.call_date(year + 1):
            return  # the next year's cycle has begun: last year's cut-off is history
        cutoff = self.calendar.cutoff_date(year)
        for membership in self._unpaid(year, cutoff):
            notice = _claim(membership, DuesNotice.Step.CUTOFF)
            if notice is not None:
                sent = _send(notice, "dues.cutoff", self.calendar)
                self.figures["cutoff_sent" if sent else "cutoff_failed"] += 1
            if self.suspend_unpaid:
                self._suspend(membership)

    def _suspend(self, membership: Membership) -> None:
        if DuesNotice.objects.filter(
            membership=membership, step=DuesNotice.Step.SUSPENDED
        ).exists():
            return
        notice = suspend_for_non_payment(membership)
        if notice is None:
            return
        self.figures["suspended"] += len(notice.services)
        self.members_to_apply.add(membership.member.number)
        sent = _send(notice, "dues.suspended", self.calendar)
        self.figures["suspended_sent" if sent else "suspended_failed"] += 1

    def resume_paid(self) -> None:
        waiting = DuesNotice.objects.filter(
            step=DuesNotice.Step.SUSPENDED,
            resumed_at__isnull=True,
            membership__paid_on__isnull=False,
        ).select_related("membership__member")
        for notice in waiting:
            resumed = resume_after_payment(notice.membership, actor=None)
            if resumed:
                self.figures["resumed"] += len(resumed)
                self.members_to_apply.add(notice.membership.member.number)


@transaction.atomic
def suspend_for_non_payment(membership: Membership) -> DuesNotice | None:
    """Suspend the member's running managed services because ``membership`` is unpaid at the
    cut-off; the notice lists them (None when there was nothing to suspend)."""
    from ronron.services.actions import suspend_service

    running = list(
        Service.objects.select_for_update()
        .filter(
            member_id=membership.member_id,
            managed=True,
            removed_at__isnull=True,
            wanted_state=Service.Wanted.PRESENT,
        )
        .order_by("pk")
    )
    if not running:
        return None
    for service in running:
        suspend_service(service, actor=None)
    services = [service.pk for service in running]
    notice = DuesNotice.objects.create(
        membership=membership, step=DuesNotice.Step.SUSPENDED, services=services
    )
    audit.record(
        "membership.services_suspended",
        actor=None,
        obj=membership,
        member_id=membership.member_id,
        after={"year": membership.year, "services": services, "reason": SUSPENSION_REASON},
    )
    return notice


def resume_after_payment(membership: Membership, *, actor: Any) -> list[int]:
    """Resume the services suspended because ``membership`` was unpaid, now that it is paid:
    only those still suspended, and not for a member leaving or gone (their services stay
    suspended). Returns the services resumed. Safe to call inside the payment's transaction,
    and for any membership (nothing happens when nothing was suspended)."""
    from ronron.services.actions import resume_service

    with transaction.atomic():
        notice = (
            DuesNotice.objects.select_for_update()
            .filter(membership_id=membership.pk, step=DuesNotice.Step.SUSPENDED)
            .filter(resumed_at__isnull=True)
            .first()
        )
        if notice is None:
            return []
        membership = Membership.objects.select_related("member").get(pk=membership.pk)
        if membership.paid_on is None or membership.member.status != Member.Status.MEMBER:
            return []
        resumed = []
        for service in Service.objects.filter(
            pk__in=notice.services,
            removed_at__isnull=True,
            wanted_state=Service.Wanted.SUSPENDED,
        ).order_by("pk"):
            resume_service(service, actor=actor)
            resumed.append(service.pk)
        DuesNotice.objects.filter(pk=notice.pk).update(resumed_at=timezone.now())
        audit.record(
            "membership.services_resumed",
            actor=actor,
            obj=membership,
            member_id=membership.member_id,
            after={"year": membership.year, "services": resumed},
        )
    return resumed


def payment_recorded(membership: Membership, *, actor: Any) -> list[int]:
    """The hook of the payment actions (``record_payment``, ``update_membership``): resume
    what the missed payment suspended, and have the change made real once committed."""
    resumed = resume_after_payment(membership, actor=actor)
    if resumed:
        number = Member.objects.filter(pk=membership.member_id).values_list("number", flat=True)
        start_apply_later(number[0], actor=actor)
    return resumed


def start_apply_later(number: str, *, actor: Any = None) -> None:
    """An apply for the member once the current transaction is committed."""

    def start() -> None:
        from ronron.reconcile.actions import start_apply

        try:
            start_apply(actor=actor, member=number)
        except Exception:  # the change is recorded; an admin can apply from the console
            log.exception("could not start an apply for member %s", number)

    transaction.on_commit(start, robust=True)


def follow_up(now: datetime) -> dict[str, int]:
    """The daily run (see the module); returns its figures."""
    lifecycle = settings.RONRON.lifecycle
    run = FollowUp(
        today=timezone.localdate(now),
        calendar=settings.RONRON.dues,
        suspend_unpaid=lifecycle.suspend_unpaid,
        figures=Counter(),
        members_to_apply=set(),
    )
    for step, key in (
        (DuesNotice.Step.CALL, "dues.call"),
        (DuesNotice.Step.REMINDER, "dues.reminder"),
        (DuesNotice.Step.CUTOFF, "dues.cutoff"),
        (DuesNotice.Step.SUSPENDED, "dues.suspended"),
    ):
        _retry(step, key, run.calendar, run.figures, timezone.now())
    run.resume_paid()
    run.call()
    run.remind()
    run.cut_off()
    for number in sorted(run.members_to_apply):
        start_apply_later(number)
    return dict(sorted(run.figures.items()))
