"""Every change admins make to monitoring: validate, write, audit — one function per verb.

Manual checks are validated by ``specs.validate_check`` (the prober's own rules), recurring
maintenances by ``maintenance.validate_recurrence``; both are imported where they are used so that
this module loads before them. Derived checks belong to their service: only whether they are
public and whether they alert the member can change here.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ronron.core import audit
from ronron.core.validators import reject_control_characters
from ronron.members.models import Member
from ronron.monitoring.models import Check, Incident, IncidentUpdate, Maintenance, StatusPage

# What the prober writes about a check: never part of what an admin changed.
STATE_FIELDS = (
    "status",
    "status_since",
    "last_checked_at",
    "last_latency_ms",
    "last_message",
    "consecutive_failures",
    "consecutive_successes",
    "alert_open",
    "alert_opened_at",
    "alert_reminded_at",
    "availability",
    "availability_at",
)
CHECK_FIELDS = {
    "name",
    "kind",
    "target",
    "settings",
    "interval_s",
    "timeout_s",
    "enabled",
    "public",
    "member",
    "notify_member",
}
# A derived check follows its service; admins still choose who sees it, who is alerted, and
# the content a web page must show (its "expected content": the site's name, say).
DERIVED_CHECK_FIELDS = {"public", "notify_member", "settings"}
MAINTENANCE_FIELDS = {
    "title",
    "starts_at",
    "ends_at",
    "recurrence",
    "duration_minutes",
    "member",
    "checks",
}
# A week: longer windows are better written as several, or as a disabled check.
MAX_MAINTENANCE_MINUTES = 7 * 24 * 60
TOKEN_BYTES = 32


def check_snapshot(check: Check) -> dict[str, Any]:
    return audit.snapshot(check, exclude=STATE_FIELDS)


def maintenance_snapshot(maintenance: Maintenance) -> dict[str, Any]:
    data = audit.snapshot(maintenance)
    data["checks"] = sorted(maintenance.checks.values_list("pk", flat=True))
    return data


def incident_snapshot(incident: Incident) -> dict[str, Any]:
    data = audit.snapshot(incident)
    data["checks"] = sorted(incident.checks.values_list("pk", flat=True))
    return data


def _line(value: Any, field: str, errors: dict[str, list[str]], *, required: bool = True) -> str:
    """A one-line text: stripped, without CR/LF/NUL, present when required."""
    text = (value or "").strip() if isinstance(value, str) else ""
    try:
        reject_control_characters(text)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)
        return text
    if required and not text:
        errors.setdefault(field, []).append(_("This field is required."))
    return text


def _merge(errors: dict[str, list[str]], exc: ValidationError, default: str) -> None:
    if hasattr(exc, "error_dict"):
        for field, items in exc.message_dict.items():
            errors.setdefault(field, []).extend(items)
    else:
        errors.setdefault(default, []).extend(exc.messages)


def _validated_check(check: Check, errors: dict[str, list[str]]) -> None:
    """Normalise and check a manual check in place; problems go to ``errors`` by field."""
    from ronron.monitoring import specs

    check.name = _line(check.name, "name", errors)
    if check.kind not in Check.Kind.values:
        errors.setdefault("kind", []).append(_("Choose what to check."))
    else:
        try:
            check.target, check.settings = specs.validate_check(
                check.kind,
                (check.target or "").strip(),
                dict(check.settings or {}),
                int(check.interval_s),
                int(check.timeout_s),
            )
        except ValidationError as exc:
            _merge(errors, exc, "target")
    if check.notify_member and check.member_id is None:
        errors.setdefault("notify_member", []).append(
            _("Only a member's check can alert the member's technical contact.")
        )


def _clean_and_save(check: Check, errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)
    try:
        check.full_clean(exclude=["service", "purpose"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None
    check.save()


@transaction.atomic
def create_check(
    *,
    actor: Any,
    name: str,
    kind: str,
    target: str,
    settings: dict[str, Any] | None = None,
    interval_s: int = 60,
    timeout_s: int = 10,
    member: Member | None = None,
    public: bool = True,
    notify_member: bool = False,
    enabled: bool = True,
) -> Check:
    """A manual check: whatever an admin wants watched that no service gives."""
    check = Check(
        name=name,
        kind=kind,
        target=target,
        settings=settings or {},
        interval_s=interval_s,
        timeout_s=timeout_s,
        member=member,
        public=public,
        notify_member=notify_member,
        enabled=enabled,
    )
    errors: dict[str, list[str]] = {}
    _validated_check(check, errors)
    _clean_and_save(check, errors)
    audit.record(
        "check.created",
        actor=actor,
        obj=check,
        member_id=check.member_id,
        after=check_snapshot(check),
    )
    return check


@transaction.atomic
def update_check(check: Check, *, actor: Any, **changes: Any) -> Check:
    """Change a check. A derived check (made from a service) only changes whether it is public
    and whether it alerts the member: the rest follows its service."""
    unknown = set(changes) - CHECK_FIELDS
    if unknown:
        raise ValidationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)))
    locked = Check.objects.select_for_update().get(pk=check.pk)
    if locked.service_id is not None:
        refused = set(changes) - DERIVED_CHECK_FIELDS
        if refused:
            raise ValidationError(
                _(
                    "This check follows its service: only whether it is public, whether it "
                    "alerts the member and the content it expects can change."
                ),
                code="derived",
            )
    before = check_snapshot(locked)
    for field, value in changes.items():
        setattr(locked, field, value)
    errors: dict[str, list[str]] = {}
    if locked.service_id is None or "settings" in changes:
        # For a derived check, only its settings are new: target and timing are its service's.
        _validated_check(locked, errors)
    elif locked.notify_member and locked.member_id is None:
        errors["notify_member"] = [
            _("Only a member's check can alert the member's technical contact.")
        ]
    _clean_and_save(locked, errors)
    after = check_snapshot(locked)
    if after != before:
        audit.record(
            "check.updated",
            actor=actor,
            obj=locked,
            member_id=locked.member_id,
            before=before,
            after=after,
        )
    return locked


@transaction.atomic
def delete_check(check: Check, *, actor: Any) -> None:
    """A manual check and its history go; a derived one is disabled by its service instead."""
    locked = Check.objects.select_for_update().get(pk=check.pk)
    if locked.service_id is not None:
        raise ValidationError(
            _("This check follows its service: it stops when the service is removed or suspended."),
            code="derived",
        )
    audit.record(
        "check.deleted",
        actor=actor,
        obj=locked,
        member_id=locked.member_id,
        before=check_snapshot(locked),
    )
    locked.delete()


def _validated_maintenance(maintenance: Maintenance, errors: dict[str, list[str]]) -> None:
    from ronron.monitoring import maintenance as windows

    maintenance.title = _line(maintenance.title, "title", errors)
    raw = maintenance.recurrence
    maintenance.recurrence = _line(raw, "recurrence", errors, required=False)
    starts, ends = maintenance.starts_at, maintenance.ends_at
    if starts is None:
        errors.setdefault("starts_at", []).append(_("Say when the maintenance starts."))
    if maintenance.recurrence and "recurrence" not in errors:
        try:
            maintenance.recurrence = windows.validate_recurrence(maintenance.recurrence)
        except ValidationError as exc:
            errors.setdefault("recurrence", []).extend(exc.messages)
        minutes = maintenance.duration_minutes or 0
        if not 0 < minutes <= MAX_MAINTENANCE_MINUTES:
            errors.setdefault("duration_minutes", []).append(
                _("Each occurrence lasts from 1 minute to %(max)s minutes (a week).")
                % {"max": MAX_MAINTENANCE_MINUTES}
            )
    elif not maintenance.recurrence:
        # A one-off window always ends: one left open would silence alerts for good.
        minutes = maintenance.duration_minutes or 0
        if ends is None and starts is not None and 0 < minutes <= MAX_MAINTENANCE_MINUTES:
            ends = maintenance.ends_at = starts + timedelta(minutes=minutes)
        maintenance.duration_minutes = 0
        if ends is None:
            errors.setdefault("ends_at", []).append(
                _("Say when the maintenance ends (or how long it lasts, or make it recurring).")
            )
    if starts is not None and ends is not None and ends <= starts:
        errors.setdefault("ends_at", []).append(_("The end must come after the start."))


def _set_checks(obj: Maintenance | Incident, checks: Iterable[Check]) -> None:
    obj.checks.set(list(checks))


@transaction.atomic
def create_maintenance(
    *,
    actor: Any,
    title: str,
    starts_at: datetime | None,
    ends_at: datetime | None = None,
    recurrence: str = "",
    duration_minutes: int = 0,
    member: Member | None = None,
    checks: Iterable[Check] = (),
) -> Maintenance:
    """A planned window: with no member and no check it covers every check; otherwise the
    member's checks and the checks listed."""
    chosen = list(checks)
    # starts_at may be missing here: the validation below says so next to its field.
    values: dict[str, Any] = {
        "title": title,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "recurrence": recurrence or "",
        "duration_minutes": duration_minutes or 0,
        "member": member,
    }
    maintenance = Maintenance(**values)
    errors: dict[str, list[str]] = {}
    _validated_maintenance(maintenance, errors)
    if errors:
        raise ValidationError(errors)
    maintenance.full_clean()
    maintenance.save()
    _set_checks(maintenance, chosen)
    audit.record(
        "maintenance.created",
        actor=actor,
        obj=maintenance,
        member_id=maintenance.member_id,
        after=maintenance_snapshot(maintenance),
    )
    return maintenance


