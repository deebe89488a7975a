"""The hoster's catalog and the services members ask for from it: validate, write, audit.

A request is checked when it is made exactly as the console checks a new service (the address
through the kind's driver, the settings through its ``validate_spec``, names not already used),
so that an admin's approval only has to choose the server. Approving creates the service with
``services.actions.request_service`` and starts an apply for the member once committed; the
``requests.ready`` chore closes the request when the service is seen running.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any

import idna
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ronron.core import audit, mail
from ronron.core.domains import normalize_domain
from ronron.core.validators import validate_email
from ronron.members.models import Member
from ronron.portal.catalog_defaults import DEFAULT_OFFERS
from ronron.portal.models import ManagerAccess, Offer, ServiceRequest
from ronron.services.kinds import KIND_LABELS
from ronron.services.models import Service

log = logging.getLogger(__name__)

# Statuses in which a request still holds its address.
OPEN_STATUSES = (ServiceRequest.Status.PENDING, ServiceRequest.Status.APPROVED)
MAX_MESSAGE = 5000
NOT_SENT = "mail.not_sent"


# --- catalog ------------------------------------------------------------------------------


# Kinds known by their member rather than by an address.
ADDRESSLESS_KINDS = ("cloud",)
# Kinds the hoster makes for itself, never offered to members (a work group follows a roster
# the hoster chose).
NOT_OFFERED = ("cloudgroup",)


def provisioned_kinds() -> list[str]:
    """The kinds Ronron can make real and members may ask for: those with a registered driver."""
    from ronron.drivers.base import drivers

    return sorted(d.kind for d in drivers() if d.kind not in NOT_OFFERED)


def offer_is_available(offer: Offer) -> bool:
    return offer.available and offer.kind in provisioned_kinds()


def _check_kind(kind: str) -> None:
    if kind not in provisioned_kinds():
        raise ValidationError(
            {"kind": _("Ronron cannot create services of kind %(kind)s yet.") % {"kind": kind}}
        )


OFFER_FIELDS = ("title", "description", "needs_approval", "available", "position")


@transaction.atomic
def create_offer(*, actor: Any, kind: str, **data: Any) -> Offer:
    _check_kind(kind)
    offer = Offer(kind=kind, **{k: v for k, v in data.items() if k in OFFER_FIELDS})
    offer.full_clean()
    offer.save()
    audit.record("offer.created", actor=actor, obj=offer, after=audit.snapshot(offer))
    return offer


@transaction.atomic
def update_offer(offer: Offer, *, actor: Any, **changes: Any) -> Offer:
    """Change an entry's texts and availability; its kind stays (past requests refer to it)."""
    locked = Offer.objects.select_for_update().get(pk=offer.pk)
    before = audit.snapshot(locked)
    for name, value in changes.items():
        if name in OFFER_FIELDS:
            setattr(locked, name, value)
    locked.full_clean()
    locked.save()
    after = audit.snapshot(locked)
    if after != before:
        audit.record("offer.updated", actor=actor, obj=locked, before=before, after=after)
    return locked


@transaction.atomic
def create_default_offers(*, actor: Any) -> list[Offer]:
    """One entry per provisioned kind not in the catalog yet, in the current language."""
    present = set(Offer.objects.values_list("kind", flat=True))
    created = []
    for position, kind in enumerate(provisioned_kinds()):
        if kind in present:
            continue
        default = DEFAULT_OFFERS.get(kind, {})
        created.append(
            create_offer(
                actor=actor,
                kind=kind,
                title=str(default.get("title") or KIND_LABELS.get(kind, kind)),
                description=str(default.get("description") or KIND_LABELS.get(kind, kind)),
                needs_approval=bool(default.get("needs_approval", True)),
                available=True,
                position=(position + 1) * 10,
            )
        )
    return created


# --- who hears about it -------------------------------------------------------------------


def _valid_addresses(candidates: list[str]) -> list[str]:
    found: list[str] = []
    for address in candidates:
        address = (address or "").strip()
        if not address or address in found:
            continue
        try:
            validate_email(address)
        except ValidationError:
            log.warning("ignoring an invalid recipient address")
            continue
        found.append(address)
    return found


def member_addresses(member: Member) -> list[str]:
    """Who hears about a member's requests: its managers; without one with an e-mail address,
    the contacts that receive its credentials."""
    from ronron.services.handover import credentials_recipients

    managers = ManagerAccess.objects.filter(member=member, user__is_active=True).exclude(
        user__email=""
    )
    found = _valid_addresses([access.user.email for access in managers.select_related("user")])
    return found or _valid_addresses([c.email for c in credentials_recipients(member)])


