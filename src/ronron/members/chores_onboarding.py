"""The welcome: sent by a chore once every service a new member asked for runs and its
credentials went out as one-time links, so that it announces only what is ready."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ronron.core import audit, chores, mail
from ronron.core.models import AuditEntry
from ronron.members.models import Application, Member
from ronron.members.onboarding import (
    help_url,
    offer_title,
    organisation_email,
    portal_url,
    shown_address,
)
from ronron.members.onboarding_steps import WELCOME_FAILED, ready_for_welcome


def welcome_recipients(member: Member) -> list[str]:
    from ronron.services.handover import credentials_recipients

    # The people who received the credentials links: the welcome tells them what they are.
    return [c.email for c in credentials_recipients(member)]


@transaction.atomic
def record_welcome(member: Member, *, at: datetime, actor: Any = None) -> bool:
    """Mark the welcome sent; False when it already was."""
    done = Member.objects.filter(pk=member.pk, welcomed_at__isnull=True).update(welcomed_at=at)
    if done:
        member.welcomed_at = at
        audit.record(
            "member.welcomed",
            actor=actor,
            obj=member,
            member_id=member.pk,
            after={"welcomed_at": at.isoformat()},
        )
    return bool(done)


def _record_once(member: Member, problem: str) -> str:
    """The chore tries again every few minutes: the same failure is written once."""
    last = (
        AuditEntry.objects.filter(member_id=member.pk, action=WELCOME_FAILED)
        .order_by("-created_at", "-pk")
        .first()
    )
    if last is None or (last.after or {}).get("problem") != problem:
        with transaction.atomic():
            audit.record(
                WELCOME_FAILED,
                actor=None,
                obj=member,
                member_id=member.pk,
                after={"problem": problem},
            )
    return problem


def welcome(member: Member, *, now: datetime) -> bool | str:
    """Send the welcome if everything it announces is ready: True when sent, False when not
    due (yet, or any more), a sentence when it could not go."""
    if member.welcomed_at is not None or not ready_for_welcome(member):
        return False
    recipients = welcome_recipients(member)
    if not recipients:
        return _record_once(member, _("The member has no contact with an e-mail address."))
    services = [
        {"title": offer_title(s.kind), "address": shown_address(s.domain)}
        for s in member.services.filter(managed=True, removed_at__isnull=True).order_by("pk")
    ]
    try:
        mail.send(
            "onboarding.welcome",
            recipients,
            {
                "name": member.name,
                "number": member.number,
                "portal_url": portal_url(member),
                "help_url": help_url(member),
                "help_email": organisation_email(),
                "services": services,
            },
        )
    except (mail.MailFailed, ValidationError) as exc:
        reason = " ".join(getattr(exc, "messages", None) or [str(exc)])
        return _record_once(
            member,
            _("The welcome message could not be sent to %(to)s (%(reason)s).")
            % {"to": ", ".join(recipients), "reason": reason},
        )
    record_welcome(member, at=now)
    return True


@chores.register("onboarding.welcome", every=timedelta(minutes=5))
def send_welcomes(now: datetime) -> dict[str, int]:
    """Welcome the members approved through an application whose services are all ready."""
    waiting = Member.objects.filter(
        welcomed_at__isnull=True,
        application__status=Application.Status.APPROVED,
    ).exclude(status__in=[Member.Status.LEAVING, Member.Status.LEFT])
    figures = {"sent": 0, "failed": 0, "waiting": 0}
    for member in waiting.order_by("pk"):
        outcome = welcome(member, now=now)
        if outcome is True:
            figures["sent"] += 1
        elif outcome is False:
            figures["waiting"] += 1
        else:
            figures["failed"] += 1
    return figures