@transaction.atomic
def update_maintenance(maintenance: Maintenance, *, actor: Any, **changes: Any) -> Maintenance:
    unknown = set(changes) - MAINTENANCE_FIELDS
    if unknown:
        raise ValidationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)))
    locked = Maintenance.objects.select_for_update().get(pk=maintenance.pk)
    before = maintenance_snapshot(locked)
    chosen = list(changes.pop("checks")) if "checks" in changes else list(locked.checks.all())
    for field, value in changes.items():
        setattr(locked, field, (value or "") if field == "recurrence" else value)
    errors: dict[str, list[str]] = {}
    _validated_maintenance(locked, errors)
    if errors:
        raise ValidationError(errors)
    locked.full_clean()
    locked.save()
    _set_checks(locked, chosen)
    after = maintenance_snapshot(locked)
    if after != before:
        audit.record(
            "maintenance.updated",
            actor=actor,
            obj=locked,
            member_id=locked.member_id,
            before=before,
            after=after,
        )
    return locked


@transaction.atomic
def delete_maintenance(maintenance: Maintenance, *, actor: Any) -> None:
    locked = Maintenance.objects.select_for_update().get(pk=maintenance.pk)
    audit.record(
        "maintenance.deleted",
        actor=actor,
        obj=locked,
        member_id=locked.member_id,
        before=maintenance_snapshot(locked),
    )
    locked.delete()


