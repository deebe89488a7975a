"""Credentials Ronron makes for a member (a new WordPress site's administrator) go to the
member's contacts as one-time links (``secrets/delivery.py``); Ronron keeps no readable copy
once they are handed over.

A driver takes part through two optional methods:

- ``credentials_to_hand_over(service) -> dict | None``: what is waiting to be handed over
  (``login``, ``password``, ``url``, ``purpose``, and ``stored_as``: the name of the service's
  credential to forget once delivered), or None;
- ``reset_credentials(service, host, password) -> str``: make ``password`` the account's new
  password on the server; returns the name it is kept under until it is handed over.

The reconciler hands over after an apply (``hand_over_credentials``); staff send new
credentials from the console or the CLI (``send_new_credentials``, a background job).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django_tasks import task

from ronron.core import audit
from ronron.core.models import AuditEntry
from ronron.drivers.base import driver_for
from ronron.jobs.models import Job
from ronron.jobs.progress import enqueue, running
from ronron.members.models import Contact, Member
from ronron.secrets.delivery import DeliveryFailed, deliver
from ronron.secrets.models import Delivery
from ronron.services.models import Service

log = logging.getLogger(__name__)

JOB_KIND = "services.credentials"
NOT_DELIVERED = "service.credentials_not_delivered"
PASSWORD_LENGTH = 24
# Observed states in which the service's accounts exist on its server.
RUNNING = {Service.Observed.PRESENT, Service.Observed.SUSPENDED}


def credentials_recipients(member: Member) -> list[Contact]:
    """Who receives the member's credentials: its technical contacts; without one, its
    president; without one, its first contact with an e-mail address; possibly nobody."""
    contacts = member.contacts.exclude(email="").order_by("pk")
    for role in (Contact.Role.TECH, Contact.Role.PRESIDENT):
        chosen = list(contacts.filter(roles__contains=role))
        if chosen:
            return chosen
    first = contacts.first()
    return [first] if first else []


def supports_hand_over(service: Service) -> bool:
    try:
        driver = driver_for(service.kind)
    except LookupError:
        return False
    return hasattr(driver, "credentials_to_hand_over")


def credentials_text(offered: dict[str, str]) -> str:
    """What the link shows, in the hoster's language (the caller chose it)."""
    return "\n".join(
        [
            offered["purpose"][:1].upper() + offered["purpose"][1:],
            "",
            _("Address: %(url)s") % offered,
            _("Login: %(login)s") % offered,
            _("Password: %(password)s") % offered,
            "",
        ]
    )


@dataclass
class HandOver:
    deliveries: list[Delivery] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not self.deliveries and not self.problems


def _record_failure(service: Service, actor: Any, problems: list[str]) -> None:
    # Every apply tries again: the same reason is written once, not at each attempt.
    previous = last_failure(service)
    if previous is not None and (previous.after or {}).get("problems") == problems:
        return
    with transaction.atomic():
        audit.record(
            NOT_DELIVERED,
            actor=actor,
            obj=service,
            member_id=service.member_id,
            after={"problems": problems},
        )


def _forget(service: Service, offered: dict[str, str], sent: list[Delivery], actor: Any) -> None:
    """Delivered: drop the readable copy (unless a newer password replaced it meanwhile)."""
    with transaction.atomic():
        locked = Service.objects.select_for_update().get(pk=service.pk)
        stored = dict(locked.credentials or {})
        if stored.get(offered["stored_as"]) == offered["password"]:
            del stored[offered["stored_as"]]
        locked.credentials = stored
        locked.credentials_revealed_at = timezone.now()
        locked.save(update_fields=["credentials", "credentials_revealed_at", "updated_at"])
        audit.record(
            "service.credentials_handed_over",
            actor=actor,
            obj=locked,
            member_id=locked.member_id,
            after={
                "login": offered["login"],
                "recipients": [d.recipient for d in sent],
                "expires_at": max(d.expires_at for d in sent).isoformat(),
            },
        )
    service.credentials = stored
    service.credentials_revealed_at = locked.credentials_revealed_at


def hand_over_credentials(
    service: Service, *, recipients: list[str] | None = None, actor: Any = None
) -> HandOver:
    """Send what the driver has waiting to ``recipients`` (default: ``credentials_recipients``),
    then forget it. Never raises for a delivery that failed: it is recorded on the service (the
    audit, shown on its page) and the credentials stay for a later attempt."""
    driver = driver_for(service.kind)
    ask = getattr(driver, "credentials_to_hand_over", None)
    if ask is None or not ask(service):
        return HandOver()
    given, service = service, Service.objects.select_related("member").get(pk=service.pk)
    with translation.override(settings.RONRON.language):
        offered = ask(service)
        if not offered:
            return HandOver()
        if recipients is None:
            recipients = [c.email for c in credentials_recipients(service.member)]
        result = HandOver()
        if not recipients:
            result.problems.append(
                _(
                    "There is no contact to send the credentials to: give the member a "
                    "contact with an e-mail address."
                )
            )
        text = credentials_text(offered)
        for recipient in recipients:
            try:
                result.deliveries.append(
                    deliver(
                        text,
                        recipient=recipient,
                        purpose=offered["purpose"],
                        member=service.member,
                        service=service,
                        actor=actor,
                    )
                )
            except (DeliveryFailed, ValidationError) as exc:
                result.problems.append(" ".join(getattr(exc, "messages", None) or [str(exc)]))
    if result.problems:
        log.warning("credentials of service %s not handed over: %s", service.pk, result.problems)
        _record_failure(service, actor, result.problems)
    if result.deliveries:
        _forget(service, offered, result.deliveries, actor)
        given.credentials = service.credentials
        given.credentials_revealed_at = service.credentials_revealed_at
    return result


