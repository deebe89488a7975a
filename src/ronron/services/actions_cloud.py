"""Changes to what cloud spaces share (the licences of apps bought by the seat), and work groups
asked for with the roster they follow."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ronron.core import audit
from ronron.core.validators import reject_control_characters
from ronron.drivers.nextcloud.spec import APPS
from ronron.services.actions import request_service
from ronron.services.actions_rosters import follow_roster
from ronron.services.models import AppLicence, Roster, Service

MAX_SEATS = 100_000


@transaction.atomic
def set_licence(*, actor: Any, app: str, seats: int, note: str = "") -> AppLicence:
    """Record (or change) how many seats of ``app`` the hoster bought."""
    if app not in APPS:
        raise ValidationError({"app": _("Ronron does not offer this app.")})
    if isinstance(seats, bool) or not isinstance(seats, int) or not 1 <= seats <= MAX_SEATS:
        raise ValidationError(
            {"seats": _("Give a number of seats between 1 and %(max)d.") % {"max": MAX_SEATS}}
        )
    try:
        reject_control_characters(note or "")
    except ValidationError as exc:
        raise ValidationError({"note": exc.messages}) from None
    note = (note or "").strip()[:200]
    licence = AppLicence.objects.select_for_update().filter(app=app).first()
    before = audit.snapshot(licence) if licence else None
    if licence is None:
        licence = AppLicence(app=app, seats=seats, note=note)
    else:
        licence.seats, licence.note = seats, note
    licence.full_clean()
    licence.save()
    audit.record(
        "cloud.licence_set", actor=actor, obj=licence, before=before, after=audit.snapshot(licence)
    )
    return licence


@transaction.atomic
def remove_licence(licence: AppLicence, *, actor: Any) -> None:
    """The app is no longer counted: any number of accounts may have it."""
    before = audit.snapshot(licence)
    audit.record("cloud.licence_removed", actor=actor, obj=licence, before=before)
    licence.delete()


@transaction.atomic
def request_work_group(
    member: Any, *, actor: Any, roster: Roster, spec: dict[str, Any], server: Any = None
) -> Service:
    """A work group and the roster it follows are recorded together, or not at all."""
    service = request_service(member, actor=actor, kind="cloudgroup", spec=spec, server=server)
    return follow_roster(service, roster, actor=actor)
