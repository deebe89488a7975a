"""Every change to the member file: validate, write, audit — one function per verb.

Each action takes the acting user as the keyword argument ``actor``, runs in one transaction
and writes one audit entry. Views, the API, the CLI and the importer call these; they never
save member models themselves.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ronron.core import audit
from ronron.members import geography
from ronron.members.dues import default_amount
from ronron.members.identifiers import normalize_rna, normalize_siren
from ronron.members.models import Contact, Member, Membership, Theme

MEMBER_FIELDS = {
    "number",
    "kind",
    "name",
    "legal_form",
    "rna",
    "siren",
    "address",
    "postal_code",
    "city",
    "country",
    "status",
    "applied_on",
    "approved_on",
    "joined_on",
    "left_on",
    "notes",
}


def member_snapshot(member: Member) -> dict[str, Any]:
    data = audit.snapshot(member)
    data["themes"] = sorted(t.slug for t in member.themes.all()) if member.pk else []
    return data


def status_from_dates(joined_on: date | None, left_on: date | None, today: date) -> str:
    """The status a member has when all we know are its dates (imports, the demo)."""
    if left_on is not None:
        return Member.Status.LEFT if left_on <= today else Member.Status.LEAVING
    if joined_on is not None:
        return Member.Status.MEMBER
    return Member.Status.APPLIED


_FRENCH_POSTAL_CODE = re.compile(r"^[0-9]{5}$")


def _check_dates(member: Member) -> None:
    """The order of a member's dates, each error on the field a person would correct.

    The database's check constraint only guards left ≥ joined; these come first so that the
    message lands next to the field rather than on the whole form.
    """
    errors: dict[str, str] = {}
    if member.joined_on and member.left_on and member.left_on < member.joined_on:
        errors["left_on"] = _("The leaving date cannot come before the joining date.")
    if member.applied_on and member.approved_on and member.approved_on < member.applied_on:
        errors["approved_on"] = _("The board cannot approve an application before it was made.")
    if member.approved_on and member.joined_on and member.joined_on < member.approved_on:
        errors["joined_on"] = _("A member cannot join before the board approved the application.")
    if errors:
        raise ValidationError(errors)


def french_postal_code_error(country: str, postal_code: str) -> str | None:
    """The reason a postal code cannot be right, or None (only French codes are checked)."""
    if country == "FR" and postal_code and not _FRENCH_POSTAL_CODE.match(postal_code):
        return _("A French postal code has five digits, for example 31000.")
    return None


def normalize_number(number: str) -> str:
    """Member numbers are compared without case: "a1" and "A1" are the same member."""
    return number.strip().upper()


def prepare_member(member: Member) -> None:
    """Normalise identifiers and derive the geography; then validate every field."""
    member.number = normalize_number(member.number or "")
    member.rna = normalize_rna(member.rna)
    member.siren = normalize_siren(member.siren)
    member.country = (member.country or "FR").strip().upper()
    member.postal_code = member.postal_code.strip()
    if member.country == "FR":
        member.postal_code = member.postal_code.replace(" ", "")  # "31 000" is common
    postal_code_error = french_postal_code_error(member.country, member.postal_code)
    if postal_code_error:
        raise ValidationError({"postal_code": postal_code_error}, code="invalid_postal_code")
    _check_dates(member)
    place = geography.locate(member.postal_code, member.city, member.country)
    member.departement, member.region = place.departement, place.region
    member.full_clean(exclude=["themes"])


def _rosters_may_have_changed() -> None:
    """Lists and cloud groups follow rosters computed from members and contacts: have them
    re-read once this change is committed."""
    from ronron.services.tasks import schedule_roster_sync

    schedule_roster_sync()


def _set_fields(obj: Any, data: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)))
    for key, value in data.items():
        setattr(obj, key, "" if value is None and key in _TEXT_FIELDS else value)


_TEXT_FIELDS = {
    "legal_form",
    "rna",
    "siren",
    "address",
    "postal_code",
    "city",
    "notes",
    "phone",
    "roles",
    "payment_method",
}


@transaction.atomic
def create_member(*, actor: Any, themes: list[Theme] | None = None, **data: Any) -> Member:
    member = Member()
    _set_fields(member, data, MEMBER_FIELDS)
    if "status" not in data:
        member.status = status_from_dates(member.joined_on, member.left_on, date.today())
    prepare_member(member)
    member.save()
    if themes:
        member.themes.set(themes)
    audit.record(
        "member.created",
        actor=actor,
        obj=member,
        member_id=member.pk,
        after=member_snapshot(member),
    )
    _rosters_may_have_changed()
    return member


@transaction.atomic
def update_member(
    member: Member, *, actor: Any, themes: list[Theme] | None = None, **changes: Any
) -> Member:
    member = Member.objects.select_for_update().get(pk=member.pk)
    before = member_snapshot(member)
    _set_fields(member, changes, MEMBER_FIELDS)
    prepare_member(member)
    member.save()
    if themes is not None:
        member.themes.set(themes)
    after = member_snapshot(member)
    if after != before:
        audit.record(
            "member.updated",
            actor=actor,
            obj=member,
            member_id=member.pk,
            before=before,
            after=after,
        )
        _rosters_may_have_changed()
    return member


def _transition(
    member: Member, action: str, *, actor: Any, allowed_from: set[str], **changes: Any
) -> Member:
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.status not in allowed_from:
        raise ValidationError(
            _("This cannot be done while the member's status is “%(status)s”.")
            % {"status": member.get_status_display()},
            code="invalid_transition",
        )
    before = member_snapshot(member)
    for key, value in changes.items():
        setattr(member, key, value)
    _check_dates(member)
    member.full_clean(exclude=["themes"])
    member.save()
    audit.record(
        action,
        actor=actor,
        obj=member,
        member_id=member.pk,
        before=before,
        after=member_snapshot(member),
    )
    _rosters_may_have_changed()
    return member


@transaction.atomic
def approve_application(member: Member, *, actor: Any, on: date) -> Member:
    """The board approved the application on ``on``."""
    return _transition(
        member,
        "member.application_approved",
        actor=actor,
        allowed_from={Member.Status.APPLIED},
        status=Member.Status.APPROVED,
        approved_on=on,
    )


@transaction.atomic
def admit_member(member: Member, *, actor: Any, on: date) -> Member:
    """The approved applicant becomes a member on ``on`` (usually when the first dues arrive)."""
    return _transition(
        member,
        "member.admitted",
        actor=actor,
        allowed_from={Member.Status.APPROVED},
        status=Member.Status.MEMBER,
        joined_on=on,
    )


@transaction.atomic
def record_departure_notice(member: Member, *, actor: Any, leave_on: date) -> Member:
    """The member gave notice: it stays a member until ``leave_on``."""
    return _transition(
        member,
        "member.departure_notified",
        actor=actor,
        allowed_from={Member.Status.MEMBER},
        status=Member.Status.LEAVING,
        left_on=leave_on,
    )


@transaction.atomic
def record_departure(member: Member, *, actor: Any, on: date) -> Member:
    return _transition(
        member,
        "member.left",
        actor=actor,
        allowed_from={Member.Status.MEMBER, Member.Status.LEAVING},
        status=Member.Status.LEFT,
        left_on=on,
    )


def _normalise_roles(roles: list[str] | str) -> str:
    items = roles.split(",") if isinstance(roles, str) else list(roles)
    cleaned = sorted({r.strip() for r in items if r.strip()})
    valid = set(Contact.Role.values)
    bad = [r for r in cleaned if r not in valid]
    if bad:
        raise ValidationError(
            {
                "roles": _("Unknown role: %(role)s. Known roles: %(known)s.")
                % {"role": ", ".join(bad), "known": ", ".join(sorted(valid))}
            }
        )
    return ",".join(cleaned)


@transaction.atomic
def add_contact(member: Member, *, actor: Any, roles: list[str] | str = "", **data: Any) -> Contact:
    contact = Contact(member=member)
    _set_fields(contact, data, {"name", "email", "phone"})
    contact.email = contact.email.strip().lower()
    contact.roles = _normalise_roles(roles)
    contact.full_clean()
    contact.save()
    audit.record(
        "contact.added",
        actor=actor,
        obj=contact,
        member_id=member.pk,
        after=audit.snapshot(contact),
    )
    _rosters_may_have_changed()
    return contact


@transaction.atomic
def update_contact(
    contact: Contact, *, actor: Any, roles: list[str] | str | None = None, **changes: Any
) -> Contact:
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    before = audit.snapshot(contact)
    _set_fields(contact, changes, {"name", "email", "phone"})
    contact.email = contact.email.strip().lower()
    if roles is not None:
        contact.roles = _normalise_roles(roles)
    contact.full_clean()
    contact.save()
    after = audit.snapshot(contact)
    if after != before:
        audit.record(
            "contact.updated",
            actor=actor,
            obj=contact,
            member_id=contact.member_id,
            before=before,
            after=after,
        )
        _rosters_may_have_changed()
    return contact


@transaction.atomic
def remove_contact(contact: Contact, *, actor: Any) -> None:
    before = audit.snapshot(contact)
    member_id = contact.member_id
    audit.record("contact.removed", actor=actor, obj=contact, member_id=member_id, before=before)
    contact.delete()
    _rosters_may_have_changed()


def _check_year(year: Any) -> None:
    # Checked before any query: an out-of-range year would reach the database otherwise.
    if isinstance(year, bool) or not isinstance(year, int) or not 1901 <= year <= 9999:
        raise ValidationError(
            {"year": _("Give a year between 1901 and 9999.")}, code="invalid_year"
        )


def _check_payment(membership: Membership) -> None:
    if membership.payment_method and not membership.paid_on:
        raise ValidationError(
            {"paid_on": _("Give the date of the payment too.")}, code="payment_without_date"
        )
    if membership.paid_on and not membership.payment_method:
        raise ValidationError(
            {"payment_method": _("Say how it was paid too.")}, code="payment_without_method"
        )


@transaction.atomic
def call_dues(
    member: Member,
    *,
    actor: Any,
    year: int,
    amount: Decimal | None = None,
    on: date | None = None,
) -> Membership:
    """Call a year's dues (creating that year's membership if needed)."""
    _check_year(year)
    membership, created = Membership.objects.select_for_update().get_or_create(
        member=member,
        year=year,
        defaults={"amount": amount if amount is not None else Decimal("0")},
    )
    before = None if created else audit.snapshot(membership)
    if amount is None and created:
        membership.amount = default_amount(member.kind, settings.RONRON.dues)  # type: ignore[assignment]
    elif amount is not None:
        membership.amount = amount
    membership.called_on = on or date.today()
    membership.full_clean()
    membership.save()
    audit.record(
        "membership.dues_called",
        actor=actor,
        obj=membership,
        member_id=member.pk,
        before=before,
        after=audit.snapshot(membership),
    )
    return membership


@transaction.atomic
def record_payment(
    membership: Membership,
    *,
    actor: Any,
    paid_on: date,
    method: str,
    amount: Decimal | None = None,
) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    before = audit.snapshot(membership)
    membership.paid_on = paid_on
    membership.payment_method = method
    if amount is not None:
        membership.amount = amount
    _check_payment(membership)
    membership.full_clean()
    membership.save()
    audit.record(
        "membership.payment_recorded",
        actor=actor,
        obj=membership,
        member_id=membership.member_id,
        before=before,
        after=audit.snapshot(membership),
    )
    from ronron.members.dues_reminders import payment_recorded

    payment_recorded(membership, actor=actor)
    return membership


@transaction.atomic
def update_membership(membership: Membership, *, actor: Any, **changes: Any) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    before = audit.snapshot(membership)
    _set_fields(membership, changes, {"year", "amount", "called_on", "paid_on", "payment_method"})
    _check_payment(membership)
    membership.full_clean()
    membership.save()
    after = audit.snapshot(membership)
    if after != before:
        audit.record(
            "membership.updated",
            actor=actor,
            obj=membership,
            member_id=membership.member_id,
            before=before,
            after=after,
        )
    from ronron.members.dues_reminders import payment_recorded

    payment_recorded(membership, actor=actor)
    return membership


@transaction.atomic
def create_membership(member: Member, *, actor: Any, **data: Any) -> Membership:
    membership = Membership(member=member)
    _set_fields(membership, data, {"year", "amount", "called_on", "paid_on", "payment_method"})
    _check_payment(membership)
    membership.full_clean()
    membership.save()
    audit.record(
        "membership.created",
        actor=actor,
        obj=membership,
        member_id=member.pk,
        after=audit.snapshot(membership),
    )
    return membership


@transaction.atomic
def create_theme(*, actor: Any, slug: str, name: str) -> Theme:
    theme = Theme(slug=slug, name=name)
    theme.full_clean()
    theme.save()
    audit.record("theme.created", actor=actor, obj=theme, after=audit.snapshot(theme))
    return theme


@transaction.atomic
def rename_theme(theme: Theme, *, actor: Any, name: str) -> Theme:
    before = audit.snapshot(theme)
    theme.name = name
    theme.full_clean()
    theme.save()
    audit.record(
        "theme.renamed", actor=actor, obj=theme, before=before, after=audit.snapshot(theme)
    )
    return theme


@transaction.atomic
def delete_theme(theme: Theme, *, actor: Any) -> None:
    audit.record("theme.deleted", actor=actor, obj=theme, before=audit.snapshot(theme))
    theme.delete()
