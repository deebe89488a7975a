"""The mutual-help queue: members ask, admins and volunteer helpers answer.

Every message is a ``HelpMessage`` and every change of status an audit entry, so the
conversation and its history stay readable. Helpers see only the help requests themselves
(subject, messages, the member's name and number): nothing here reads other member data.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ronron.core import audit
from ronron.core.models import AuditEntry
from ronron.core.validators import reject_control_characters
from ronron.members.models import Member
from ronron.portal.actions_requests import (
    absolute,
    admin_addresses,
    member_addresses,
    send_notice,
)
from ronron.portal.models import HelpMessage, HelpRequest, ManagerAccess
from ronron.services.models import Service

MAX_SUBJECT = 200
MAX_BODY = 10000
Status = HelpRequest.Status

# Changes of status shown in the conversation, in plain words ({who} did it).
EVENTS: dict[str, Any] = {
    "help.taken": gettext_lazy("{who} is taking care of it."),
    "help.closed": gettext_lazy("{who} closed the request."),
    "help.reopened": gettext_lazy("{who} reopened the request."),
}


def is_helper(user: Any) -> bool:
    """A volunteer helper: an active account with at least one helper's access."""
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    return ManagerAccess.objects.filter(user=user, is_helper=True).exists()


def may_answer(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_staff) or (
        is_helper(user)
    )


def display_name(user: Any) -> str:
    if not getattr(user, "is_authenticated", False):
        return ""
    return str(user.get_full_name() or user.get_username())


def _clean_subject(subject: str) -> str:
    text = (subject or "").strip()
    try:
        reject_control_characters(text)
    except ValidationError as exc:
        raise ValidationError({"subject": exc.messages}) from None
    if not text:
        raise ValidationError({"subject": _("Say in a few words what it is about.")})
    if len(text) > MAX_SUBJECT:
        raise ValidationError(
            {"subject": _("A subject has at most %(max)d characters.") % {"max": MAX_SUBJECT}}
        )
    return text


def _clean_body(body: str) -> str:
    text = (body or "").replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError({"body": _("Write your message.")})
    if "\x00" in text:
        raise ValidationError({"body": _("The message contains a NUL character.")})
    if len(text) > MAX_BODY:
        raise ValidationError(
            {"body": _("A message has at most %(max)d characters.") % {"max": MAX_BODY}}
        )
    return text


def _locked(help_request: HelpRequest) -> HelpRequest:
    return HelpRequest.objects.select_for_update().select_related("member").get(pk=help_request.pk)


def _not_closed(help_request: HelpRequest) -> None:
    if help_request.status == Status.CLOSED:
        raise ValidationError(_("This request is closed. Reopen it to write again."), code="closed")


def _record(action: str, help_request: HelpRequest, actor: Any, before: dict[str, Any]) -> None:
    audit.record(
        action,
        actor=actor,
        obj=help_request,
        member_id=help_request.member_id,
        before=before,
        after={**audit.snapshot(help_request), "by": display_name(actor)},
    )


def _message(help_request: HelpRequest, actor: Any, body: str) -> HelpMessage:
    return HelpMessage.objects.create(
        request=help_request,
        author=actor if getattr(actor, "is_authenticated", False) else None,
        author_name=display_name(actor),
        body=body,
    )


@transaction.atomic
def open_help_request(
    member: Member, *, subject: str, body: str, actor: Any, service: Service | None = None
) -> HelpRequest:
    """A member's manager asks for help, optionally about one of the member's services."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, str] = {}
    for name, check, value in (("subject", _clean_subject, subject), ("body", _clean_body, body)):
        try:
            clean[name] = check(value)
        except ValidationError as exc:
            errors.update(
                {k: [m for e in v for m in e.messages] for k, v in exc.error_dict.items()}
            )
    if service is not None and (service.member_id != member.pk or service.removed_at is not None):
        errors["service"] = [_("Choose one of your services.")]
    if errors:
        raise ValidationError(errors)
    help_request = HelpRequest.objects.create(
        member=member,
        subject=clean["subject"],
        service=service,
        opened_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _message(help_request, actor, clean["body"])
    _record("help.opened", help_request, actor, {})
    transaction.on_commit(partial(_tell_admins, help_request.pk, "help.new_request", clean["body"]))
    return help_request


@transaction.atomic
def add_member_message(help_request: HelpRequest, *, body: str, actor: Any) -> HelpMessage:
    """The member writes again: the request waits for an answer again."""
    text = _clean_body(body)
    locked = _locked(help_request)
    _not_closed(locked)
    before = audit.snapshot(locked)
    message = _message(locked, actor, text)
    locked.status = Status.OPEN
    locked.save()
    _record("help.member_replied", locked, actor, before)
    transaction.on_commit(partial(_tell_helpers, locked.pk, text))
    return message


@transaction.atomic
def answer_help_request(help_request: HelpRequest, *, body: str, actor: Any) -> HelpMessage:
    """An admin or a volunteer helper answers; the member's managers are told by mail."""
    if not may_answer(actor):
        raise PermissionDenied
    text = _clean_body(body)
    locked = _locked(help_request)
    _not_closed(locked)
    before = audit.snapshot(locked)
    message = _message(locked, actor, text)
    locked.status = Status.ANSWERED
    if locked.assigned_to_id is None:
        locked.assigned_to = actor
    locked.save()
    _record("help.answered", locked, actor, before)
    transaction.on_commit(partial(_tell_member, locked.pk, message.pk))
    return message