def last_failure(service: Service) -> AuditEntry | None:
    """The latest failed hand-over, if none succeeded since."""
    entries = AuditEntry.objects.filter(
        object_type="services.service",
        object_id=str(service.pk),
        action__in=[NOT_DELIVERED, "service.credentials_handed_over"],
    ).order_by("-created_at", "-pk")
    latest = entries.first()
    return latest if latest is not None and latest.action == NOT_DELIVERED else None


# --- new credentials, on request --------------------------------------------------------------


def _check_renewable(service: Service) -> None:
    if not service.managed or service.removed_at is not None:
        raise ValidationError(_("This service is not managed by Ronron any more."))
    try:
        driver: Any = driver_for(service.kind)
    except LookupError:
        driver = None
    if not hasattr(driver, "reset_credentials"):
        raise ValidationError(
            _("Ronron makes no credentials for this kind of service."), code="unsupported"
        )
    if service.observed_state not in RUNNING:
        raise ValidationError(
            _(
                "The service is not installed on its server yet: its credentials are sent "
                "once an apply has made it."
            ),
            code="not_installed",
        )


def check_renewal(service: Service, recipient: str | None = None) -> list[str]:
    """Whether new credentials can be made now, and for whom: ``recipient`` must be one of the
    member's contacts (the default: ``credentials_recipients``). ValidationError otherwise."""
    _check_renewable(service)
    emails = list(service.member.contacts.exclude(email="").values_list("email", flat=True))
    if recipient:
        wanted = recipient.strip().lower()
        for email in emails:
            if email.lower() == wanted:
                return [email]
        raise ValidationError(
            _("%(email)s is not one of the member's contacts.") % {"email": recipient.strip()},
            code="not_a_contact",
        )
    chosen = [c.email for c in credentials_recipients(service.member)]
    if not chosen:
        raise ValidationError(
            _("The member has no contact with an e-mail address to send the credentials to."),
            code="no_contact",
        )
    return chosen


def send_new_credentials(service: Service, *, actor: Any, recipient: str | None = None) -> Job:
    """Queue the making of a new password and its delivery; the job page follows it."""
    recipients = check_renewal(service, recipient)
    return enqueue(
        renew_credentials_task,
        kind=JOB_KIND,
        label=_("Send new credentials for %(service)s to %(recipients)s")
        % {"service": service.domain or service.pk, "recipients": ", ".join(recipients)},
        actor=actor,
        params={"service_id": service.pk, "recipients": recipients},
    )


class RenewalFailed(Exception):
    """No new credentials reached anyone; the message says what the situation is."""


def renew_credentials(service_pk: int, recipients: list[str], *, actor: Any = None) -> HandOver:
    """Make a new password on the server, deliver it, forget it. Waits for a running apply
    (both change the same site)."""
    from ronron.reconcile.engine import apply_lock

    with apply_lock():
        service = Service.objects.select_related("member", "server").get(pk=service_pk)
        _check_renewable(service)
        driver: Any = driver_for(service.kind)
        assert service.server is not None
        password = secrets.token_urlsafe(PASSWORD_LENGTH)
        try:
            name = driver.reset_credentials(service, service.server.host(), password)
        except Exception as exc:
            raise RenewalFailed(
                _("The password could not be changed on the server (%(error)s); the old one works.")
                % {"error": str(exc)[-500:].replace(password, "********")}
            ) from None
        with transaction.atomic():
            # Kept (encrypted) until it is delivered: a failed delivery is retried at the next
            # apply rather than lost.
            locked = Service.objects.select_for_update().get(pk=service.pk)
            locked.credentials = {**(locked.credentials or {}), name: password}
            locked.save(update_fields=["credentials", "updated_at"])
            audit.record(
                "service.credentials_renewed",
                actor=actor,
                obj=locked,
                member_id=locked.member_id,
                after={"secret": name, "recipients": recipients},
            )
        service.credentials = locked.credentials
        result = hand_over_credentials(service, recipients=recipients, actor=actor)
    if not result.deliveries:
        raise RenewalFailed(
            _(
                "The new password is set on the server but could not be sent: %(problems)s "
                "Ronron keeps it, encrypted, and sends it at the next apply; or send new "
                "credentials again."
            )
            % {"problems": " ".join(result.problems)}
        )
    return result


def describe(result: HandOver) -> str:
    sent = "; ".join(
        _("sent to %(recipient)s, valid until %(expires)s")
        % {
            "recipient": d.recipient,
            "expires": date_format(timezone.localtime(d.expires_at), "DATETIME_FORMAT"),
        }
        for d in result.deliveries
    )
    return " ".join([sent[:1].upper() + sent[1:] + ".", *result.problems]).strip()


@task()
def renew_credentials_task(job_id: int) -> None:
    job = Job.objects.get(pk=job_id)
    if job.is_finished:
        return  # a queue may deliver a task twice
    with running(job_id) as (job, progress):
        progress(0, 1, _("Setting a new password on the server"))
        result = renew_credentials(
            int(job.params["service_id"]),
            [str(r) for r in job.params["recipients"]],
            actor=job.created_by,
        )
        progress(1, 1, describe(result)[:255])
        job.result = {
            "sent": len(result.deliveries),
            "recipients": [d.recipient for d in result.deliveries],
            "expires_at": max(d.expires_at for d in result.deliveries).isoformat(),
        }