def _message(value: Any, errors: dict[str, list[str]]) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if "\x00" in text:
        errors.setdefault("message", []).append(_("NUL characters are not allowed here."))
    elif not text:
        errors.setdefault("message", []).append(_("Say what is happening."))
    return text


def _incident_status(value: str, errors: dict[str, list[str]]) -> str:
    if value not in Incident.Status.values:
        errors.setdefault("status", []).append(_("Choose a status."))
    return value


@transaction.atomic
def open_incident(
    *,
    actor: Any,
    title: str,
    message: str,
    status: str = Incident.Status.INVESTIGATING,
    member: Member | None = None,
    checks: Iterable[Check] = (),
    public: bool = True,
    started_at: datetime | None = None,
) -> Incident:
    """What admins tell people about a problem; ``message`` is its first update."""
    errors: dict[str, list[str]] = {}
    title = _line(title, "title", errors)
    message = _message(message, errors)
    _incident_status(status, errors)
    if status == Incident.Status.RESOLVED:
        errors.setdefault("status", []).append(_("A new incident cannot be resolved already."))
    now = timezone.now()
    if started_at is not None and started_at > now:
        errors.setdefault("started_at", []).append(_("An incident cannot start in the future."))
    if errors:
        raise ValidationError(errors)
    incident = Incident(
        title=title,
        status=status,
        member=member,
        public=public,
        started_at=started_at or now,
    )
    incident.full_clean()
    incident.save()
    _set_checks(incident, checks)
    IncidentUpdate.objects.create(
        incident=incident, at=now, status=status, message=message, author=_user(actor)
    )
    audit.record(
        "incident.opened",
        actor=actor,
        obj=incident,
        member_id=incident.member_id,
        after={**incident_snapshot(incident), "message": message},
    )
    return incident


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def add_incident_update(
    incident: Incident, *, actor: Any, status: str, message: str
) -> IncidentUpdate:
    """News of an incident; its status becomes the update's (resolved closes it, any other
    status reopens a resolved one)."""
    errors: dict[str, list[str]] = {}
    message = _message(message, errors)
    _incident_status(status, errors)
    if errors:
        raise ValidationError(errors)
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    before = {"status": locked.status, "resolved_at": _iso(locked.resolved_at)}
    now = timezone.now()
    locked.status = status
    locked.resolved_at = now if status == Incident.Status.RESOLVED else None
    locked.save(update_fields=["status", "resolved_at"])
    update = IncidentUpdate.objects.create(
        incident=locked, at=now, status=status, message=message, author=_user(actor)
    )
    resolved = status == Incident.Status.RESOLVED and before["status"] != status
    audit.record(
        "incident.resolved" if resolved else "incident.updated",
        actor=actor,
        obj=locked,
        member_id=locked.member_id,
        before=before,
        after={
            "status": locked.status,
            "resolved_at": _iso(locked.resolved_at),
            "message": message,
        },
    )
    incident.status, incident.resolved_at = locked.status, locked.resolved_at
    return update


