"""Importing and exporting the member file as CSV: the action behind the CLI, the console and
the background job.

All or nothing: the whole file is checked first; only a file without a single error is written,
in one transaction, with bulk queries (a few queries per thousand rows, not one per row), and one
audit entry per member it creates or changes plus one summary entry. Importing the same file again
changes nothing and writes no audit entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TextIO, TypeVar

from django.db import transaction
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext as _

from ronron.core import audit
from ronron.core.models import AuditEntry
from ronron.jobs.progress import ProgressCallback, no_progress
from ronron.members import csvio, geography
from ronron.members.actions import status_from_dates
from ronron.members.models import Contact, Member, Theme
from ronron.services.models import Service

# The member fields a file may set; each is written only when its column is in the file.
MEMBER_COLUMNS = ("kind", "name", "postal_code", "city", "country", "joined_on", "left_on")
PREVIEW_ROWS = 20
_CHUNK = 500  # ids per IN (...) query: well under every database's parameter limit

T = TypeVar("T")

Through = Member.themes.through


@dataclass
class RowOutcome:
    line: int
    number: str
    name: str
    action: str  # "created", "updated" or "unchanged"
    changes: list[str] = field(default_factory=list)  # the fields that change


@dataclass
class ImportReport:
    dry_run: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[csvio.RowError] = field(default_factory=list)
    rows: list[RowOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)

    def summary(self) -> dict[str, Any]:
        """JSON-ready outcome, as kept in a job's result."""
        return {
            "dry_run": self.dry_run,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "errors": [e.as_dict() for e in self.errors],
        }


@dataclass
class _Planned:
    """What one row does to the member file."""

    row: csvio.MemberRow
    member: Member
    is_new: bool
    themes: list[str]
    services_to_delete: list[int] = field(default_factory=list)
    services_to_create: list[tuple[str, str]] = field(default_factory=list)
    contact_new: Contact | None = None
    contact_changed: Contact | None = None
    themes_changed: bool = False
    before: dict[str, Any] | None = None
    after: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.is_new or self.before != self.after


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _service_token(kind: str, family: str) -> str:
    return kind or family


def _snapshot(
    member: Member, themes: Iterable[str], services: Iterable[str], contacts: Iterable[Contact]
) -> dict[str, Any]:
    data = audit.snapshot(member)
    data["themes"] = sorted(themes)
    data["services"] = sorted(services)
    data["contacts"] = sorted(
        ({"name": c.name, "email": c.email, "roles": c.roles} for c in contacts),
        key=lambda c: c["email"],
    )
    return data


class _Existing:
    """The part of the member file the rows touch, loaded in a few queries."""

    def __init__(self, numbers: list[str]) -> None:
        self.members: dict[str, Member] = {}
        # The rows' numbers are in upper case; a member recorded before numbers were
        # normalised may still be in lower case and must be found, not created a second time.
        for chunk in _chunks(numbers):
            found = Member.objects.annotate(upper_number=Upper("number")).filter(
                upper_number__in=chunk
            )
            for member in found.order_by("number"):
                # Should both "a1" and "A1" exist, the file's spelling (upper case) wins.
                if member.number == member.upper_number or member.upper_number not in self.members:
                    self.members[member.upper_number] = member
        ids = [m.pk for m in self.members.values()]
        self.themes: dict[int, set[str]] = defaultdict(set)
        self.contacts: dict[int, dict[str, Contact]] = defaultdict(dict)
        self.services: dict[int, list[Service]] = defaultdict(list)
        for id_chunk in _chunks(ids):
            for member_id, slug in Through.objects.filter(member_id__in=id_chunk).values_list(
                "member_id", "theme__slug"
            ):
                self.themes[member_id].add(slug)
            for contact in Contact.objects.filter(member_id__in=id_chunk).order_by("pk"):
                self.contacts[contact.member_id][contact.email.lower()] = contact
            for service in Service.objects.filter(member_id__in=id_chunk, managed=False).order_by(
                "pk"
            ):
                self.services[service.member_id].append(service)


def _apply_dates(member: Member, row: csvio.MemberRow, today: date) -> None:
    """The status the new dates imply; other statuses (applied, approved…) are left alone."""
    left_changed = member.left_on != row.left_on
    joined_changed = member.joined_on != row.joined_on
    member.joined_on, member.left_on = row.joined_on, row.left_on
    if left_changed and row.left_on is not None:
        member.status = status_from_dates(row.joined_on, row.left_on, today)
    elif left_changed and member.status in {Member.Status.LEAVING, Member.Status.LEFT}:
        member.status = status_from_dates(row.joined_on, None, today)
    elif (
        joined_changed
        and row.joined_on is not None
        and row.left_on is None
        and member.status in {Member.Status.APPLIED, Member.Status.APPROVED}
    ):
        member.status = Member.Status.MEMBER


