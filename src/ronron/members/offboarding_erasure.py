"""The last step of a departure: erasing the personal data of a member who left
``personal_data_retention_days`` ago, keeping what the reports count (see members/offboarding.py
for the whole journey)."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ronron.core import audit
from ronron.core.models import AuditEntry
from ronron.members.models import Application, Member
from ronron.members.models_lifecycle import DepartureExport
from ronron.members.offboarding import ERASED, followed_departures
from ronron.services.models import Service


def erase_due(now: datetime) -> dict[str, int]:
    today = timezone.localdate(now)
    limit = today - timedelta(days=settings.RONRON.lifecycle.personal_data_retention_days)
    members = followed_departures().filter(
        status=Member.Status.LEFT, left_on__lte=limit, anonymised_at__isnull=True
    )
    erased = 0
    for member in members.order_by("pk"):
        erase_personal_data(member, actor=None)
        erased += 1
    return {"erased": erased}


def neutral_name(number: str) -> str:
    with translation.override(settings.RONRON.language):
        return _("Former member %(number)s") % {"number": number}


@transaction.atomic
def erase_personal_data(member: Member, *, actor: Any) -> Member:
    """Erase what identifies the member and its people, keep what the reports count.

    Kept: number, kind, postal code, city, country, département, région, themes, dates,
    status, memberships (years and amounts), services (kind, family, dates). Erased: the name
    (a neutral label with the number instead), legal form, identifiers, address, notes, the
    contacts, the application's personal fields, the portal's managers and invitations (and
    the accounts that managed nothing else), what was written in requests and help messages,
    the settings and credentials of removed services, uploaded roster addresses, the
    departure exports' files, and every personal value in the member's audit history.
    """
    from ronron.portal.models import (
        HelpMessage,
        HelpRequest,
        Invitation,
        ManagerAccess,
        ServiceRequest,
    )
    from ronron.secrets.models import Delivery
    from ronron.services.models import Roster

    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.anonymised_at is not None:
        return member
    label = neutral_name(member.number)
    now = timezone.now()
    contacts = member.contacts.count()
    member.contacts.all().delete()
    Application.objects.filter(member=member).update(
        name=label,
        rna="",
        siren="",
        address="",
        contact_name="",
        contact_email="",
        contact_phone="",
        message="",
        reason="",
        requested_services=[],
    )
    managers = list(ManagerAccess.objects.filter(member=member).values_list("user_id", flat=True))
    ManagerAccess.objects.filter(member=member).delete()
    Invitation.objects.filter(member=member).delete()
    User = get_user_model()
    lonely = User.objects.filter(pk__in=managers, is_staff=False, manager_accesses__isnull=True)
    accounts = lonely.count()
    lonely.delete()
    requests = HelpRequest.objects.filter(member=member)
    HelpMessage.objects.filter(request__in=requests).update(body="", author_name="")
    requests.update(subject=_("(erased)"))
    ServiceRequest.objects.filter(member=member).update(message="", details={}, reason="")
    Service.objects.filter(member=member, removed_at__isnull=False).update(
        spec={}, credentials=None, name=""
    )
    Roster.objects.filter(member=member).update(uploaded=[])
    Delivery.objects.filter(member=member).update(recipient="", purpose="")
    files = _delete_export_files(member, now)
    Member.objects.filter(pk=member.pk).update(
        name=label,
        legal_form="",
        rna="",
        siren="",
        address="",
        notes="",
        anonymised_at=now,
    )
    history = AuditEntry.objects.filter(member_id=member.pk)
    history.filter(before__isnull=False).update(before={"erased": True})
    history.filter(after__isnull=False).update(after={"erased": True})
    history.update(object_repr=label)
    member.refresh_from_db()
    audit.record(
        ERASED,
        actor=actor,
        obj=member,
        member_id=member.pk,
        after={
            "contacts": contacts,
            "accounts": accounts,
            "files": files,
            "anonymised_at": now.isoformat(),
        },
    )
    return member


def _delete_export_files(member: Member, now: datetime) -> int:
    """The departure exports and the portal's exports of the member hold its personal data."""
    from ronron.portal.exports import ExportError, member_dir

    removed = 0
    for export in DepartureExport.objects.filter(member=member, erased_at__isnull=True):
        path = Path(export.file)
        for leftover in (path, path.with_name(path.name + ".sha256")):
            if leftover.is_file():
                leftover.unlink()
                removed += 1
    DepartureExport.objects.filter(member=member).update(
        erased_at=now, token_hash="", expires_at=None
    )
    try:
        directory = member_dir(member.number)
    except ExportError:
        return removed
    if directory.is_dir():
        removed += sum(1 for p in directory.rglob("*") if p.is_file())
        shutil.rmtree(directory)
    return removed