def resolve_incident(incident: Incident, *, actor: Any, message: str = "") -> IncidentUpdate:
    return add_incident_update(
        incident,
        actor=actor,
        status=Incident.Status.RESOLVED,
        message=message.strip() or _("The problem is solved."),
    )


def _new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _status_page(member: Member) -> tuple[StatusPage, bool]:
    page = StatusPage.objects.select_for_update().filter(member=member).first()
    if page is not None:
        return page, False
    return StatusPage.objects.create(member=member, public=False, token=_new_token()), True


@transaction.atomic
def set_status_page_public(member: Member, *, public: bool, actor: Any) -> StatusPage:
    """Public: anyone may see the member's page at its number; private: only with its link."""
    page, created = _status_page(member)
    before = None if created else {"public": page.public}
    if page.public != public:
        page.public = public
        page.save(update_fields=["public"])
    elif not created:
        return page
    audit.record(
        "status_page.published" if public else "status_page.made_private",
        actor=actor,
        obj=page,
        member_id=member.pk,
        before=before,
        after={"public": page.public},
    )
    return page


@transaction.atomic
def regenerate_status_page_token(member: Member, *, actor: Any) -> StatusPage:
    """A new private link; the old one stops working at once. The token itself never reaches
    the audit log: it is as good as a password."""
    page, created = _status_page(member)
    if not created:
        page.token = _new_token()
        page.save(update_fields=["token"])
    audit.record(
        "status_page.link_created" if created else "status_page.link_replaced",
        actor=actor,
        obj=page,
        member_id=member.pk,
        after={"public": page.public},
    )
    return page
