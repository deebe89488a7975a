"""The figures of the general-assembly report, computed from the member file.

Everything is read once (a few columns of members, themes and services) and counted in Python:
ten years of ten thousand members is a hundred thousand comparisons, far quicker than one query
per year and figure. The rules are the ones the report prints (``definitions``):

* a member of year Y joined on or before 31 December of Y and had not left by then (no leaving
  date, or one after 31 December of Y); collectives are counted with the associations;
* arrivals joined during Y, departures left during Y (so one who joined and left in the same
  year is an arrival and a departure, not a member of Y);
* a service counts for Y unless it was removed on or before 31 December of Y; a service Ronron
  manages counts from its creation, an external one (its start unknown) for every year.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from ronron.members.geography import departement_name, locate, normalize_city
from ronron.members.models import Member, Theme
from ronron.services.kinds import FAMILIES, KINDS
from ronron.services.models import Service

# How many years the side-by-side table goes back, the report's own year included.
HISTORY_YEARS = 10
WEB_ENGINES = tuple(kind for kind, family in KINDS.items() if family == "web")


class ReportError(ValueError):
    """A report cannot be made as asked (a year out of range, an unknown home commune)."""


@dataclass(frozen=True)
class HomeCommune:
    postal_code: str
    name: str
    region: str

    @property
    def key(self) -> str:
        return normalize_city(self.name)


def home_commune(value: tuple[str, str] | None) -> HomeCommune | None:
    """The hoster's commune from (postal code, name); refuses a code France does not know."""
    if value is None:
        return None
    postal_code, name = value
    if any(char in name for char in "\r\n\x00"):
        raise ReportError(_("The commune name may not contain line breaks."))
    place = locate(postal_code, name)
    if not place.region:
        raise ReportError(
            _("The postal code %(code)s is not a known French postal code.") % {"code": postal_code}
        )
    return HomeCommune(postal_code, name, place.region)


@dataclass(frozen=True)
class Split:
    associations: int = 0
    individuals: int = 0

    @property
    def total(self) -> int:
        return self.associations + self.individuals


@dataclass(frozen=True)
class HomeFigures:
    name: str
    postal_code: str
    count: int
    share_percent: Decimal | None  # of the associations of the year
    region: str
    # The home commune together with the rest of its région.
    with_region_count: int
    with_region_share_percent: Decimal | None


@dataclass(frozen=True)
class ManagedFigures:
    """What Ronron runs, at the end of the year (or today for the current year)."""

    web: dict[str, int]  # engine (kind) → sites, every engine shown
    lists: int
    addresses: int
    # Messages the lists distribute a day (mean of the last 30 days, as last observed).
    list_messages_per_day: int
    cloud_spaces: int
    cloud_accounts: int


@dataclass(frozen=True)
class YearFigures:
    year: int
    members: Split
    arrivals: Split
    departures: Split
    growth_percent: Decimal | None  # associations, against Y-1; None when Y-1 had none
    services: dict[str, int]  # family → associations using it, every family shown
    regions: dict[str, int]  # région (or country, or "unknown") → associations, largest first
    home: HomeFigures | None
    themes: dict[str, int]  # theme slug → associations, largest first
    managed: ManagedFigures | None


@dataclass(frozen=True)
class Report:
    year: int
    current: YearFigures
    history: list[YearFigures]  # oldest first, ending with ``current``
    theme_names: dict[str, str]
    home_commune: HomeCommune | None
    generated_at: datetime
    hoster_name: str
    definitions: list[str] = field(default_factory=list)


def percent(part: int, whole: int) -> Decimal | None:
    """part / whole × 100 with one decimal, halves rounded away from zero; None if whole is 0."""
    if whole == 0:
        return None
    exact = Fraction(part * 100, whole)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


@dataclass
class _Member:
    pk: int
    organisation: bool
    joined_on: date | None
    left_on: date | None
    place: str  # région, collectivité, country code ("@BE") or "" when unknown
    home: bool
    themes: list[str] = field(default_factory=list)


@dataclass
class _Service:
    member_pk: int
    family: str
    kind: str
    managed: bool
    created_on: date
    removed_on: date | None
    observed: dict[str, Any]


def _local_date(moment: datetime | None) -> date | None:
    return timezone.localtime(moment).date() if moment else None