def admin_addresses() -> list[str]:
    """The hoster's address, if set, and every active admin's."""
    staff = get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="")
    organisation = str(settings.RONRON.organization.get("email") or "")
    return _valid_addresses([organisation, *staff.order_by("pk").values_list("email", flat=True)])


def absolute(path: str) -> str:
    return settings.RONRON.public_url.rstrip("/") + path


def send_notice(
    key: str, to: list[str], context: dict[str, Any], *, obj: Any, member_id: int | None
) -> str | None:
    """Send a message; when it cannot go, say so in the audit trail (the object's history) and
    return why. Called after the change it reports is committed: it never undoes it."""
    reason = ""
    if not to:
        reason = _("nobody to send it to")
    else:
        try:
            mail.send(key, to, context)
        except mail.MailFailed as exc:
            reason = str(exc)
        except ValidationError as exc:  # an address the mail module refuses
            reason = " ".join(exc.messages)
    if not reason:
        return None
    with transaction.atomic():
        audit.record(
            NOT_SENT,
            actor=None,
            obj=obj,
            member_id=member_id,
            after={"message": key, "to": to, "reason": reason},
        )
    return reason


# --- requests -----------------------------------------------------------------------------


def _driver(kind: str) -> Any:
    from ronron.drivers.base import driver_for

    return driver_for(kind)


def _merge(errors: dict[str, list[str]], error: ValidationError, rename: dict[str, str]) -> None:
    if hasattr(error, "error_dict"):
        for key, items in error.error_dict.items():
            target = rename.get(key, key)
            errors.setdefault(target, []).extend(m for e in items for m in e.messages)
    else:
        errors.setdefault(NON_FIELD_ERRORS, []).extend(error.messages)


def _clean_message(message: str) -> str:
    text = (message or "").replace("\r\n", "\n").strip()
    if "\x00" in text:
        raise ValidationError({"message": _("The message contains a NUL character.")})
    if len(text) > MAX_MESSAGE:
        raise ValidationError(
            {"message": _("A message has at most %(max)d characters.") % {"max": MAX_MESSAGE}}
        )
    return text


def validate_request(offer: Offer, domain: str, details: dict[str, Any]) -> tuple[str, dict]:
    """(domain, settings) normalised as the service will be created, or a ValidationError keyed
    by the console's form fields (``domain``, ``aliases``, ``title``, ``list_type``…)."""
    from ronron.services.actions import _check_names_are_free
    from ronron.services.forms import locate_spec_errors

    driver = _driver(offer.kind)
    errors: dict[str, list[str]] = {}
    if not isinstance(details, dict):
        raise ValidationError(_("The settings of a service are a set of named values."))
    # A cloud space is known by its member, not by an address.
    addressless = offer.kind in ADDRESSLESS_KINDS
    if addressless:
        domain = ""
    elif not (domain or "").strip():
        errors["domain"] = [_("This field is required.")]
    else:
        try:
            # A driver may give "domain" its own meaning (a list's address).
            domain = getattr(driver, "normalize_domain", normalize_domain)(domain)
        except ValidationError as exc:
            errors["domain"] = list(exc.messages)
    located = locate_spec_errors(driver, details)
    for key, messages in located.items():
        errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    clean = driver.validate_spec(dict(details))
    try:
        _check_names_are_free(domain, clean.get("aliases", []))
    except ValidationError as exc:
        _merge(errors, exc, {"spec": "aliases"})
    if (
        not addressless
        and ServiceRequest.objects.filter(domain=domain, status__in=OPEN_STATUSES).exists()
    ):
        errors.setdefault("domain", []).append(
            _("A request for %(domain)s is already being handled.") % {"domain": domain}
        )
    if errors:
        raise ValidationError(errors)
    return domain, clean


