"""A member's departure, from its notice to the erasure of its personal data.

1. :func:`give_notice` (the portal's departure page, or an admin on the member's behalf)
   records the notice under the rule of :func:`notice_terms`, mails
   ``offboarding.notice_received`` and starts the export job.
2. The export job (:func:`departure_export_task`) builds the member's full export (the member
   file and every service's archive, ``portal.exports``), reads it back against its SHA-256,
   and only then mails ``offboarding.export_ready`` with a download link valid
   ``EXPORT_LINK_DAYS`` days. The link holds a random token; Ronron keeps its SHA-256 only.
3. Daily chores (members/chores_lifecycle.py): on the leaving date the departure is recorded
   and every managed service suspended (its data kept); ``service_retention_days`` later the
   services whose archive is in a verified export are marked for removal (the apply exports
   and verifies each again before removing it) — without a verified export nothing is removed;
   ``personal_data_retention_days`` later the personal data is erased
   (``offboarding_erasure.erase_personal_data``), leaving what the reports count.

Every step writes an audit entry. The chores only follow members whose departure went through
Ronron (a notice or a departure recorded here): a history imported with old leaving dates is
never erased behind the admins' backs.
"""

from __future__ import annotations

import calendar as calendar_module
import hashlib
import logging
import re
import secrets
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from ronron.core import audit, mail
from ronron.core.models import AuditEntry
from ronron.core.validators import validate_email
from ronron.jobs.models import Job
from ronron.jobs.progress import enqueue, running
from ronron.members import actions
from ronron.members.models import Contact, Member
from ronron.members.models_lifecycle import DepartureExport
from ronron.services.models import Service

log = logging.getLogger(__name__)

JOB_KIND = "offboarding.export"
EXPORT_LINK_DAYS = 30
# Audit actions that say a member's departure went through Ronron.
DEPARTURE_ACTIONS = ("member.departure_notified", "member.left")
SUSPENDED = "offboarding.services_suspended"
REMOVAL_REQUESTED = "offboarding.services_removal_requested"
REMOVAL_HELD = "offboarding.removal_held"
ERASED = "member.personal_data_erased"
_SERVICE_ENTRY = re.compile(r"^services/(\d+)-[^/]+$")


def absolute(path: str) -> str:
    return settings.RONRON.public_url.rstrip("/") + path


# --- the rule ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeTerms:
    """What a notice given on ``given_on`` means."""

    given_on: date
    deadline: date  # this year's notice deadline
    in_time: bool  # given by the deadline
    last_day: date  # the last day of membership
    leave_on: date  # the member's ``left_on``: the first day it is no longer one
    year: int  # the year whose dues are spared (in time) or still owed (late)


def _deadline(year: int, month_day: tuple[int, int]) -> date:
    month, day = month_day
    return date(year, month, min(day, calendar_module.monthrange(year, month)[1]))


def notice_terms(given_on: date, joined_on: date | None = None) -> NoticeTerms:
    """The departure rule (``[lifecycle] departure_notice_by``, Le PIC: 20 January).

    Membership runs by calendar year and each year's dues are owed from its start. Le PIC lets
    a member step out of the new year without paying for it if it says so early in that year:

    * a notice given **on or before the deadline of year Y** ends the membership **at once**:
      the day of the notice is its last day, the member does not renew for Y and owes no dues
      for Y;
    * a notice given **after the deadline** counts for the end of the year: the member stays
      until **31 December of Y**, keeps its services until then, and owes Y's dues.

    Why not "by 20 January Y, leave on 31 December Y−1": that day is already past when the
    notice comes, and a past leaving date would cut services the member uses today. Leaving at
    once is what a member stepping out of the new year expects; one leaving later in the year
    expects to keep what it paid for until the year ends.

    ``left_on`` is the first day a member is no longer one (``Member.is_member_on``, the
    report's "had not left by 31 December"), so it is the day after the last day: 1 January
    of Y+1 for a late notice — the member still counts among Y's members in the report.
    """
    deadline = _deadline(given_on.year, settings.RONRON.lifecycle.departure_notice_by)
    in_time = given_on <= deadline
    last_day = given_on if in_time else date(given_on.year, 12, 31)
    if joined_on is not None and last_day < joined_on:
        last_day = joined_on
    return NoticeTerms(
        given_on, deadline, in_time, last_day, last_day + timedelta(days=1), given_on.year
    )


