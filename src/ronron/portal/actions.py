"""Who manages which member: invitations, accounts, accesses — one function per verb.

Each action takes the acting user as ``actor`` (the person accepting, for acceptance), runs in
one transaction and writes its audit row. The invitation's token exists only in the link that
is mailed; Ronron keeps its SHA-256, so a copy of the database opens no portal.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from ronron.core import audit, mail
from ronron.core.models import AuditEntry
from ronron.core.validators import validate_email
from ronron.members import actions as member_actions
from ronron.members.models import Contact, Member
from ronron.portal.models import Invitation, ManagerAccess

MAIL_KIND = "portal.invitation"
MAIL_FAILED = "portal.invitation_mail_failed"


class InvitationProblem(ValidationError):
    """Why an invitation link cannot be used: ``code`` is unknown, used, expired or staff."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def invitation_link(token: str) -> str:
    return settings.RONRON.public_url + reverse("portal:invitation", args=[token])


def _invitation_snapshot(invitation: Invitation) -> dict[str, Any]:
    return audit.snapshot(invitation, exclude=("token_hash",))


def _staff_address(email: str) -> bool:
    users = get_user_model().objects.filter(is_staff=True)
    return (
        users.filter(email__iexact=email).exists() or users.filter(username__iexact=email).exists()
    )


def invite(member: Member, email: str, *, actor: Any) -> Invitation:
    """Invite ``email`` to manage ``member`` and mail the link.

    The invitation is written (and audited) first; the message goes out after that
    transaction, so a mail server that refuses it does not undo the invitation: the failure
    is audited (see :func:`mail_problem`) and the admin can send another one. Called inside
    an outer transaction, the message leaves before that one commits.
    """
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from None
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member.pk)
        if member.status == Member.Status.LEFT:
            raise ValidationError(
                _("This member has left: nobody can be invited to manage it any more."),
                code="member_left",
            )
        if _staff_address(email):
            raise ValidationError(
                {
                    "email": _(
                        "This address belongs to an admin's account. The portal is for member "
                        "managers: invite another address."
                    )
                },
                code="staff_address",
            )
        if ManagerAccess.objects.filter(member=member, user__username__iexact=email).exists():
            raise ValidationError(
                {
                    "email": _("The account %(email)s already manages this member.")
                    % {"email": email}
                },
                code="already_manager",
            )
        now = timezone.now()
        # A new invitation to the same address replaces the ones still waiting.
        replaced = list(
            Invitation.objects.filter(
                member=member, email=email, accepted_at__isnull=True, expires_at__gt=now
            ).values_list("pk", flat=True)
        )
        Invitation.objects.filter(pk__in=replaced).update(expires_at=now)
        invitation = Invitation.objects.create(
            member=member,
            email=email,
            token_hash=token_hash(token),
            invited_by=actor if getattr(actor, "is_authenticated", False) else None,
            expires_at=now + timedelta(days=settings.RONRON.lifecycle.invitation_days),
        )
        after = _invitation_snapshot(invitation)
        if replaced:
            after["replaces"] = replaced
        audit.record(
            "portal.invitation_sent", actor=actor, obj=invitation, member_id=member.pk, after=after
        )
    _send_invitation(invitation, token, actor=actor)
    return invitation


def _send_invitation(invitation: Invitation, token: str, *, actor: Any) -> None:
    expires = timezone.localtime(invitation.expires_at)
    context = {
        "member_name": invitation.member.name,
        "member_number": invitation.member.number,
        "link": invitation_link(token),
        "expires_on": formats.date_format(expires, "DATE_FORMAT"),
        "days": settings.RONRON.lifecycle.invitation_days,
    }
    try:
        mail.send(MAIL_KIND, [invitation.email], context)
    except mail.MailFailed as exc:
        with transaction.atomic():
            audit.record(
                MAIL_FAILED,
                actor=actor,
                obj=invitation,
                member_id=invitation.member_id,
                after={"email": invitation.email, "reason": str(exc)},
            )


def mail_problem(invitation: Invitation) -> str:
    """Why the invitation's message could not be sent ("" when it left without trouble)."""
    entry = (
        AuditEntry.objects.filter(
            action=MAIL_FAILED, object_type="portal.invitation", object_id=str(invitation.pk)
        )
        .order_by("-pk")
        .first()
    )
    if entry is None or not isinstance(entry.after, dict):
        return ""
    return str(entry.after.get("reason") or "")


def find_invitation(token: str) -> Invitation:
    """The invitation of this link if it can still be accepted; InvitationProblem otherwise."""
    invitation = (
        Invitation.objects.select_related("member").filter(token_hash=token_hash(token)).first()
    )
    if invitation is None:
        raise InvitationProblem(_("This invitation link is not valid."), code="unknown")
    if invitation.accepted_at is not None:
        raise InvitationProblem(_("This invitation was already accepted."), code="used")
    if invitation.expires_at <= timezone.now():
        raise InvitationProblem(_("This invitation has expired."), code="expired")
    return invitation


