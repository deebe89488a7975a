"""Onboarding: an application from the public form, the board's decision, the new member with
its number, contact, first dues and service requests. The checklist lives in
``onboarding_steps``; the welcome, sent once the services run, in ``chores_onboarding``.

The state changes are actions (one transaction, one audit entry each). What follows a change
and may fail on its own — mail, creating the services, the portal invitation — runs after the
change is committed: a mail server that is down never undoes a decision. Such failures are
recorded in the audit and handed back to the caller as plain sentences to show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from ronron.core import audit, mail
from ronron.core.validators import validate_email
from ronron.members import actions
from ronron.members.identifiers import normalize_rna, normalize_siren
from ronron.members.models import Application, Contact, Member, Membership, Theme
from ronron.members.numbers import next_number
from ronron.members.onboarding_steps import (  # noqa: F401 - the checklist is part of this API
    Step,
    application_checklist,
    checklist,
    onboarding_rows,
    ready_for_welcome,
    shown_address,
)
from ronron.portal.models import Offer, ServiceRequest
from ronron.services.kinds import KIND_LABELS

log = logging.getLogger(__name__)

# Two approvals at once may pick the same number; the loser tries again with the next one.
NUMBER_ATTEMPTS = 5
APPLICATION_FIELDS = {
    "kind",
    "name",
    "rna",
    "siren",
    "address",
    "postal_code",
    "city",
    "country",
    "contact_name",
    "contact_email",
    "contact_phone",
    "message",
}


# --- what people read ------------------------------------------------------------------------


def offer_title(kind: str, offers: dict[str, str] | None = None) -> str:
    if offers is None:
        offers = dict(Offer.objects.values_list("kind", "title"))
    return str(offers.get(kind) or KIND_LABELS.get(kind, kind))


def services_for_mail(requested: list[dict[str, Any]]) -> list[dict[str, str]]:
    offers = dict(Offer.objects.values_list("kind", "title"))
    return [
        {
            "title": offer_title(str(item.get("kind", "")), offers),
            "address": shown_address(str(item.get("domain", ""))),
        }
        for item in requested
    ]


def absolute(path: str) -> str:
    return settings.RONRON.public_url.rstrip("/") + path


def portal_url(member: Member) -> str:
    return absolute(reverse("portal:dashboard", args=[member.number]))


def help_url(member: Member) -> str:
    return absolute(reverse("portal:portal_help:index", args=[member.number]))


def organisation_email() -> str:
    address = str(settings.RONRON.organization.get("email") or "")
    try:
        validate_email(address)
    except ValidationError:
        return ""
    return address


# --- mail that must not be lost --------------------------------------------------------------


def send_or_record(
    key: str, to: list[str], context: dict[str, Any], *, obj: Any, member_id: int | None
) -> str | None:
    """Send a message; when it cannot go, record why in the audit and return a sentence for
    the person who acted (None when it went)."""
    try:
        mail.send(key, to, context)
    except (mail.MailFailed, ValidationError) as exc:
        reason = " ".join(getattr(exc, "messages", None) or [str(exc)])
        with transaction.atomic():
            audit.record(
                "onboarding.mail_failed",
                actor=None,
                obj=obj,
                member_id=member_id,
                after={"message": key, "to": to, "reason": reason},
            )
        return _("The message to %(to)s could not be sent (%(reason)s).") % {
            "to": ", ".join(to),
            "reason": reason,
        }
    return None


def _record_problem(action: str, *, obj: Any, member_id: int | None, problem: str) -> str:
    with transaction.atomic():
        audit.record(action, actor=None, obj=obj, member_id=member_id, after={"problem": problem})
    return problem


# --- the application -------------------------------------------------------------------------


def _prepare_application(application: Application) -> None:
    application.rna = normalize_rna(application.rna)
    application.siren = normalize_siren(application.siren)
    application.country = (application.country or "FR").strip().upper()
    application.postal_code = (application.postal_code or "").strip()
    if application.country == "FR":
        application.postal_code = application.postal_code.replace(" ", "")
    error = actions.french_postal_code_error(application.country, application.postal_code)
    if error:
        raise ValidationError({"postal_code": error}, code="invalid_postal_code")
    application.contact_email = (application.contact_email or "").strip().lower()
    application.full_clean(exclude=["themes", "member", "decided_by"])


@transaction.atomic
def submit_application(
    *,
    actor: Any,
    themes: list[Theme] | None = None,
    requested_services: list[dict[str, Any]] | None = None,
    consent: bool,
    **data: Any,
) -> Application:
    """Record an application from the public form (``requested_services`` already checked by
    the form: ``[{"kind", "domain", "details"}]``)."""
    if not consent:
        raise ValidationError(
            {"consent": _("We need your agreement to keep these details.")}, code="no_consent"
        )
    unknown = set(data) - APPLICATION_FIELDS
    if unknown:
        raise ValidationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)))
    application = Application(**data, requested_services=list(requested_services or []))
    _prepare_application(application)
    application.save()
    if themes:
        application.themes.set(themes)
    after = audit.snapshot(application)
    after["themes"] = sorted(t.slug for t in themes or [])
    # The applicant agreed to the handling of their personal data: when, is this entry's time.
    after["consent"] = True
    audit.record("application.received", actor=actor, obj=application, after=after)
    return application


@dataclass
class Received:
    application: Application
    # Whether the applicant's acknowledgement went out (the public page says so when not).
    acknowledged: bool
    problems: list[str] = field(default_factory=list)


def receive_application(*, actor: Any = None, **data: Any) -> Received:
    """Record the application, then tell the applicant and the board."""
    application = submit_application(actor=actor, **data)
    context = {
        "name": application.name,
        "contact_name": application.contact_name,
        "services": services_for_mail(application.requested_services),
    }
    problem = send_or_record(
        "onboarding.application_received",
        [application.contact_email],
        context,
        obj=application,
        member_id=None,
    )
    received = Received(application, acknowledged=problem is None)
    if problem:
        received.problems.append(problem)
    board = organisation_email()
    if board:
        with translation.override(settings.RONRON.language):
            kind = str(application.get_kind_display())
        problem = send_or_record(
            "onboarding.application_notice",
            [board],
            {
                **context,
                "kind": kind,
                "contact_email": application.contact_email,
                "message": application.message,
                "console_url": absolute(reverse("applications:detail", args=[application.pk])),
            },
            obj=application,
            member_id=None,
        )
        if problem:
            received.problems.append(problem)
    return received


# --- the board's decision --------------------------------------------------------------------


def first_dues_year(today: date) -> int:
    """This year's dues, unless next year's have already been called (Le PIC calls them on
    1 December: a member approved in December pays for the coming year)."""
    if settings.RONRON.dues.call_date(today.year + 1) <= today:
        return today.year + 1
    return today.year


def _check_pending(application: Application) -> None:
    if application.status != Application.Status.PENDING:
        raise ValidationError(
            _("The board already decided on this application (%(status)s).")
            % {"status": application.get_status_display()},
            code="already_decided",
        )


def _check_decision_date(application: Application, on: date) -> None:
    if on > timezone.localdate():
        raise ValidationError(
            {"on": _("The board's decision cannot be in the future.")}, code="future"
        )
    if on < timezone.localdate(application.created_at):
        raise ValidationError(
            {"on": _("The board cannot decide before the application was received.")},
            code="before_application",
        )


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _create_request(
    member: Member, item: dict[str, Any], application: Application, *, actor: Any
) -> ServiceRequest:
    from ronron.portal.actions_requests import create_request

    offer = Offer.objects.filter(kind=item.get("kind", "")).first()
    if offer is None:
        raise ValidationError(
            _("The catalog no longer offers “%(kind)s”.") % {"kind": item.get("kind", "")}
        )
    # Approved with the membership: the service is created at once (and its apply starts once
    # this transaction commits); without a server with room, the request waits for an admin.
    return create_request(
        member,
        offer,
        domain=str(item.get("domain", "")),
        details=dict(item.get("details") or {}),
        message=application.message,
        actor=actor,
        approved=True,
    )


@dataclass
class Approval:
    member: Member
    contact: Contact
    membership: Membership
    requests: list[ServiceRequest] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@transaction.atomic
def _approve_once(pk: int, *, on: date, actor: Any) -> Approval:
    application = Application.objects.select_for_update().get(pk=pk)
    _check_pending(application)
    _check_decision_date(application, on)
    before = audit.snapshot(application)
    member = actions.create_member(
        actor=actor,
        number=next_number(application.kind),
        kind=application.kind,
        name=application.name,
        rna=application.rna,
        siren=application.siren,
        address=application.address,
        postal_code=application.postal_code,
        city=application.city,
        country=application.country,
        status=Member.Status.APPROVED,
        applied_on=timezone.localdate(application.created_at),
        approved_on=on,
        themes=list(application.themes.all()),
    )
    roles: list[str] = [Contact.Role.TECH]
    if member.is_organisation:
        roles.append(Contact.Role.PRESIDENT)
    contact = actions.add_contact(
        member,
        actor=actor,
        name=application.contact_name,
        email=application.contact_email,
        phone=application.contact_phone,
        roles=roles,
    )
    membership = actions.call_dues(member, actor=actor, year=first_dues_year(timezone.localdate()))
    approval = Approval(member=member, contact=contact, membership=membership)
    for item in application.requested_services:
        try:
            # One request refused (its address taken since) does not undo the membership.
            with transaction.atomic():
                approval.requests.append(_create_request(member, item, application, actor=actor))
        except ValidationError as exc:
            approval.problems.append(
                _("%(service)s (%(address)s) was not recorded: %(reason)s")
                % {
                    "service": offer_title(str(item.get("kind", ""))),
                    "address": shown_address(str(item.get("domain", ""))),
                    "reason": " ".join(exc.messages),
                }
            )
    application.status = Application.Status.APPROVED
    application.decided_on = on
    application.decided_by = _user(actor)
    application.member = member
    application.save()
    audit.record(
        "application.approved",
        actor=actor,
        obj=application,
        member_id=member.pk,
        before=before,
        after={**audit.snapshot(application), "problems": approval.problems},
    )
    return approval


def _number_taken(exc: ValidationError) -> bool:
    errors = getattr(exc, "error_dict", {}).get("number", [])
    return any(e.code == "unique" for e in errors)


def approve_and_report(application: Application, *, on: date, actor: Any) -> Approval:
    """The board approved ``application`` on ``on``: the member, its contact, its first dues
    and its service requests in one transaction; then the services, the mail and the portal
    invitation. Problems of the second part are in ``Approval.problems``."""
    for attempt in range(NUMBER_ATTEMPTS):
        try:
            approval = _approve_once(application.pk, on=on, actor=actor)
            break
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
        except ValidationError as exc:
            if not _number_taken(exc) or attempt == NUMBER_ATTEMPTS - 1:
                raise
        log.info("member number taken meanwhile, trying the next one")
    application.refresh_from_db()
    _follow_up(application, approval, actor=actor)
    return approval


def approve(application: Application, *, on: date, actor: Any) -> Member:
    return approve_and_report(application, on=on, actor=actor).member


def _follow_up(application: Application, approval: Approval, *, actor: Any) -> None:
    # Imported here: the portal's actions import the member models this module serves.
    from ronron.portal.actions import invite, mail_problem
    from ronron.portal.actions_requests import last_problem

    member = approval.member
    for request in approval.requests:
        request.refresh_from_db()
        if request.status == ServiceRequest.Status.PENDING:
            approval.problems.append(
                _("%(service)s (%(address)s) waits for an admin: %(reason)s")
                % {
                    "service": request.offer.title,
                    "address": shown_address(request.domain),
                    "reason": last_problem(request) or _("it could not be created at once."),
                }
            )
    with translation.override(settings.RONRON.language):
        amount = number_format(approval.membership.amount, 2)
    problem = send_or_record(
        "onboarding.decision_approved",
        [approval.contact.email],
        {
            "name": member.name,
            "number": member.number,
            "contact_name": approval.contact.name,
            "dues_year": approval.membership.year,
            "dues_amount": amount,
            "services": services_for_mail(application.requested_services),
        },
        obj=application,
        member_id=member.pk,
    )
    if problem:
        approval.problems.append(problem)
    try:
        invitation = invite(member, approval.contact.email, actor=actor)
    except ValidationError as exc:
        approval.problems.append(
            _record_problem(
                "onboarding.invitation_failed",
                obj=member,
                member_id=member.pk,
                problem=_("The invitation to the member space was not sent: %(reason)s")
                % {"reason": " ".join(exc.messages)},
            )
        )
        return
    # The invitation's own part records a message that could not go; say it here too.
    reason = mail_problem(invitation)
    if reason:
        approval.problems.append(
            _("The invitation to the member space was not sent: %(reason)s") % {"reason": reason}
        )


@transaction.atomic
def _refuse(pk: int, *, on: date, reason: str, actor: Any) -> Application:
    application = Application.objects.select_for_update().get(pk=pk)
    _check_pending(application)
    _check_decision_date(application, on)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": _("Say why: the applicant receives this reason.")}, code="no_reason"
        )
    if "\x00" in reason:
        raise ValidationError({"reason": _("Null characters are not allowed.")}, code="null")
    before = audit.snapshot(application)
    application.status = Application.Status.REFUSED
    application.decided_on = on
    application.decided_by = _user(actor)
    application.reason = reason
    application.save()
    audit.record(
        "application.refused",
        actor=actor,
        obj=application,
        before=before,
        after=audit.snapshot(application),
    )
    return application


def refuse(
    application: Application, *, on: date, reason: str, actor: Any
) -> tuple[Application, list[str]]:
    """The board refused ``application`` on ``on``; the applicant receives the reason."""
    application = _refuse(application.pk, on=on, reason=reason, actor=actor)
    problem = send_or_record(
        "onboarding.decision_refused",
        [application.contact_email],
        {
            "name": application.name,
            "contact_name": application.contact_name,
            "reason": application.reason,
        },
        obj=application,
        member_id=None,
    )
    return application, [problem] if problem else []