def _place(region: str, departement: str, country: str) -> str:
    if region:
        return region
    if departement:  # a collectivité d'outre-mer: French, but in no région
        return departement_name(departement)
    if country and country != "FR":
        return f"@{country}"
    return ""


def _load_members(home: HomeCommune | None) -> list[_Member]:
    rows = Member.objects.filter(joined_on__isnull=False).values_list(
        "pk",
        "kind",
        "joined_on",
        "left_on",
        "region",
        "departement",
        "country",
        "postal_code",
        "city",
    )
    members = {}
    for pk, kind, joined, left, region, dep, country, postal_code, city in rows:
        is_home = (
            home is not None
            and country == "FR"
            and postal_code.replace(" ", "") == home.postal_code
            and normalize_city(city) == home.key
        )
        members[pk] = _Member(
            pk, kind != Member.Kind.INDIVIDUAL, joined, left, _place(region, dep, country), is_home
        )
    for member_pk, slug in Member.themes.through.objects.values_list("member_id", "theme__slug"):
        if member_pk in members:
            members[member_pk].themes.append(slug)
    return list(members.values())


def _load_services() -> list[_Service]:
    rows = Service.objects.values_list(
        "member_id", "family", "kind", "managed", "created_at", "removed_at", "observed"
    )
    return [
        _Service(
            member,
            family,
            kind,
            managed,
            _local_date(created) or date.min,
            _local_date(removed),
            observed if isinstance(observed, dict) else {},
        )
        for member, family, kind, managed, created, removed, observed in rows
    ]


def _alive(service: _Service, day: date) -> bool:
    if service.removed_on is not None and service.removed_on <= day:
        return False
    return not service.managed or service.created_on <= day