def _plan_row(
    row: csvio.MemberRow,
    columns: frozenset[str],
    existing: _Existing,
    today: date,
) -> _Planned:
    member = existing.members.get(row.number)
    if member is None:
        member = Member(
            number=row.number, status=status_from_dates(row.joined_on, row.left_on, today)
        )
        is_new, before = True, None
        old_themes: set[str] = set()
        old_services: list[Service] = []
        contacts: dict[str, Contact] = {}
    else:
        is_new = False
        old_themes = existing.themes.get(member.pk, set())
        old_services = existing.services.get(member.pk, [])
        contacts = existing.contacts.get(member.pk, {})
        before = _snapshot(
            member,
            old_themes,
            (_service_token(s.kind, s.family) for s in old_services),
            contacts.values(),
        )
    old_place = (member.postal_code, member.city, member.country)
    for column in MEMBER_COLUMNS:
        if column in columns and column not in {"joined_on", "left_on"}:
            setattr(member, column, getattr(row, column))
    if "joined_on" in columns or "left_on" in columns:
        if "joined_on" not in columns:
            row.joined_on = member.joined_on
        if "left_on" not in columns:
            row.left_on = member.left_on
        if not is_new:
            _apply_dates(member, row, today)
        else:
            member.joined_on, member.left_on = row.joined_on, row.left_on
    if is_new or (member.postal_code, member.city, member.country) != old_place:
        place = geography.locate(member.postal_code, member.city, member.country)
        member.departement, member.region = place.departement, place.region

    plan = _Planned(row=row, member=member, is_new=is_new, themes=sorted(old_themes))
    if "themes" in columns:
        plan.themes = row.themes
        plan.themes_changed = set(row.themes) != old_themes
    services = [_service_token(s.kind, s.family) for s in old_services]
    if "services" in columns:
        services = _plan_services(plan, old_services, row.services)
    contact_list = list(contacts.values())
    if row.contact_email:
        contact = contacts.get(row.contact_email)
        roles = ",".join(row.contact_roles)
        if contact is None:
            # A file often has an e-mail but no name; the member's name is a sensible start.
            plan.contact_new = Contact(
                name=row.contact_name or member.name, email=row.contact_email, roles=roles
            )
            contact_list.append(plan.contact_new)
        else:
            old = (contact.name, contact.roles)
            # An empty cell keeps what the console holds: a file never erases a contact's name
            # or roles by omission.
            if row.contact_name:
                contact.name = row.contact_name
            if roles:
                contact.roles = roles
            if (contact.name, contact.roles) != old:
                plan.contact_changed = contact
    plan.before = before
    plan.after = _snapshot(member, plan.themes, services, contact_list)
    return plan


def _plan_services(plan: _Planned, old: list[Service], wanted: list[tuple[str, str]]) -> list[str]:
    """Make the member's external services equal to the column, keeping the rows that match."""
    remaining = list(wanted)
    for service in old:
        key = (service.kind, service.family)
        if key in remaining:
            remaining.remove(key)
        else:
            plan.services_to_delete.append(service.pk)
    plan.services_to_create = remaining
    return [_service_token(kind, family) for kind, family in wanted]


def _plan(parsed: csvio.ParsedFile, report: ImportReport) -> list[_Planned]:
    existing = _Existing([row.number for row in parsed.rows])
    today = timezone.localdate()
    plans = []
    for row in parsed.rows:
        plan = _plan_row(row, parsed.columns, existing, today)
        plans.append(plan)
        joined, left = plan.member.joined_on, plan.member.left_on
        if joined and left and left < joined:
            # Only possible when the file gives one of the two dates and the database the other.
            column = "left_on" if "left_on" in parsed.columns else "joined_on"
            report.errors.append(
                csvio.RowError(
                    row.line,
                    parsed.header_of.get(column, column),
                    _(
                        "The leaving date %(left)s would be before the joining date %(joined)s "
                        "recorded for this member."
                    )
                    % {"left": left.isoformat(), "joined": joined.isoformat()},
                )
            )
        if plan.is_new:
            action, changes = "created", []
            report.created.append(row.number)
        elif plan.changed:
            before = plan.before or {}
            action = "updated"
            changes = [k for k in plan.after if before.get(k) != plan.after[k]]
            report.updated.append(row.number)
        else:
            action, changes = "unchanged", []
            report.unchanged.append(row.number)
        report.rows.append(RowOutcome(row.line, row.number, plan.member.name, action, changes))
    return plans


