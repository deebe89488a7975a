"""Every change to services: validate, write, audit — one function per verb."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ronron.core import audit
from ronron.core.domains import normalize_domain
from ronron.core.validators import validate_slug
from ronron.members.models import Member
from ronron.services.kinds import FAMILIES, KINDS
from ronron.services.models import Service


@transaction.atomic
def record_external_service(
    member: Member, *, actor: Any, kind: str, family: str, name: str = ""
) -> Service:
    """Record a service the member uses outside Ronron (nothing is made real on a server).

    ``kind`` may be empty when only the family is known ("they have a web site"); when both
    are given they must agree (a WordPress site is in the web family).
    """
    kind, family = (kind or "").strip().lower(), (family or "").strip().lower()
    if kind and kind not in KINDS:
        raise ValidationError(
            {
                "kind": _("Unknown kind of service: %(kind)s. Known kinds: %(known)s.")
                % {"kind": kind, "known": ", ".join(sorted(KINDS))}
            }
        )
    if not family and kind:
        family = KINDS[kind]
    if family not in FAMILIES:
        raise ValidationError(
            {
                "family": _("Unknown family of services: %(family)s. Known families: %(known)s.")
                % {"family": family, "known": ", ".join(FAMILIES)}
            }
        )
    if kind and KINDS[kind] != family:
        raise ValidationError(
            {
                "kind": _(
                    "A service of kind %(kind)s belongs to the family %(expected)s, not %(family)s."
                )
                % {"kind": kind, "expected": KINDS[kind], "family": family}
            }
        )
    service = Service(member=member, kind=kind, family=family, managed=False, name=name.strip())
    service.full_clean()
    service.save()
    audit.record(
        "service.external_recorded",
        actor=actor,
        obj=service,
        member_id=member.pk,
        after=audit.snapshot(service),
    )
    return service


# The server role that hosts each family of managed services.
ROLE_OF_FAMILY = {
    "web": "web",
    "lists": "lists",
    "cloud": "cloud",
    "galette": "apps",
    "dolibarr": "apps",
}

MAX_SLUG = 24


def _slug_base(domain: str, member: Member) -> str:
    # A list's "domain" is its address: its name makes the system name.
    source = domain.split("@")[0].split(".")[0] if domain else member.number.lower()
    base = re.sub(r"[^a-z0-9-]+", "-", source.lower()).strip("-")
    return (base or "site")[: MAX_SLUG - 3].strip("-")


def _free_slug(server: Any, base: str) -> str:
    taken = set(
        Service.objects.filter(server=server, managed=True, removed_at__isnull=True)
        .filter(slug__startswith=base)
        .values_list("slug", flat=True)
    )
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@transaction.atomic
def request_service(
    member: Member,
    *,
    actor: Any,
    kind: str,
    domain: str = "",
    spec: dict[str, Any] | None = None,
    server: Any = None,
    slug: str = "",
) -> Service:
    """Record a new managed service; the reconciler makes it real at the next apply.

    The spec is validated by the kind's driver; the server is the admin's choice or the one of
    the right role with the most free capacity; the system name comes from the domain.
    """
    from ronron.drivers.base import driver_for

    try:
        driver = driver_for(kind)
    except LookupError:
        raise ValidationError(
            {"kind": _("Ronron cannot create services of kind %(kind)s yet.") % {"kind": kind}}
        ) from None
    family = KINDS[kind]
    errors: dict[str, Any] = {}
    if domain or hasattr(driver, "normalize_domain"):
        try:
            # A driver may give "domain" its own meaning (a list's address).
            domain = getattr(driver, "normalize_domain", normalize_domain)(domain)
        except ValidationError as exc:
            errors["domain"] = exc.messages
    clean_spec: dict[str, Any] = {}
    try:
        clean_spec = driver.validate_spec(dict(spec or {}))
    except ValidationError as exc:
        errors["spec"] = exc.messages
    if errors:
        raise ValidationError(errors)
    role = ROLE_OF_FAMILY.get(family, family)
    if server is None:
        from ronron.fleet.placement import choose_server

        server = choose_server(role)
    elif role not in server.role_list:
        raise ValidationError(
            {
                "server": _("The server %(server)s does not have the role “%(role)s”.")
                % {"server": server.name, "role": role}
            }
        )
    if slug:
        validate_slug(slug)
        if len(slug) > MAX_SLUG:
            raise ValidationError({"slug": _("A system name has at most 24 characters.")})
    else:
        base = driver.slug_base(member, clean_spec) if hasattr(driver, "slug_base") else ""
        slug = _free_slug(server, base or _slug_base(domain, member))
    _check_names_are_free(domain, clean_spec.get("aliases", []))
    if hasattr(driver, "check_claims"):
        driver.check_claims(clean_spec, member=member, server=server)
    service = Service(
        member=member,
        kind=kind,
        family=family,
        managed=True,
        server=server,
        slug=slug,
        domain=domain,
        spec=clean_spec,
        wanted_state=Service.Wanted.PRESENT,
    )
    service.full_clean()
    service.save()
    audit.record(
        "service.requested",
        actor=actor,
        obj=service,
        member_id=member.pk,
        after=audit.snapshot(service),
    )
    return service


def _check_names_are_free(domain: str, aliases: list[str], *, exclude: int | None = None) -> None:
    """A name (domain or alias) is served by one live service only, and not twice by it."""
    if domain and domain in aliases:
        raise ValidationError(
            {"spec": _("The alias %(name)s is already the main domain.") % {"name": domain}}
        )
    live = Service.objects.filter(managed=True, removed_at__isnull=True)
    if exclude is not None:
        live = live.exclude(pk=exclude)
    taken: set[str] = set()
    for other_domain, spec in live.exclude(domain="").values_list("domain", "spec"):
        taken.add(other_domain)
        taken.update((spec or {}).get("aliases", []))
    if domain in taken:
        raise ValidationError(
            {"domain": _("Another service already uses %(domain)s.") % {"domain": domain}}
        )
    clashing = sorted(set(aliases) & taken)
    if clashing:
        raise ValidationError(
            {"spec": _("Another service already uses %(domain)s.") % {"domain": clashing[0]}}
        )


def _set_wanted(
    service: Service, wanted: str, action: str, *, actor: Any, allowed_from: set[str]
) -> Service:
    locked = Service.objects.select_for_update().get(pk=service.pk)
    if not locked.managed or locked.removed_at is not None:
        raise ValidationError(_("This service is not managed by Ronron any more."))
    if locked.wanted_state not in allowed_from:
        raise ValidationError(
            _("This cannot be done while the service is “%(state)s”.")
            % {"state": locked.get_wanted_state_display()}
        )
    before = audit.snapshot(locked)
    locked.wanted_state = wanted
    locked.save(update_fields=["wanted_state", "updated_at"])
    audit.record(
        action,
        actor=actor,
        obj=locked,
        member_id=locked.member_id,
        before=before,
        after=audit.snapshot(locked),
    )
    return locked


@transaction.atomic
def suspend_service(service: Service, *, actor: Any) -> Service:
    """The site answers with the « service suspendu » page; its data stays."""
    return _set_wanted(
        service,
        Service.Wanted.SUSPENDED,
        "service.suspended",
        actor=actor,
        allowed_from={Service.Wanted.PRESENT},
    )


@transaction.atomic
def resume_service(service: Service, *, actor: Any) -> Service:
    return _set_wanted(
        service,
        Service.Wanted.PRESENT,
        "service.resumed",
        actor=actor,
        allowed_from={Service.Wanted.SUSPENDED},
    )


@transaction.atomic
def remove_service(service: Service, *, actor: Any) -> Service:
    """Ask for removal: the next apply exports, verifies the archive, then removes."""
    return _set_wanted(
        service,
        Service.Wanted.ABSENT,
        "service.removal_requested",
        actor=actor,
        allowed_from={Service.Wanted.PRESENT, Service.Wanted.SUSPENDED},
    )


@transaction.atomic
def update_service_spec(service: Service, *, actor: Any, spec: dict[str, Any]) -> Service:
    from ronron.drivers.base import driver_for

    locked = Service.objects.select_for_update().get(pk=service.pk)
    driver: Any = driver_for(locked.kind)
    clean = driver.validate_spec(dict(spec))
    if hasattr(driver, "carry_over"):
        # What the new settings drop that the server still holds (a cloud account) is kept
        # aside by the driver, never deleted by a settings change.
        clean = driver.carry_over(locked.spec or {}, clean)
    _check_names_are_free(locked.domain, clean.get("aliases", []), exclude=locked.pk)
    if hasattr(driver, "check_claims"):
        driver.check_claims(clean, member=locked.member, server=locked.server, exclude=locked.pk)
    before = audit.snapshot(locked)
    locked.spec = clean
    locked.full_clean()
    locked.save(update_fields=["spec", "updated_at"])
    audit.record(
        "service.settings_changed",
        actor=actor,
        obj=locked,
        member_id=locked.member_id,
        before=before,
        after=audit.snapshot(locked),
    )
    return locked


@transaction.atomic
def record_removal(service: Service, *, archive_path: str, actor: Any = None) -> Service:
    """Called by the reconciler once the driver removed the service after a verified export."""
    locked = Service.objects.select_for_update().get(pk=service.pk)
    before = audit.snapshot(locked)
    locked.removed_at = timezone.now()
    locked.archive_path = archive_path
    locked.observed_state = Service.Observed.ABSENT
    locked.save(update_fields=["removed_at", "archive_path", "observed_state", "updated_at"])
    audit.record(
        "service.removed",
        actor=actor,
        obj=locked,
        member_id=locked.member_id,
        before=before,
        after=audit.snapshot(locked),
    )
    return locked
