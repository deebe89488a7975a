"""Apps bought by the seat (OnlyOffice): how many members and accounts have them, and the rule
that no change takes a licensed app above its seats.

Seats are counted as accounts that can open the app (every account of a space that has it, the
retired ones excepted): Ronron cannot see how many are connected at once, so it never lets more
people have the app than the licence allows. A space already above it (the licence was made
smaller) may shrink, not grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ronron.drivers.nextcloud.spec import APPS


@dataclass(frozen=True)
class LicenceUse:
    app: str
    label: str
    seats: int
    members: int
    accounts: int
    note: str

    @property
    def free(self) -> int:
        return max(0, self.seats - self.accounts)

    @property
    def over(self) -> bool:
        return self.accounts > self.seats


def _spaces_with(app: str, *, exclude: int | None = None) -> list[Any]:
    from ronron.services.models import Service

    spaces = Service.objects.filter(kind="cloud", managed=True, removed_at__isnull=True).exclude(
        wanted_state=Service.Wanted.ABSENT
    )
    if exclude is not None:
        spaces = spaces.exclude(pk=exclude)
    return [s for s in spaces.only("spec", "member_id") if app in (s.spec or {}).get("apps", [])]


def seats_wanted(spec: dict[str, Any], app: str) -> int:
    return len(spec.get("accounts", [])) if app in spec.get("apps", []) else 0


def licence_use() -> list[LicenceUse]:
    from ronron.services.models import AppLicence

    result = []
    for licence in AppLicence.objects.all():
        spaces = _spaces_with(licence.app)
        result.append(
            LicenceUse(
                app=licence.app,
                label=str(APPS.get(licence.app, licence.app)),
                seats=licence.seats,
                members=len({s.member_id for s in spaces}),
                accounts=sum(seats_wanted(s.spec or {}, licence.app) for s in spaces),
                note=licence.note,
            )
        )
    return result


def check_licences(spec: dict[str, Any], *, exclude: int | None = None) -> None:
    """ValidationError if ``spec`` (replacing the space ``exclude``, if given) would take a
    licensed app above its seats."""
    from ronron.services.models import AppLicence, Service

    current: dict[str, Any] = {}
    if exclude is not None:
        current = Service.objects.filter(pk=exclude).values_list("spec", flat=True).first() or {}
    problems = []
    for licence in AppLicence.objects.filter(app__in=spec.get("apps", [])):
        wanted = seats_wanted(spec, licence.app)
        if wanted <= seats_wanted(current, licence.app):
            continue
        others = sum(
            seats_wanted(s.spec or {}, licence.app)
            for s in _spaces_with(licence.app, exclude=exclude)
        )
        if others + wanted > licence.seats:
            problems.append(
                _(
                    "%(app)s is licensed for %(seats)d accounts: %(used)d have it already and "
                    "this space asks for %(wanted)d. Fewer accounts with %(app)s, or a larger "
                    "licence, are needed."
                )
                % {
                    "app": APPS.get(licence.app, licence.app),
                    "seats": licence.seats,
                    "used": others,
                    "wanted": wanted,
                }
            )
    if problems:
        raise ValidationError({"apps": problems}, code="licence")
