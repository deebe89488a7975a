"""Every change to services: validate, write, audit — one function per verb."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ronron.core import audit
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
