"""Checks derived from services: every live managed web site, list and cloud is watched without
anyone writing a check.

- a web site (static, WordPress, SPIP, app): its answer over HTTPS (``https://domain/``, or
  ``http://`` when its spec says ``"tls": false``), and its certificate when it has one;
- a list (``name@robot``): the robot's web interface, ``https://robot/sympa``;
- a cloud space: ``https://domain/``.

``sync_derived_checks`` creates what is missing, follows a domain that changed, and disables the
checks of services suspended or removed (never deletes them: their history stays); running it
again changes nothing. Admins never write these checks; they come back as the services say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import idna
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ronron.core.domains import normalize_domain
from ronron.monitoring.models import Check, StateChange
from ronron.services.kinds import KINDS
from ronron.services.models import Service

WEB_SITE_KINDS = frozenset(kind for kind, family in KINDS.items() if family == "web")
DERIVED_KINDS = WEB_SITE_KINDS | {"list", "cloud"}
_NAME_LENGTH = Check._meta.get_field("name").max_length or 200


@dataclass(frozen=True)
class Wanted:
    """What one derived check should be."""

    member_id: int
    kind: str
    target: str
    name: str


def _readable(domain: str) -> str:
    """``xn--caf-dma.fr`` → ``café.fr`` for names people read."""
    try:
        return idna.decode(domain)
    except (idna.IDNAError, UnicodeError):
        return domain


def _wanted_for(service: Service) -> dict[str, Wanted]:
    """The derived checks of one live service, by purpose (none for a name that does not
    validate: nothing unvalidated reaches the prober)."""
    try:
        if service.kind == "list":
            name, _at, robot = service.domain.rpartition("@")
            host = normalize_domain(robot)
            label = f"{name}@{_readable(host)}" if name else _readable(host)
        else:
            host = normalize_domain(service.domain)
            label = _readable(host)
    except ValidationError:
        return {}

    def wanted(kind: str, target: str, name: str) -> Wanted:
        return Wanted(service.member_id, kind, target, name[:_NAME_LENGTH])

    if service.kind == "list":
        return {
            "web": wanted(
                Check.Kind.HTTP,
                f"https://{host}/sympa",
                _("%(address)s — list web interface") % {"address": label},
            )
        }
    if service.kind == "cloud":
        return {
            "web": wanted(Check.Kind.HTTP, f"https://{host}/", _("%(domain)s — cloud") % {
                "domain": label
            })
        }  # fmt: skip
    tls = (service.spec or {}).get("tls", True) is not False
    checks = {
        "https": wanted(
            Check.Kind.HTTP,
            f"{'https' if tls else 'http'}://{host}/",
            _("%(domain)s — web site") % {"domain": label},
        )
    }
    if tls:
        checks["certificate"] = wanted(
            Check.Kind.CERTIFICATE, host, _("%(domain)s — certificate") % {"domain": label}
        )
    return checks


@transaction.atomic
def sync_derived_checks(now: datetime | None = None) -> dict[str, int]:
    """Bring the derived checks in step with the services; returns how many were created,
    updated (target, name, member, or enabled again) and disabled."""
    now = now or timezone.now()
    wanted: dict[tuple[int, str], Wanted] = {}
    live = Service.objects.filter(
        managed=True,
        kind__in=DERIVED_KINDS,
        removed_at__isnull=True,
        wanted_state=Service.Wanted.PRESENT,
    ).only("pk", "member_id", "kind", "domain", "spec")
    # Names are written in the hoster's language, whoever runs the sync.
    with translation.override(settings.LANGUAGE_CODE):
        for service in live:
            for purpose, wish in _wanted_for(service).items():
                wanted[(service.pk, purpose)] = wish

    existing = {
        (check.service_id, check.purpose): check
        for check in Check.objects.filter(service__isnull=False)
        if check.service_id is not None
    }
    created = [
        Check(
            service_id=service_id,
            purpose=purpose,
            member_id=wish.member_id,
            kind=wish.kind,
            target=wish.target,
            name=wish.name,
        )
        for (service_id, purpose), wish in wanted.items()
        if (service_id, purpose) not in existing
    ]
    updated: list[Check] = []
    for key, wish in wanted.items():
        current = existing.get(key)
        if current is None:
            continue
        values = {"member_id": wish.member_id, "kind": wish.kind, "target": wish.target}
        values |= {"name": wish.name, "enabled": True}
        if any(getattr(current, field) != value for field, value in values.items()):
            for field, value in values.items():
                setattr(current, field, value)
            current.updated_at = now
            updated.append(current)
    disabled = [check for key, check in existing.items() if key not in wanted and check.enabled]
    for check in disabled:
        # Not watched from now on: its state is unknown, which availability does not count,
        # and it has no alert (whoever gets them is not told about a suspended site).
        check.enabled = False
        check.status = Check.Status.UNKNOWN
        check.status_since = now
        check.consecutive_failures = check.consecutive_successes = 0
        check.alert_open = False
        check.updated_at = now

    Check.objects.bulk_create(created, batch_size=500)
    Check.objects.bulk_update(
        updated, ["member_id", "kind", "target", "name", "enabled", "updated_at"], batch_size=500
    )
    Check.objects.bulk_update(
        disabled,
        [
            "enabled",
            "status",
            "status_since",
            "consecutive_failures",
            "consecutive_successes",
            "alert_open",
            "updated_at",
        ],
        batch_size=500,
    )
    with translation.override(settings.LANGUAGE_CODE):
        why = _("Not watched: the service is suspended or removed.")
    StateChange.objects.bulk_create(
        StateChange(endpoint=check, at=now, status=Check.Status.UNKNOWN, message=why)
        for check in disabled
    )
    return {"created": len(created), "updated": len(updated), "disabled": len(disabled)}
