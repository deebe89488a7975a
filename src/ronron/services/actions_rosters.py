"""Every change to rosters, and which roster a service follows: validate, write, audit.

Whatever may move an address in or out of what a list follows calls ``schedule_roster_sync``,
which re-reads the lists concerned once the change is committed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ronron.core import audit
from ronron.core.validators import reject_control_characters, validate_email, validate_slug
from ronron.members.models import Member
from ronron.services.models import Roster, Service
from ronron.services.rosters import SOURCES, Entry
from ronron.services.tasks import schedule_roster_sync

# The kinds of service whose members can come from a roster: a list's subscribers, a cloud
# space's group.
FOLLOWING_KINDS = ("list", "cloudgroup")
UPLOAD = "upload"
ROSTER_FIELDS = {"name", "slug", "source", "member"}
SLUG_LENGTH = 50
NAMES_SHOWN = 5


def roster_snapshot(roster: Roster) -> dict[str, Any]:
    """The roster for the audit log; uploaded addresses counted, not copied (there may be
    100 000 of them)."""
    data = audit.snapshot(roster, exclude=("uploaded",))
    if roster.source == UPLOAD:
        data["uploaded"] = len(roster.uploaded or [])
    return data


def _free_slug(name: str, *, exclude: int | None = None) -> str:
    # Punctuation separates words ("Conseil d'administration" → conseil-d-administration).
    words = re.sub(r"[^\w]+", " ", name)
    base = re.sub(r"[^a-z0-9]+", "-", slugify(words)).strip("-")[: SLUG_LENGTH - 4].strip("-")
    base = base or "roster"
    taken = Roster.objects.filter(slug__startswith=base)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    used = set(taken.values_list("slug", flat=True))
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _check_slug(slug: str, *, exclude: int | None = None) -> None:
    try:
        validate_slug(slug)
    except ValidationError as exc:
        raise ValidationError({"slug": exc.messages}) from None
    others = Roster.objects.filter(slug=slug)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    if others.exists():
        raise ValidationError(
            {"slug": _("Another roster already uses the code %(slug)s.") % {"slug": slug}}
        )


def _check_source(roster: Roster) -> None:
    source = SOURCES.get(roster.source)
    if source is None:
        raise ValidationError(
            {
                "source": _("Unknown source of addresses: %(source)s. Known sources: %(known)s.")
                % {"source": roster.source, "known": ", ".join(SOURCES)}
            }
        )
    if source.needs_member and roster.member_id is None:
        raise ValidationError(
            {"member": _("Choose the member whose contacts make this roster.")}, code="required"
        )
    if not source.needs_member and roster.member_id is not None:
        raise ValidationError(
            {
                "member": _("The source “%(source)s” is not about one member; choose no member.")
                % {"source": source.label}
            }
        )


def clean_rows(rows: Iterable[Entry | Mapping[str, Any]]) -> list[dict[str, str]]:
    """Uploaded addresses as stored: checked, lower-cased, one per address, sorted."""
    found: dict[str, str] = {}
    for row in rows:
        if isinstance(row, Entry):
            email, name = row.email, row.name
        else:
            email, name = str(row.get("email", "")), str(row.get("name", "") or "")
        email = email.strip()
        try:
            validate_email(email)
            reject_control_characters(name)
        except ValidationError as exc:
            raise ValidationError(
                {
                    "uploaded": _("%(email)s: %(problem)s")
                    % {"email": email[:100], "problem": " ".join(exc.messages)}
                }
            ) from None
        key = email.lower()
        if key not in found or (not found[key] and name.strip()):
            found[key] = " ".join(name.split())
    return [{"email": email, "name": found[email]} for email in sorted(found)]


@transaction.atomic
def create_roster(
    *,
    actor: Any,
    name: str,
    source: str,
    member: Member | None = None,
    uploaded: Iterable[Entry | Mapping[str, Any]] | None = None,
    slug: str = "",
) -> Roster:
    name = (name or "").strip()
    roster = Roster(name=name, source=(source or "").strip(), member=member)
    _check_source(roster)
    if uploaded is not None:
        if roster.source != UPLOAD:
            raise ValidationError(
                {"uploaded": _("Only a roster made from an uploaded file takes addresses.")}
            )
        roster.uploaded = clean_rows(uploaded)
    slug = (slug or "").strip()
    if slug:
        _check_slug(slug)
    else:
        slug = _free_slug(name)
    roster.slug = slug
    roster.full_clean()
    roster.save()
    audit.record(
        "roster.created",
        actor=actor,
        obj=roster,
        member_id=roster.member_id,
        after=roster_snapshot(roster),
    )
    return roster


@transaction.atomic
def update_roster(roster: Roster, *, actor: Any, **changes: Any) -> Roster:
    """Change the name, code, source or member of a roster; the services that follow it are
    brought to its new addresses."""
    unknown = set(changes) - ROSTER_FIELDS
    if unknown:
        raise ValidationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)))
    locked = Roster.objects.select_for_update().get(pk=roster.pk)
    before = roster_snapshot(locked)
    for field, value in changes.items():
        setattr(locked, field, value.strip() if isinstance(value, str) else value)
    _check_source(locked)
    if "slug" in changes:
        _check_slug(locked.slug, exclude=locked.pk)
    locked.full_clean()
    locked.save()
    after = roster_snapshot(locked)
    if after != before:
        audit.record(
            "roster.updated",
            actor=actor,
            obj=locked,
            member_id=locked.member_id,
            before=before,
            after=after,
        )
        if (before.get("source"), before.get("member")) != (after["source"], after["member"]):
            schedule_roster_sync()
    return locked


def _service_names(services: Iterable[Service]) -> str:
    names = [s.domain or str(s) for s in services]
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + ("…" if len(names) > NAMES_SHOWN else "")


@transaction.atomic
def delete_roster(roster: Roster, *, actor: Any) -> None:
    """Refused while a live service follows the roster: its members would all go at once."""
    locked = Roster.objects.select_for_update().get(pk=roster.pk)
    following = list(Service.objects.filter(roster=locked, removed_at__isnull=True))
    if following:
        raise ValidationError(
            ngettext(
                "This roster cannot be deleted: %(count)s service follows it (%(names)s). "
                "Make it follow another roster, or none, first.",
                "This roster cannot be deleted: %(count)s services follow it (%(names)s). "
                "Make them follow another roster, or none, first.",
                len(following),
            )
            % {"count": len(following), "names": _service_names(following)},
            code="followed",
        )
    # Removed services keep their row for the history; the roster they followed goes.
    Service.objects.filter(roster=locked, removed_at__isnull=False).update(roster=None)
    audit.record(
        "roster.deleted",
        actor=actor,
        obj=locked,
        member_id=locked.member_id,
        before=roster_snapshot(locked),
    )
    locked.delete()


@transaction.atomic
def replace_uploaded_addresses(
    roster: Roster, rows: Iterable[Entry | Mapping[str, Any]], *, actor: Any
) -> Roster:
    """The addresses of an "upload" roster become ``rows``; the lists that follow it gain and
    lose the difference."""
    locked = Roster.objects.select_for_update().get(pk=roster.pk)
    if locked.source != UPLOAD:
        raise ValidationError(
            _("Only a roster made from an uploaded file takes a file of addresses."),
            code="not_upload",
        )
    clean = clean_rows(rows)
    if not clean:
        raise ValidationError(
            _("There is no address to keep. A roster cannot be emptied by sending an empty file."),
            code="empty",
        )
    if clean == locked.uploaded:
        return locked
    old = {row.get("email") for row in locked.uploaded or [] if isinstance(row, dict)}
    new = {row["email"] for row in clean}
    before = {"uploaded": len(locked.uploaded or [])}
    locked.uploaded = clean
    locked.save(update_fields=["uploaded", "updated_at"])
    audit.record(
        "roster.addresses_replaced",
        actor=actor,
        obj=locked,
        member_id=locked.member_id,
        before=before,
        after={
            "uploaded": len(clean),
            "added": len(new - old),
            "removed": len(old - new),
        },
    )
    schedule_roster_sync()
    return locked


@transaction.atomic
def follow_roster(service: Service, roster: Roster | None, *, actor: Any) -> Service:
    """The members of a list (or a cloud group) become the roster's addresses; with no roster,
    the service keeps its own."""
    locked = Service.objects.select_for_update().get(pk=service.pk)
    if not locked.managed or locked.removed_at is not None:
        raise ValidationError(_("This service is not managed by Ronron any more."))
    if locked.kind not in FOLLOWING_KINDS:
        raise ValidationError(
            _("Only a mailing list or a cloud work group can follow a roster."), code="kind"
        )
    if roster is not None and not Roster.objects.filter(pk=roster.pk).exists():
        raise ValidationError({"roster": _("This roster does not exist any more.")})
    new_id = roster.pk if roster is not None else None
    if locked.roster_id == new_id:
        return locked
    before = {"roster": locked.roster_id}
    locked.roster_id = new_id
    locked.save(update_fields=["roster", "updated_at"])
    audit.record(
        "service.roster_changed",
        actor=actor,
        obj=locked,
        member_id=locked.member_id,
        before=before,
        after={"roster": new_id},
    )
    # From one roster to another, the list's source stays (it is the service's own feed) and a
    # sync brings the new addresses; starting or stopping to follow one changes the list's
    # configuration, which the next apply does (and then asks for the sync).
    if before["roster"] is not None and new_id is not None:
        schedule_roster_sync()
    service.roster_id = new_id
    return locked
