"""Where a new member stands in its onboarding: each step, whether it is done, who it waits on
and since when; and the console's list of members still on their way, the stuck ones first.

Everything is read from what the other parts record (the application, the member, its dues,
its service requests and their services as last observed, the credentials deliveries): the
checklist keeps no state of its own, so it cannot drift from the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import idna
from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ronron.members.models import Application, Member, Membership
from ronron.portal.models import ServiceRequest
from ronron.services.models import Service

DONE, CURRENT, WAITING = "done", "current", "waiting"
BOARD, ADMINS, MEMBER = "board", "admins", "member"

STATE_LABELS: dict[str, Any] = {
    DONE: gettext_lazy("Done"),
    CURRENT: gettext_lazy("In progress"),
    WAITING: gettext_lazy("Not yet"),
}
WAITS_ON_LABELS: dict[str, Any] = {
    BOARD: gettext_lazy("the board"),
    ADMINS: gettext_lazy("the hoster's admins"),
    MEMBER: gettext_lazy("the member"),
}
STEP_LABELS: dict[str, Any] = {
    "received": gettext_lazy("Application received"),
    "decision": gettext_lazy("Board's decision"),
    "member": gettext_lazy("Member created with its number"),
    "dues_called": gettext_lazy("First dues called"),
    "dues_paid": gettext_lazy("Dues paid"),
    "services": gettext_lazy("Requested services set up"),
    "welcome": gettext_lazy("Welcome sent"),
    "done": gettext_lazy("Done"),
}
# Status classes of the stylesheet (each carries a word as well as a colour).
CSS = {DONE: "ok", CURRENT: "running", WAITING: "muted"}
WELCOME_FAILED = "onboarding.welcome_failed"
# Waiting for the dues does not hold the services back (nor the welcome).
NOT_BLOCKING = {"dues_paid"}


@dataclass(frozen=True)
class Item:
    """One thing within a step: a requested service, a credentials link."""

    label: str
    status: str
    state: str
    waits_on: str = ""
    since: datetime | None = None

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])

    @property
    def waits_on_label(self) -> str:
        return str(WAITS_ON_LABELS.get(self.waits_on, ""))

    @property
    def css(self) -> str:
        return CSS[self.state]


@dataclass(frozen=True)
class Step:
    key: str
    state: str
    waits_on: str = ""
    since: datetime | None = None
    detail: str = ""
    items: tuple[Item, ...] = ()

    @property
    def label(self) -> str:
        return str(STEP_LABELS[self.key])

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])

    @property
    def waits_on_label(self) -> str:
        return str(WAITS_ON_LABELS.get(self.waits_on, ""))

    @property
    def css(self) -> str:
        """The stylesheet's status class: a stuck step shows as overdue."""
        if self.state == CURRENT and self.stuck:
            return "overdue"
        return CSS[self.state]

    def waiting_days(self, now: datetime | None = None) -> int | None:
        if self.state != CURRENT or self.since is None:
            return None
        return max(0, ((now or timezone.now()) - self.since).days)

    @property
    def days_waiting(self) -> int | None:
        return self.waiting_days()

    @property
    def stuck(self) -> bool:
        if self.state != CURRENT or self.since is None:
            return False
        limit = timedelta(days=settings.RONRON.lifecycle.stuck_after_days)
        return timezone.now() - self.since > limit


def _start_of(day: date | None) -> datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def shown_address(value: str) -> str:
    """A domain or list address as people write it (``café.fr``), not its IDNA form."""
    local, at, domain = (value or "").rpartition("@")
    try:
        shown = idna.decode(domain) if domain else ""
    except (idna.IDNAError, UnicodeError):
        shown = domain
    return f"{local}{at}{shown}"


def _first_membership(member: Member) -> Membership | None:
    return member.memberships.order_by("year", "pk").first()


# --- the requested services ------------------------------------------------------------------


def _hands_over_credentials(service: Service) -> bool:
    from ronron.services.handover import supports_hand_over

    return supports_hand_over(service)


def _credentials_sent(service: Service) -> bool:
    return service.credentials_revealed_at is not None or service.secret_deliveries.exists()