def create_request(
    member: Member,
    offer: Offer,
    *,
    domain: str,
    details: dict[str, Any],
    message: str,
    actor: Any,
    approved: bool = False,
) -> ServiceRequest:
    """Record what a member asks for; approve it at once when the entry needs no approval (or
    the caller already decided, ``approved=True``). An approval that fails (no server has room)
    leaves the request waiting for an admin, with the reason in its history."""
    offer = Offer.objects.get(pk=offer.pk)  # as it is now, not as the caller last read it
    if not offer_is_available(offer):
        raise ValidationError(
            _("“%(offer)s” is not offered at the moment.") % {"offer": offer.title},
            code="unavailable",
        )
    if member.status in (Member.Status.LEAVING, Member.Status.LEFT):
        raise ValidationError(
            _("%(member)s is leaving: no new service can be asked for.") % {"member": member},
            code="member_leaving",
        )
    with transaction.atomic():
        text = _clean_message(message)
        domain, clean = validate_request(offer, domain, details)
        request = ServiceRequest.objects.create(
            member=member,
            offer=offer,
            domain=domain,
            details=clean,
            message=text,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit.record(
            "service_request.created",
            actor=actor,
            obj=request,
            member_id=member.pk,
            after=audit.snapshot(request),
        )
    automatic = not offer.needs_approval
    if automatic or approved:
        try:
            # A caller that decided (the board approving an application) tells the member
            # itself, in one message for everything.
            return approve_request(
                request, actor=actor, automatic=automatic and not approved, notify=not approved
            )
        except ValidationError:
            pass  # recorded in the request's history; an admin takes over.
    transaction.on_commit(partial(_tell_admins, request.pk), robust=True)
    return request


def _locked(request: ServiceRequest) -> ServiceRequest:
    return (
        ServiceRequest.objects.select_for_update()
        .select_related("offer", "member")
        .get(pk=request.pk)
    )


def _not_pending(request: ServiceRequest) -> ValidationError:
    return ValidationError(
        _("This request is no longer waiting: it is “%(status)s”.")
        % {"status": request.get_status_display()},
        code="not_pending",
    )


def _decide(request: ServiceRequest, actor: Any, status: str, reason: str = "") -> None:
    user = actor if getattr(actor, "is_authenticated", False) else None
    request.status = status
    request.decided_by = user
    request.decided_at = timezone.now()
    request.reason = reason
    request.save()


def approve_request(
    request: ServiceRequest, *, actor: Any, automatic: bool = False, notify: bool = True
) -> ServiceRequest:
    """Create the service (its server chosen automatically) and, once committed, start an
    apply for the member. ``automatic``: approved by the catalog's rule, not by a person."""
    from ronron.services.actions import request_service

    try:
        with transaction.atomic():
            locked = _locked(request)
            if locked.status != ServiceRequest.Status.PENDING:
                raise _not_pending(locked)
            before = audit.snapshot(locked)
            service = request_service(
                locked.member,
                actor=actor,
                kind=locked.offer.kind,
                domain=locked.domain,
                spec=dict(locked.details or {}),
            )
            locked.service = service
            _decide(locked, None if automatic else actor, ServiceRequest.Status.APPROVED)
            audit.record(
                "service_request.approved",
                actor=actor,
                obj=locked,
                member_id=locked.member_id,
                before=before,
                after={**audit.snapshot(locked), "automatic": automatic},
            )
            transaction.on_commit(partial(_start_apply, locked.member.number, actor), robust=True)
            if notify:
                transaction.on_commit(partial(_tell_member_decision, locked.pk))
    except ValidationError as exc:
        if getattr(exc, "code", None) != "not_pending":
            with transaction.atomic():
                audit.record(
                    "service_request.approval_failed",
                    actor=actor,
                    obj=request,
                    member_id=request.member_id,
                    after={"errors": list(exc.messages)},
                )
        raise
    return locked


@transaction.atomic
def refuse_request(request: ServiceRequest, *, reason: str, actor: Any) -> ServiceRequest:
    """Refuse with a reason the member reads."""
    text = (reason or "").replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError({"reason": _("Say why: the member reads it.")})
    if "\x00" in text or len(text) > MAX_MESSAGE:
        raise ValidationError({"reason": _("Enter a shorter text, without NUL characters.")})
    locked = _locked(request)
    if locked.status != ServiceRequest.Status.PENDING:
        raise _not_pending(locked)
    before = audit.snapshot(locked)
    _decide(locked, actor, ServiceRequest.Status.REFUSED, text)
    audit.record(
        "service_request.refused",
        actor=actor,
        obj=locked,
        member_id=locked.member_id,
        before=before,
        after=audit.snapshot(locked),
    )
    transaction.on_commit(partial(_tell_member_decision, locked.pk))
    return locked


@transaction.atomic
def cancel_request(request: ServiceRequest, *, actor: Any) -> ServiceRequest:
    """The member changed its mind while the request was waiting."""
    locked = _locked(request)
    if locked.status != ServiceRequest.Status.PENDING:
        raise _not_pending(locked)
    before = audit.snapshot(locked)
    locked.status = ServiceRequest.Status.CANCELLED
    locked.save()
    audit.record(
        "service_request.cancelled",
        actor=actor,
        obj=locked,
        member_id=locked.member_id,
        before=before,
        after=audit.snapshot(locked),
    )
    return locked


def mark_ready_requests(now: datetime) -> dict[str, int]:
    """Approved requests whose service is seen running become done; the member is told."""
    waiting = ServiceRequest.objects.filter(
        status=ServiceRequest.Status.APPROVED,
        service__observed_state=Service.Observed.PRESENT,
        service__removed_at__isnull=True,
    ).values_list("pk", flat=True)
    done = 0
    for pk in list(waiting):
        with transaction.atomic():
            locked = ServiceRequest.objects.select_for_update().get(pk=pk)
            if locked.status != ServiceRequest.Status.APPROVED:
                continue
            before = audit.snapshot(locked)
            locked.status = ServiceRequest.Status.DONE
            locked.save()
            audit.record(
                "service_request.done",
                actor=None,
                obj=locked,
                member_id=locked.member_id,
                before=before,
                after=audit.snapshot(locked),
            )
            # A newcomer's first services are announced by its welcome message instead.
            if not _awaiting_welcome(locked.member):
                transaction.on_commit(partial(_tell_member_ready, locked.pk))
            done += 1
    return {"done": done}


def _awaiting_welcome(member: Member) -> bool:
    from ronron.members.models import Application

    return (
        member.welcomed_at is None
        and Application.objects.filter(member=member, status=Application.Status.APPROVED).exists()
    )


# --- after commit -------------------------------------------------------------------------


def _start_apply(member_number: str, actor: Any) -> None:
    from ronron.reconcile.actions import start_apply

    start_apply(actor=actor, member=member_number)


def shown_domain(domain: str) -> str:
    """A domain (or a list's address) as people write it (``café.fr``), not its IDNA form."""
    name, at, host = domain.rpartition("@")
    try:
        return f"{name}{at}{idna.decode(host)}" if host else ""
    except idna.IDNAError:
        return domain


def _context(request: ServiceRequest) -> dict[str, Any]:
    return {
        "member_name": request.member.name,
        "member_number": request.member.number,
        "service_title": request.offer.title,
        "address": shown_domain(request.domain),
        "reason": request.reason,
        "message": request.message,
        "requests_url": absolute(
            reverse("portal:portal_requests:detail", args=[request.member.number, request.pk])
        ),
    }


def _fresh(pk: int) -> ServiceRequest:
    return ServiceRequest.objects.select_related("member", "offer").get(pk=pk)


def _tell_member_decision(pk: int) -> None:
    request = _fresh(pk)
    context = {**_context(request), "approved": request.status != ServiceRequest.Status.REFUSED}
    send_notice(
        "requests.decided",
        member_addresses(request.member),
        context,
        obj=request,
        member_id=request.member_id,
    )


def _tell_member_ready(pk: int) -> None:
    request = _fresh(pk)
    send_notice(
        "requests.ready",
        member_addresses(request.member),
        _context(request),
        obj=request,
        member_id=request.member_id,
    )


def _tell_admins(pk: int) -> None:
    request = _fresh(pk)
    if request.status != ServiceRequest.Status.PENDING:
        return
    context = {
        **_context(request),
        "request_url": absolute(reverse("desk:request_detail", args=[request.pk])),
    }
    send_notice(
        "requests.new_request",
        admin_addresses(),
        context,
        obj=request,
        member_id=request.member_id,
    )


def last_problem(request: ServiceRequest) -> str:
    """Why the last approval or message failed, for the console (empty if nothing failed)."""
    from ronron.core.models import AuditEntry

    entry = (
        AuditEntry.objects.filter(
            object_type="portal.servicerequest",
            object_id=str(request.pk),
            action__in=("service_request.approval_failed", NOT_SENT),
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if entry is None:
        return ""
    after = entry.after or {}
    if entry.action == NOT_SENT:
        return _("A message could not be sent: %(reason)s") % {"reason": after.get("reason", "")}
    return " ".join(after.get("errors", []))