@transaction.atomic
def take_help_request(help_request: HelpRequest, *, actor: Any) -> HelpRequest:
    """An admin or a helper says they take care of it (others then leave it to them)."""
    if not may_answer(actor):
        raise PermissionDenied
    locked = _locked(help_request)
    _not_closed(locked)
    if locked.assigned_to_id == actor.pk:
        return locked
    before = audit.snapshot(locked)
    locked.assigned_to = actor
    locked.save()
    _record("help.taken", locked, actor, before)
    return locked


@transaction.atomic
def close_help_request(help_request: HelpRequest, *, actor: Any) -> HelpRequest:
    locked = _locked(help_request)
    if locked.status == Status.CLOSED:
        return locked
    before = audit.snapshot(locked)
    locked.status = Status.CLOSED
    locked.save()
    _record("help.closed", locked, actor, before)
    return locked


@transaction.atomic
def reopen_help_request(help_request: HelpRequest, *, actor: Any) -> HelpRequest:
    locked = _locked(help_request)
    if locked.status != Status.CLOSED:
        return locked
    before = audit.snapshot(locked)
    locked.status = Status.OPEN
    locked.save()
    _record("help.reopened", locked, actor, before)
    return locked


# --- reading ------------------------------------------------------------------------------


def conversation(help_request: HelpRequest) -> list[dict[str, Any]]:
    """Messages and changes of status, oldest first."""
    items: list[dict[str, Any]] = [
        {"when": m.created_at, "who": m.author_name, "body": m.body, "event": ""}
        for m in help_request.messages.all()
    ]
    entries = AuditEntry.objects.filter(
        object_type="portal.helprequest",
        object_id=str(help_request.pk),
        action__in=list(EVENTS),
    )
    for entry in entries:
        who = (entry.after or {}).get("by") or entry.actor_name or _("The hoster")
        items.append(
            {
                "when": entry.created_at,
                "who": who,
                "body": "",
                "event": str(EVENTS[entry.action]).format(who=who),
            }
        )
    return sorted(items, key=lambda item: item["when"])


# --- after commit -------------------------------------------------------------------------


def _fresh(pk: int) -> HelpRequest:
    return HelpRequest.objects.select_related("member", "assigned_to").get(pk=pk)


def _context(help_request: HelpRequest, message: str) -> dict[str, Any]:
    return {
        "member_name": help_request.member.name,
        "member_number": help_request.member.number,
        "subject": help_request.subject,
        "message": message,
    }


def _tell_admins(pk: int, key: str, message: str) -> None:
    help_request = _fresh(pk)
    context = {
        **_context(help_request, message),
        "request_url": absolute(reverse("desk:help_detail", args=[pk])),
    }
    send_notice(key, admin_addresses(), context, obj=help_request, member_id=help_request.member_id)


def _tell_helpers(pk: int, message: str) -> None:
    """The member wrote again: whoever took the request hears of it, else the admins."""
    help_request = _fresh(pk)
    taker = help_request.assigned_to
    if taker is None or not taker.is_active or not taker.email:
        _tell_admins(pk, "help.member_replied", message)
        return
    page = "desk:help_detail" if taker.is_staff else "portal:helpers:detail"
    context = {**_context(help_request, message), "request_url": absolute(reverse(page, args=[pk]))}
    send_notice(
        "help.member_replied",
        [taker.email],
        context,
        obj=help_request,
        member_id=help_request.member_id,
    )


def _tell_member(pk: int, message_pk: int) -> None:
    help_request = _fresh(pk)
    message = HelpMessage.objects.get(pk=message_pk)
    context = {
        **_context(help_request, message.body),
        "helper_name": message.author_name,
        "request_url": absolute(
            reverse("portal:portal_help:detail", args=[help_request.member.number, pk])
        ),
    }
    send_notice(
        "help.answered",
        member_addresses(help_request.member),
        context,
        obj=help_request,
        member_id=help_request.member_id,
    )