def _write(plans: list[_Planned], *, actor: Any, report: ImportReport) -> None:
    now = timezone.now()
    new = [p for p in plans if p.is_new]
    changed = [p for p in plans if not p.is_new and p.changed]
    Member.objects.bulk_create([p.member for p in new], batch_size=_CHUNK)
    if any(p.member.pk is None for p in new):
        # Databases that cannot return the new ids from a bulk insert.
        ids: dict[str, int] = {}
        for chunk in _chunks([p.member.number for p in new]):
            ids.update(Member.objects.filter(number__in=chunk).values_list("number", "pk"))
        for p in new:
            p.member.pk = ids[p.member.number]
    for p in changed:
        p.member.updated_at = now
    if changed:
        Member.objects.bulk_update(
            [p.member for p in changed],
            [*MEMBER_COLUMNS, "status", "departement", "region", "updated_at"],
            batch_size=_CHUNK,
        )

    theme_ids = dict(Theme.objects.values_list("slug", "pk"))
    retheme = [p for p in changed if p.themes_changed]
    for id_chunk in _chunks([p.member.pk for p in retheme]):
        Through.objects.filter(member_id__in=id_chunk).delete()
    Through.objects.bulk_create(
        [
            Through(member_id=p.member.pk, theme_id=theme_ids[slug])
            for p in [*new, *retheme]
            for slug in p.themes
        ],
        batch_size=_CHUNK,
    )

    new_contacts = []
    for p in plans:
        if p.contact_new is not None:
            p.contact_new.member_id = p.member.pk
            new_contacts.append(p.contact_new)
    Contact.objects.bulk_create(new_contacts, batch_size=_CHUNK)
    updated_contacts = [p.contact_changed for p in plans if p.contact_changed is not None]
    for contact in updated_contacts:
        contact.updated_at = now
    Contact.objects.bulk_update(
        updated_contacts, ["name", "roles", "updated_at"], batch_size=_CHUNK
    )

    to_delete = [pk for p in plans for pk in p.services_to_delete]
    for id_chunk in _chunks(to_delete):
        Service.objects.filter(pk__in=id_chunk, managed=False).delete()
    Service.objects.bulk_create(
        [
            Service(member_id=p.member.pk, kind=kind, family=family, managed=False)
            for p in plans
            for kind, family in p.services_to_create
        ],
        batch_size=_CHUNK,
    )

    user = actor if getattr(actor, "is_authenticated", False) else None
    actor_name = user.get_username() if user is not None else ""
    entries = []
    for p in [*new, *changed]:
        after = dict(p.after, id=p.member.pk) if p.is_new else p.after
        entries.append(
            AuditEntry(
                action="member.imported_created" if p.is_new else "member.imported_updated",
                actor=user,
                actor_name=actor_name,
                object_type=Member._meta.label_lower,
                object_id=str(p.member.pk),
                object_repr=str(p.member)[:255],
                member_id=p.member.pk,
                before=p.before,
                after=after,
            )
        )
    AuditEntry.objects.bulk_create(entries, batch_size=_CHUNK)
    audit.record(
        "members.imported",
        actor=actor,
        object_type=Member._meta.label_lower,
        object_repr=_("Member file import"),
        after={
            "created": report.created,
            "updated": report.updated,
            "unchanged": len(report.unchanged),
        },
    )


def import_members(
    data: bytes,
    *,
    actor: Any,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Check the CSV ``data`` and, unless ``dry_run`` or an error is found, write it all."""
    progress = progress or no_progress
    report = ImportReport(dry_run=dry_run)
    parsed = csvio.parse_members(
        data, themes=Theme.objects.values_list("slug", "name"), progress=progress
    )
    if not parsed.ok:
        report.errors = parsed.errors
        return report
    total = len(parsed.rows)
    if dry_run:
        _plan(parsed, report)
    else:
        progress(total, total, _("Writing to the member file…"))
        # The comparison happens inside the transaction, so what is written is compared with
        # what the database holds at that moment (SQLite takes its write lock up front).
        with transaction.atomic():
            plans = _plan(parsed, report)
            if report.ok and (report.created or report.updated):
                _write(plans, actor=actor, report=report)
                # Rosters are computed from members and contacts: lists re-read them.
                from ronron.services.tasks import schedule_roster_sync

                schedule_roster_sync()
    if not report.ok:
        # Nothing was written: counts would only mislead.
        report.created, report.updated, report.unchanged, report.rows = [], [], [], []
    progress(total, total, _("Done"))
    return report


def export_records() -> Iterator[dict[str, str]]:
    """One record per member, with its main contact (the one with the most roles)."""
    themes: dict[int, list[str]] = defaultdict(list)
    for member_id, slug in Through.objects.values_list("member_id", "theme__slug").order_by(
        "theme__slug"
    ):
        themes[member_id].append(slug)
    services: dict[int, list[str]] = defaultdict(list)
    for member_id, kind, family in Service.objects.filter(managed=False).values_list(
        "member_id", "kind", "family"
    ):
        services[member_id].append(_service_token(kind, family))
    contacts: dict[int, Contact] = {}
    for candidate in Contact.objects.order_by("pk"):
        best = contacts.get(candidate.member_id)
        if best is None or len(candidate.role_list) > len(best.role_list):
            contacts[candidate.member_id] = candidate
    for member in Member.objects.order_by("number").iterator(chunk_size=2000):
        contact = contacts.get(member.pk)
        yield {
            "number": member.number,
            "kind": member.kind,
            "name": member.name,
            "postal_code": member.postal_code,
            "city": member.city,
            "country": member.country,
            "themes": ";".join(themes.get(member.pk, [])),
            "joined_on": member.joined_on.isoformat() if member.joined_on else "",
            "left_on": member.left_on.isoformat() if member.left_on else "",
            "services": ";".join(sorted(services.get(member.pk, []))),
            "contact_name": contact.name if contact else "",
            "contact_email": contact.email if contact else "",
            "contact_role": ";".join(contact.role_list) if contact else "",
        }


def export_members(out: TextIO) -> None:
    csvio.write_members(export_records(), out)