def _request_item(request: ServiceRequest) -> tuple[Item, bool]:
    """The request as an item, and whether it holds the welcome back."""
    label = request.offer.title + (f" — {shown_address(request.domain)}" if request.domain else "")
    status = ServiceRequest.Status
    if request.status in {status.REFUSED, status.CANCELLED}:
        return Item(label, request.get_status_display(), DONE, since=request.decided_at), False
    if request.status == status.PENDING:
        from ronron.portal.actions_requests import last_problem

        problem = last_problem(request)
        text = (
            _("Waiting for an admin: %(problem)s") % {"problem": problem}
            if problem
            else _("Waiting for an admin's approval")
        )
        return Item(label, text, CURRENT, ADMINS, request.created_at), True
    service = request.service
    asked = request.decided_at or request.created_at
    if service is None:
        return Item(label, _("Approved, to be created"), CURRENT, ADMINS, asked), True
    if service.observed_state != Service.Observed.PRESENT:
        status_text = _("Being set up (%(state)s)") % {
            "state": service.get_observed_state_display()
        }
        return Item(label, status_text, CURRENT, ADMINS, asked), True
    if _hands_over_credentials(service) and not _credentials_sent(service):
        return Item(
            label, _("Running; credentials not sent yet"), CURRENT, ADMINS, service.observed_at
        ), True
    return Item(label, _("Ready"), DONE, since=service.observed_at), False


def _services_step(member: Member, started: datetime | None) -> Step:
    requests = list(
        member.service_requests.select_related("offer", "service").order_by("created_at", "pk")
    )
    items: list[Item] = []
    holding = 0
    for request in requests:
        item, holds = _request_item(request)
        items.append(item)
        holding += holds
    if member.welcomed_at is not None or not holding:
        ready = [i.since for i in items if i.state == DONE]
        since = _latest(started, *ready)
        if member.welcomed_at is not None:
            since = min(since, member.welcomed_at) if since else member.welcomed_at
        detail = "" if requests else _("No service asked for.")
        return Step("services", DONE, since=since, detail=detail, items=tuple(items))
    counted = [i for i in items if i.state == DONE or i.waits_on]
    detail = _("%(ready)d of %(total)d ready") % {
        "ready": sum(1 for i in counted if i.state == DONE),
        "total": len(counted),
    }
    return Step("services", CURRENT, ADMINS, started, detail, tuple(items))


def _welcome_items(member: Member) -> tuple[Item, ...]:
    from ronron.secrets.models import Delivery

    deliveries = Delivery.objects.filter(member=member).order_by("created_at", "pk")
    return tuple(
        Item(
            _("%(purpose)s, to %(recipient)s") % {"purpose": d.purpose, "recipient": d.recipient},
            _("Link opened") if d.revealed_at else _("Link sent, not opened yet"),
            DONE,
            since=d.created_at,
        )
        for d in deliveries
    )


def _welcome_problem(member: Member) -> str:
    """Why the welcome did not go yet, if the chore said so (it writes each failure once)."""
    from ronron.core.models import AuditEntry

    entry = (
        AuditEntry.objects.filter(member_id=member.pk, action=WELCOME_FAILED)
        .order_by("-created_at", "-pk")
        .first()
    )
    return str((entry.after or {}).get("problem", "")) if entry is not None else ""


# --- the whole journey -----------------------------------------------------------------------


def _build(application: Application | None, member: Member | None) -> list[Step]:
    steps: list[Step] = []
    # received
    if application is not None:
        received = application.created_at
    else:
        assert member is not None
        received = _start_of(member.applied_on) or member.created_at
    steps.append(Step("received", DONE, since=received))
    # the board's decision
    decided: datetime | None = None
    if application is not None and application.status == Application.Status.REFUSED:
        decided = _latest(_start_of(application.decided_on), received)
        detail = _("Refused: %(reason)s") % {"reason": application.reason}
        steps.append(Step("decision", DONE, since=decided, detail=detail))
        return steps
    pending = (application is not None and application.status == Application.Status.PENDING) or (
        member is not None and member.status == Member.Status.APPLIED
    )
    if pending or member is None:
        steps.append(Step("decision", CURRENT, BOARD, received))
    else:
        # Recorded when the member was made (the decision itself may carry an earlier date).
        decided = member.created_at if application is not None else None
        decided = decided or _latest(_start_of(member.approved_on), member.created_at)
        detail = (
            _("Approved on %(day)s.") % {"day": date_format(member.approved_on)}
            if member.approved_on
            else ""
        )
        steps.append(Step("decision", DONE, since=decided, detail=detail))
    if member is None:
        steps += [Step(key, WAITING) for key in list(STEP_LABELS)[2:]]
        return steps
    steps.append(Step("member", DONE, since=member.created_at, detail=member.number))
    # the dues
    first = _first_membership(member)
    called: datetime | None = None
    if first is not None and first.called_on is not None:
        called = _latest(_start_of(first.called_on), member.created_at)
        with_amount = _("%(year)s: %(amount)s €") % {
            "year": first.year,
            "amount": number_format(first.amount, 2),
        }
        steps.append(Step("dues_called", DONE, since=called, detail=with_amount))
        if first.paid_on is not None:
            paid = _latest(_start_of(first.paid_on), called)
            steps.append(Step("dues_paid", DONE, since=paid, detail=with_amount))
        else:
            steps.append(Step("dues_paid", CURRENT, MEMBER, called, with_amount))
    elif decided is not None:
        steps.append(Step("dues_called", CURRENT, ADMINS, decided))
        steps.append(Step("dues_paid", WAITING))
    else:
        steps += [Step("dues_called", WAITING), Step("dues_paid", WAITING)]
    # the services, then the welcome
    if decided is None:
        steps += [Step("services", WAITING), Step("welcome", WAITING), Step("done", WAITING)]
        return steps
    services = _services_step(member, decided)
    steps.append(services)
    if member.welcomed_at is not None:
        steps.append(Step("welcome", DONE, since=member.welcomed_at, items=_welcome_items(member)))
    elif services.state == DONE:
        problem = _welcome_problem(member)
        items = _welcome_items(member)
        steps.append(Step("welcome", CURRENT, ADMINS, services.since, problem, items))
    else:
        steps.append(Step("welcome", WAITING, items=_welcome_items(member)))
    if all(s.state == DONE for s in steps):
        steps.append(Step("done", DONE, since=_latest(*(s.since for s in steps))))
    else:
        steps.append(Step("done", WAITING))
    return steps