def deadlines(member: Member) -> dict[str, date | None]:
    """The last day of membership, and when the services are suspended, removed, and the
    personal data erased."""
    if member.left_on is None:
        return {
            "last_day": None,
            "leave_on": None,
            "remove_services_on": None,
            "erase_on": None,
        }
    lifecycle = settings.RONRON.lifecycle
    return {
        "last_day": member.left_on - timedelta(days=1),
        "leave_on": member.left_on,
        "remove_services_on": member.left_on + timedelta(days=lifecycle.service_retention_days),
        "erase_on": member.left_on + timedelta(days=lifecycle.personal_data_retention_days),
    }


# --- the notice -------------------------------------------------------------------------------


def departure_recipients(member: Member, actor: Any = None) -> list[str]:
    """The member's president and technical contacts (else its first contact), and the
    manager who gave the notice."""
    contacts = list(member.contacts.exclude(email="").order_by("pk"))
    wanted = {Contact.Role.PRESIDENT, Contact.Role.TECH}
    chosen = [c.email for c in contacts if wanted & set(c.role_list)]
    if not chosen and contacts:
        chosen = [contacts[0].email]
    email = str(getattr(actor, "email", "") or "").strip().lower()
    if email and not getattr(actor, "is_staff", False) and email not in chosen:
        try:
            validate_email(email)
        except ValidationError:
            pass
        else:
            chosen.append(email)
    return chosen


def _notice_context(member: Member, terms: NoticeTerms) -> dict[str, Any]:
    due = deadlines(member)
    return {
        "member_name": member.name,
        "member_number": member.number,
        "given_on": terms.given_on,
        "deadline": terms.deadline,
        "in_time": terms.in_time,
        "last_day": terms.last_day,
        "leave_on": member.left_on,
        "year": terms.year,
        "remove_services_on": due["remove_services_on"],
        "erase_on": due["erase_on"],
        "departure_url": absolute(reverse("portal:portal_departure:index", args=[member.number])),
    }


@transaction.atomic
def give_notice(member: Member, *, actor: Any, on: date | None = None) -> Member:
    """Record the member's notice under :func:`notice_terms`; once committed, mail
    ``offboarding.notice_received`` and start the export of all its data."""
    given_on = on or timezone.localdate()
    terms = notice_terms(given_on, member.joined_on)
    member = actions.record_departure_notice(member, actor=actor, leave_on=terms.leave_on)
    audit.record(
        "offboarding.notice_given",
        actor=actor,
        obj=member,
        member_id=member.pk,
        after={
            "given_on": terms.given_on.isoformat(),
            "deadline": terms.deadline.isoformat(),
            "in_time": terms.in_time,
            "last_day": terms.last_day.isoformat(),
            "leave_on": terms.leave_on.isoformat(),
        },
    )
    recipients = departure_recipients(member, actor)
    member_pk = member.pk

    def after_commit() -> None:
        fresh = Member.objects.get(pk=member_pk)
        mail.send_recorded(
            "offboarding.notice_received",
            recipients,
            _notice_context(fresh, terms),
            member_id=member_pk,
            obj=fresh,
        )
        start_export(fresh, actor=actor, recipients=recipients)

    transaction.on_commit(after_commit, robust=True)
    return member


# --- the export -------------------------------------------------------------------------------


def export_jobs(member: Member) -> Any:
    return Job.objects.filter(kind=JOB_KIND, params__member_id=member.pk)