def _check_account(user: Any) -> None:
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        raise InvitationProblem(_("This account is disabled."), code="inactive")
    if user.is_staff:
        raise InvitationProblem(
            _(
                "You are logged in with an admin's account. An admin's account cannot become a "
                "member manager: log out, then open the link again to create a separate account."
            ),
            code="staff",
        )


def _accept(invitation: Invitation, user: Any) -> ManagerAccess:
    access, created = ManagerAccess.objects.get_or_create(user=user, member=invitation.member)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(
        "portal.invitation_accepted",
        actor=user,
        obj=invitation,
        member_id=invitation.member_id,
        after={
            **_invitation_snapshot(invitation),
            "account": user.get_username(),
            "access": access.pk,
            "already_manager": not created,
        },
    )
    return access


@transaction.atomic
def accept_invitation(token: str, user: Any) -> ManagerAccess:
    """``user`` (logged in, not staff) becomes a manager of the invitation's member."""
    _check_account(user)
    invitation = find_invitation(token)
    invitation = (
        Invitation.objects.select_for_update().select_related("member").get(pk=invitation.pk)
    )
    # Checked again under the lock: two clicks at once accept once.
    if invitation.accepted_at is not None:
        raise InvitationProblem(_("This invitation was already accepted."), code="used")
    return _accept(invitation, user)


@transaction.atomic
def create_account_and_accept(token: str, *, password: str) -> ManagerAccess:
    """A new account named after the invited address, with ``password``, managing the
    invitation's member. ValidationError on ``password`` when it is too weak, on ``email``
    when an account of that name exists (log in to it instead)."""
    invitation = find_invitation(token)
    invitation = (
        Invitation.objects.select_for_update().select_related("member").get(pk=invitation.pk)
    )
    if invitation.accepted_at is not None:
        raise InvitationProblem(_("This invitation was already accepted."), code="used")
    users = get_user_model()
    email = invitation.email
    if users.objects.filter(username__iexact=email).exists():
        raise ValidationError(
            {
                "email": _("An account named %(email)s exists already: log in to it below instead.")
                % {"email": email}
            },
            code="account_exists",
        )
    user = users(username=email, email=email)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password1": exc.messages}) from None
    user.set_password(password)
    user.full_clean()
    user.save()
    audit.record(
        "portal.account_created",
        actor=user,
        obj=user,
        member_id=invitation.member_id,
        object_repr=email,
        after={"username": email, "email": email},
    )
    return _accept(invitation, user)


@transaction.atomic
def cancel_invitation(invitation: Invitation, *, actor: Any) -> None:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation was already accepted."), code="used")
    before = _invitation_snapshot(invitation)
    invitation.expires_at = timezone.now()
    invitation.save(update_fields=["expires_at"])
    audit.record(
        "portal.invitation_cancelled",
        actor=actor,
        obj=invitation,
        member_id=invitation.member_id,
        before=before,
        after=_invitation_snapshot(invitation),
    )


@transaction.atomic
def revoke_access(access: ManagerAccess, *, actor: Any) -> None:
    """The account no longer manages the member (the account itself stays)."""
    access = (
        ManagerAccess.objects.select_for_update().select_related("user", "member").get(pk=access.pk)
    )
    audit.record(
        "portal.access_revoked",
        actor=actor,
        obj=access,
        member_id=access.member_id,
        before={
            "account": access.user.get_username(),
            "member": access.member.number,
            "is_helper": access.is_helper,
        },
    )
    access.delete()


@transaction.atomic
def set_helper(access: ManagerAccess, is_helper: bool, *, actor: Any) -> ManagerAccess:
    """Whether this manager is a volunteer helper (also answers the help queue)."""
    access = ManagerAccess.objects.select_for_update().get(pk=access.pk)
    if access.is_helper == bool(is_helper):
        return access
    before = {"is_helper": access.is_helper}
    access.is_helper = bool(is_helper)
    access.save(update_fields=["is_helper"])
    audit.record(
        "portal.helper_changed",
        actor=actor,
        obj=access,
        member_id=access.member_id,
        before=before,
        after={"is_helper": access.is_helper},
    )
    return access


@transaction.atomic
def remove_member_contact(contact: Contact, *, actor: Any) -> None:
    """Remove a contact from the portal: a member always keeps at least one."""
    Member.objects.select_for_update().get(pk=contact.member_id)
    if not Contact.objects.filter(member_id=contact.member_id).exclude(pk=contact.pk).exists():
        raise ValidationError(
            _("A member needs at least one contact: add another one before removing this one."),
            code="last_contact",
        )
    member_actions.remove_contact(contact, actor=actor)