def checklist(member: Member) -> list[Step]:
    """The onboarding steps of ``member``, in order."""
    application = Application.objects.filter(member=member).first()
    return _build(application, member)


def application_checklist(application: Application) -> list[Step]:
    member = application.member if application.member_id else None
    return _build(application, member)


def ready_for_welcome(member: Member) -> bool:
    """Every requested service runs and its credentials went out: the welcome may go."""
    if member.status in {Member.Status.APPLIED, Member.Status.LEFT, Member.Status.LEAVING}:
        return False
    return _services_step(member, member.created_at).state == DONE


def in_onboarding(member: Member) -> bool:
    """Whether the member page shows the checklist: members who came through the form, and
    those on their way in who were not welcomed yet."""
    if Application.objects.filter(member=member).exists():
        return True
    return member.welcomed_at is None and member.status in {
        Member.Status.APPLIED,
        Member.Status.APPROVED,
    }


# --- the console's list ----------------------------------------------------------------------


@dataclass
class Row:
    name: str
    number: str
    application: Application | None
    member: Member | None
    steps: list[Step]
    days: int = 0
    stuck: bool = False

    @property
    def current(self) -> list[Step]:
        return [s for s in self.steps if s.state == CURRENT]

    @property
    def finished(self) -> bool:
        return self.steps[-1].key == "done" and self.steps[-1].state == DONE


def _candidates() -> list[Member]:
    paid = Membership.objects.filter(member=OuterRef("pk"), paid_on__isnull=False)
    on_the_way = Q(application__isnull=False) | Q(
        status__in=[Member.Status.APPLIED, Member.Status.APPROVED], welcomed_at__isnull=True
    )
    finished = Q(welcomed_at__isnull=False) & Exists(paid)
    return list(
        Member.objects.filter(on_the_way)
        .exclude(finished)
        .exclude(status__in=[Member.Status.LEAVING, Member.Status.LEFT])
        .select_related("application")
        .order_by("number")
    )


def onboarding_rows(now: datetime | None = None, stuck_after_days: int | None = None) -> list[Row]:
    """Applications waiting for the board and members still on their way, with what they wait
    for; those waiting longer than ``stuck_after_days`` at a step first."""
    now = now or timezone.now()
    days = stuck_after_days
    limit = timedelta(days=days if days is not None else settings.RONRON.lifecycle.stuck_after_days)
    rows = [
        Row(a.name, "", a, None, _build(a, None))
        for a in Application.objects.filter(
            status=Application.Status.PENDING, member__isnull=True
        ).order_by("created_at")
    ]
    for member in _candidates():
        application = getattr(member, "application", None)
        rows.append(
            Row(member.name, member.number, application, member, _build(application, member))
        )
    kept = [row for row in rows if not row.finished]
    for row in kept:
        longest = max(
            (now - s.since for s in row.current if s.since is not None), default=timedelta(0)
        )
        row.days = max(0, longest.days)
        row.stuck = longest > limit
    kept.sort(key=lambda r: (not r.stuck, -r.days, r.number, r.name))
    return kept