def _fact(service: _Service, name: str) -> float:
    """A figure the driver observed on the server (``observed["facts"]``), 0 if unknown."""
    facts = service.observed.get("facts")
    value = facts.get(name) if isinstance(facts, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _managed(services: list[_Service], day: date) -> ManagedFigures:
    alive = [s for s in services if _alive(s, day)]
    web = {engine: sum(1 for s in alive if s.kind == engine) for engine in WEB_ENGINES}
    lists = [s for s in alive if s.family == "lists"]
    # Work groups are groups inside a cloud, not spaces of their own.
    clouds = [s for s in alive if s.family == "cloud" and s.kind != "cloudgroup"]
    return ManagedFigures(
        web=web,
        lists=len(lists),
        addresses=round(sum(_fact(s, "subscribers") for s in lists if s.managed)),
        list_messages_per_day=round(sum(_fact(s, "messages_per_day") for s in lists if s.managed)),
        cloud_spaces=len(clouds),
        cloud_accounts=round(sum(_fact(s, "accounts") for s in clouds if s.managed)),
    )


def _sorted_counts(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


class _Calculator:
    def __init__(self, home: HomeCommune | None, today: date) -> None:
        self.home = home
        self.today = today
        self.members = _load_members(home)
        self.services = _load_services()
        self.families_by_member: dict[int, list[_Service]] = {}
        for service in self.services:
            self.families_by_member.setdefault(service.member_pk, []).append(service)
        self.manages = any(s.managed for s in self.services)
        self._members_of: dict[int, list[_Member]] = {}

    def members_of(self, year: int) -> list[_Member]:
        """Members at the end of ``year``; each year is asked twice (as itself and as the year
        before the next), so it is counted once."""
        if year not in self._members_of:
            end = date(year, 12, 31)
            self._members_of[year] = [
                m
                for m in self.members
                if m.joined_on is not None
                and m.joined_on <= end
                and (m.left_on is None or m.left_on > end)
            ]
        return self._members_of[year]

    def year(self, year: int) -> YearFigures:
        end = date(year, 12, 31)
        current = self.members_of(year)
        organisations = [m for m in current if m.organisation]
        previous = sum(1 for m in self.members_of(year - 1) if m.organisation)
        arrivals = [m for m in self.members if m.joined_on and m.joined_on.year == year]
        departures = [m for m in self.members if m.left_on and m.left_on.year == year]

        services = Counter[str]()
        regions = Counter[str]()
        themes = Counter[str]()
        home_count = 0
        for member in organisations:
            families = {
                s.family for s in self.families_by_member.get(member.pk, ()) if _alive(s, end)
            }
            services.update(families)
            themes.update(set(member.themes))
            if member.home:
                home_count += 1
            else:
                regions[member.place] += 1
        return YearFigures(
            year=year,
            members=_split(current),
            arrivals=_split(arrivals),
            departures=_split(departures),
            growth_percent=percent(len(organisations) - previous, previous),
            services={family: services[family] for family in FAMILIES},
            regions=_sorted_counts(regions),
            home=self._home(home_count, regions, len(organisations)),
            themes=_sorted_counts(themes),
            managed=_managed(self.services, min(end, self.today)) if self.manages else None,
        )

    def _home(self, count: int, regions: Counter[str], total: int) -> HomeFigures | None:
        if self.home is None:
            return None
        with_region = count + regions.get(self.home.region, 0)
        return HomeFigures(
            name=self.home.name,
            postal_code=self.home.postal_code,
            count=count,
            share_percent=percent(count, total),
            region=self.home.region,
            with_region_count=with_region,
            with_region_share_percent=percent(with_region, total),
        )

    def first_year(self) -> int | None:
        years = [m.joined_on.year for m in self.members if m.joined_on]
        return min(years) if years else None


def _split(members: list[_Member]) -> Split:
    organisations = sum(1 for m in members if m.organisation)
    return Split(organisations, len(members) - organisations)


def check_year(year: int) -> int:
    if not 1901 <= year <= 9999:
        raise ReportError(_("The year must be between 1901 and 9999."))
    return year


def build_report(
    year: int, home: tuple[str, str] | None = None, *, home_from_settings: bool = True
) -> Report:
    """The report of ``year``. The home commune is ``home`` (postal code, name) when given,
    else the configured one — unless ``home_from_settings`` is false: then none."""
    check_year(year)
    if home is None and home_from_settings:
        home = settings.RONRON.home_commune
    commune = home_commune(home)
    today = timezone.localdate()
    calculator = _Calculator(commune, today)
    first = calculator.first_year()
    start = max(year - HISTORY_YEARS + 1, first if first is not None else year)
    history = [calculator.year(y) for y in range(min(start, year), year + 1)]
    return Report(
        year=year,
        current=history[-1],
        history=history,
        theme_names=dict(Theme.objects.values_list("slug", "name")),
        home_commune=commune,
        generated_at=timezone.localtime(),
        hoster_name=settings.RONRON.hoster_name,
        definitions=definitions(year, commune),
    )


def definitions(year: int, home: HomeCommune | None) -> list[str]:
    """The rules, as printed in the report; every figure follows them."""
    texts = [
        _(
            "Members of %(year)s: members who joined on or before 31 December %(year)s and had "
            "not left by then (no leaving date, or one after 31 December %(year)s). Collectives "
            "are counted with the associations; individuals apart."
        ),
        _(
            "Arrivals: members who joined during the year; departures: members who left during "
            "the year. A member who joined and left in the same year counts in both, and not "
            "among the members of the year."
        ),
        _(
            "Growth of associations: (associations of the year − associations of the year "
            "before) ÷ associations of the year before × 100, with one decimal; not given when "
            "the year before had none."
        ),
        _(
            "Services: for each family of services, the number of associations among the "
            "members of the year that use it, whether Ronron manages the service or it is only "
            "recorded. A service counts unless it was removed by 31 December; a service Ronron "
            "manages counts from its creation."
        ),
        _(
            "Régions: the associations among the members of the year by région, under the "
            "official current names, from their postal code; overseas collectivités under "
            "their own name; outside France, by country; without a usable address, as "
            "unknown."
        ),
        _(
            "Themes: the associations among the members of the year by theme; an association "
            "with several themes counts once in each, so the themes may add up to more than the "
            "associations."
        ),
        _(
            "Web sites, lists and cloud spaces: the services at the end of the year (today for "
            "the current year); addresses, accounts and messages a day (mean of the last 30 "
            "days) as last observed on the servers."
        ),
    ]
    if home is not None:
        texts.insert(
            5,
            _(
                "Home commune: associations whose address is in %(postal_code)s %(name)s (same "
                "postal code and commune name) are counted under the commune and not under "
                "%(region)s; the report also gives the commune together with the rest of its "
                "région."
            )
            % {"postal_code": home.postal_code, "name": home.name, "region": home.region},
        )
    return [text % {"year": year} if "%(year)s" in text else text for text in texts]