def start_export(member: Member, *, actor: Any, recipients: list[str] | None = None) -> Job:
    """Queue the departure export (one at a time per member)."""
    unfinished = export_jobs(member).filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    existing = unfinished.first()
    if existing is not None:
        return existing
    return enqueue(
        departure_export_task,
        kind=JOB_KIND,
        label=_("Departure export of %(number)s") % {"number": member.number},
        actor=actor,
        params={
            "member_id": member.pk,
            "recipients": recipients if recipients is not None else departure_recipients(member),
        },
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _exported_services(path: Path) -> list[int]:
    with zipfile.ZipFile(path) as archive:
        found = {_SERVICE_ENTRY.match(name) for name in archive.namelist()}
    return sorted({int(match.group(1)) for match in found if match is not None})


def make_departure_export(
    member_id: int, *, job_id: int | None = None, recipients: list[str] | None = None
) -> DepartureExport:
    """Build, verify, record and offer the member's export (see the module)."""
    from ronron.portal.exports import build_member_export, verify_export

    member = Member.objects.get(pk=member_id)
    path = Path(build_member_export(member_id, include_services=True))
    # Read back whole against the SHA-256 written when it was made: only then offered.
    digest = verify_export(path)
    services = _exported_services(path)
    with transaction.atomic():
        export = DepartureExport.objects.create(
            member=member,
            job_id=job_id,
            file=str(path),
            size=path.stat().st_size,
            sha256=digest,
            services=services,
            verified_at=timezone.now(),
        )
        audit.record(
            "offboarding.export_verified",
            actor=None,
            obj=export,
            member_id=member.pk,
            after={"file": path.name, "sha256": digest, "services": services},
        )
    send_export_link(export, recipients=recipients)
    return export


def send_export_link(
    export: DepartureExport, *, recipients: list[str] | None = None, actor: Any = None
) -> str | None:
    """Mail a fresh download link for a verified export (an older link stops working).
    Returns the error when the mail could not go."""
    if export.verified_at is None or export.erased_at is not None:
        raise ValidationError(_("This export cannot be offered."))
    if not export_reads_back(export):
        raise ValidationError(_("The export does not read back as it was written."))
    member = export.member
    token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=EXPORT_LINK_DAYS)
    with transaction.atomic():
        DepartureExport.objects.filter(pk=export.pk).update(
            token_hash=_token_hash(token), expires_at=expires_at
        )
        audit.record(
            "offboarding.export_link_made",
            actor=actor,
            obj=export,
            member_id=member.pk,
            after={"expires_at": expires_at.isoformat()},
        )
    link = absolute(reverse("portal:portal_departure:download", args=[member.number, token]))
    to = recipients if recipients is not None else departure_recipients(member)
    error = mail.send_recorded(
        "offboarding.export_ready",
        to,
        {
            "member_name": member.name,
            "member_number": member.number,
            "link": link,
            "expires_at": expires_at,
            "size_mb": max(1, round(export.size / 1_000_000)),
            "services": len(export.services),
        },
        member_id=member.pk,
        obj=export,
        actor=actor,
    )
    DepartureExport.objects.filter(pk=export.pk).update(
        mailed_at=None if error else timezone.now(), mail_error=error or ""
    )
    return error


@task()
def departure_export_task(job_id: int) -> None:
    job = Job.objects.get(pk=job_id)
    if job.is_finished:
        return  # a queue may deliver a task twice
    with running(job_id) as (job, _progress):
        params = job.params
        with translation.override(settings.RONRON.language):
            export = make_departure_export(
                int(params["member_id"]), job_id=job_id, recipients=params.get("recipients")
            )
        job.result = {
            "export": export.pk,
            "size": export.size,
            "services": len(export.services),
            "mailed": export.mail_error == "",
        }


def export_for_token(number: str, token: str, now: datetime | None = None) -> DepartureExport:
    """The export a download link opens; DepartureExport.DoesNotExist when the link is wrong,
    expired, or its file is gone."""
    now = now or timezone.now()
    export = (
        DepartureExport.objects.select_related("member")
        .filter(
            token_hash=_token_hash(token),
            expires_at__gt=now,
            verified_at__isnull=False,
            erased_at__isnull=True,
        )
        .first()
    )
    if export is None or export.member.number.upper() != (number or "").strip().upper():
        raise DepartureExport.DoesNotExist
    if not Path(export.file).is_file():
        raise DepartureExport.DoesNotExist
    return export


def export_reads_back(export: DepartureExport) -> bool:
    try:
        from ronron.portal.exports import sha256_of

        return sha256_of(Path(export.file)) == export.sha256
    except OSError:
        return False


def record_download(export: DepartureExport) -> None:
    with transaction.atomic():
        DepartureExport.objects.filter(pk=export.pk).update(downloads=export.downloads + 1)
        audit.record(
            "offboarding.export_downloaded",
            actor=None,
            obj=export,
            member_id=export.member_id,
        )


def latest_verified_export(member: Member) -> DepartureExport | None:
    return (
        DepartureExport.objects.filter(
            member=member, verified_at__isnull=False, erased_at__isnull=True
        )
        .order_by("-verified_at", "-pk")
        .first()
    )


# --- the chores -------------------------------------------------------------------------------


def followed_departures() -> Any:
    """Members whose departure went through Ronron (see the module)."""
    ids = AuditEntry.objects.filter(action__in=DEPARTURE_ACTIONS, member_id__isnull=False)
    return Member.objects.filter(pk__in=ids.values("member_id"))


def _done(member: Member, action: str) -> bool:
    return AuditEntry.objects.filter(member_id=member.pk, action=action).exists()


def _live_services(member: Member) -> Any:
    return Service.objects.filter(member=member, managed=True, removed_at__isnull=True).order_by(
        "pk"
    )


def _start_apply(number: str) -> None:
    from ronron.members.dues_reminders import start_apply_later

    start_apply_later(number)


@transaction.atomic
def leave(member: Member, today: date) -> list[int]:
    """The leaving day: the departure recorded, every running managed service suspended."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.status == Member.Status.LEAVING:
        actions.record_departure(member, actor=None, on=member.left_on or today)
    suspended = []
    from ronron.services.actions import suspend_service

    for service in _live_services(member).filter(wanted_state=Service.Wanted.PRESENT):
        suspend_service(service, actor=None)
        suspended.append(service.pk)
    audit.record(
        SUSPENDED, actor=None, obj=member, member_id=member.pk, after={"services": suspended}
    )
    return suspended


def leave_due(now: datetime) -> dict[str, int]:
    today = timezone.localdate(now)
    figures = {"left": 0, "suspended": 0}
    members = followed_departures().filter(
        status__in=[Member.Status.LEAVING, Member.Status.LEFT], left_on__lte=today
    )
    for member in members.order_by("pk"):
        if member.status == Member.Status.LEFT and _done(member, SUSPENDED):
            continue
        was_leaving = member.status == Member.Status.LEAVING
        suspended = leave(member, today)
        figures["left"] += int(was_leaving)
        figures["suspended"] += len(suspended)
        if suspended:
            _start_apply(member.number)
        # A notice given months ago was exported then: the member gets its data as it is now.
        # (A departure an admin recorded after the fact gets its export from the console.)
        export = latest_verified_export(member)
        last_day = (member.left_on or today) - timedelta(days=1)
        if was_leaving and (
            export is None
            or export.verified_at is None
            or timezone.localdate(export.verified_at) < last_day
        ):
            start_export(member, actor=None)
            figures["exports"] = figures.get("exports", 0) + 1
    return figures


def _hold(member: Member, reason: str, services: list[int]) -> None:
    """Written down once (not every day) while the reason stays the same."""
    after = {"reason": reason, "services": sorted(services)}
    last = AuditEntry.objects.filter(member_id=member.pk, action=REMOVAL_HELD).first()
    if last is not None and last.after == after:
        return
    log.warning("services of member %s not removed: %s", member.number, reason)
    with transaction.atomic():
        audit.record(REMOVAL_HELD, actor=None, obj=member, member_id=member.pk, after=after)


def request_removal(member: Member) -> tuple[list[int], list[int]]:
    """Mark for removal the member's services whose archive is in its verified export;
    returns (marked, held). Without a verified export that still reads back, nothing."""
    from ronron.portal.exports import ExportError, verify_export
    from ronron.services.actions import remove_service

    live = list(_live_services(member).exclude(wanted_state=Service.Wanted.ABSENT))
    if not live:
        return [], []
    export = latest_verified_export(member)
    reason = ""
    if export is None:
        reason = "no verified export"
    else:
        try:
            if verify_export(Path(export.file)) != export.sha256:
                reason = "the export on disk is not the one verified"
        except (ExportError, OSError) as exc:
            reason = f"the export does not read back: {exc}"
    if reason:
        held = [s.pk for s in live]
        _hold(member, reason, held)
        return [], held
    assert export is not None
    marked = [s for s in live if s.pk in set(export.services)]
    held = [s.pk for s in live if s.pk not in set(export.services)]
    with transaction.atomic():
        for service in marked:
            remove_service(service, actor=None)
        audit.record(
            REMOVAL_REQUESTED,
            actor=None,
            obj=member,
            member_id=member.pk,
            after={"services": [s.pk for s in marked], "export": export.pk, "held": held},
        )
    if held:
        _hold(member, "not in the verified export", held)
    return [s.pk for s in marked], held


def remove_due(now: datetime) -> dict[str, int]:
    today = timezone.localdate(now)
    limit = today - timedelta(days=settings.RONRON.lifecycle.service_retention_days)
    figures = {"marked": 0, "held": 0}
    members = followed_departures().filter(status=Member.Status.LEFT, left_on__lte=limit)
    for member in members.order_by("pk"):
        marked, held = request_removal(member)
        figures["marked"] += len(marked)
        figures["held"] += len(held)
        if marked:
            _start_apply(member.number)
    return figures
