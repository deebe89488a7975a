"""The report as data: JSON (keys fixed by the issue) and CSV (figures × years), plus the
labels every format shares (places, families, engines, themes) in the active language."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from babel import Locale
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from ronron.reports.figures import Report, Split, YearFigures
from ronron.services.kinds import FAMILIES, KIND_LABELS


def place_label(key: str) -> str:
    """A région or collectivité as is; "@BE" → the country's name; "" → unknown."""
    if not key:
        return _("Unknown")
    if key.startswith("@"):
        code = key[1:]
        locale = Locale.parse(get_language() or "fr", sep="-")
        return str(locale.territories.get(code, code))
    return key


def family_label(family: str) -> str:
    return str(FAMILIES.get(family, family))


def engine_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def theme_label(report: Report, slug: str) -> str:
    return report.theme_names.get(slug, slug)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _split(split: Split) -> dict[str, int]:
    return {"associations": split.associations, "individuals": split.individuals}


def year_data(figures: YearFigures) -> dict[str, Any]:
    home = figures.home
    managed = figures.managed
    return {
        "year": figures.year,
        "members": _split(figures.members),
        "arrivals": _split(figures.arrivals),
        "departures": _split(figures.departures),
        "growth_percent": _number(figures.growth_percent),
        "services": dict(figures.services),
        "regions": {place_label(key): count for key, count in figures.regions.items()},
        "home_commune": None
        if home is None
        else {"name": home.name, "postal_code": home.postal_code, "count": home.count},
        "themes": dict(figures.themes),
        "managed": None
        if managed is None
        else {
            "web_sites": dict(managed.web),
            "lists": managed.lists,
            "list_addresses": managed.addresses,
            "list_messages_per_day": managed.list_messages_per_day,
            "cloud_spaces": managed.cloud_spaces,
            "cloud_accounts": managed.cloud_accounts,
        },
    }


def report_data(report: Report) -> dict[str, Any]:
    """The report's figures as JSON-ready data: the year's figures at the top, the earlier
    years (oldest first, the year itself last) under ``history``."""
    data = year_data(report.current)
    home = report.current.home
    if home is not None:
        data["home_commune_share"] = {
            "percent": _number(home.share_percent),
            "region": home.region,
            "with_region_count": home.with_region_count,
            "with_region_percent": _number(home.with_region_share_percent),
        }
    data["definitions"] = "\n".join(report.definitions)
    data["generated_at"] = report.generated_at.isoformat(timespec="seconds")
    data["history"] = [year_data(figures) for figures in report.history]
    return data


def table_rows(report: Report) -> list[tuple[str, str, str, list[Any]]]:
    """(section, key, label, one value per year of the history) — the figures table."""
    history = report.history
    rows: list[tuple[str, str, str, list[Any]]] = []

    def add(section: str, key: str, label: str, values: list[Any]) -> None:
        rows.append((section, key, label, values))

    for kind_key, kind_label in (
        ("associations", _("Associations")),
        ("individuals", _("Individuals")),
    ):
        add(
            "members",
            kind_key,
            _("Members: %s") % kind_label.lower(),
            [getattr(y.members, kind_key) for y in history],
        )
    for section, section_label in (("arrivals", _("Arrivals")), ("departures", _("Departures"))):
        for kind_key, kind_label in (
            ("associations", _("associations")),
            ("individuals", _("individuals")),
        ):
            add(
                section,
                kind_key,
                f"{section_label}: {kind_label}",
                [getattr(getattr(y, section), kind_key) for y in history],
            )
    add(
        "growth",
        "growth_percent",
        _("Growth of associations (%)"),
        [y.growth_percent for y in history],
    )
    for family in FAMILIES:
        add("services", family, family_label(family), [y.services[family] for y in history])
    if report.home_commune is not None:
        add(
            "home_commune",
            report.home_commune.postal_code,
            report.home_commune.name,
            [y.home.count if y.home else 0 for y in history],
        )
    places = _keys_in_order(history, "regions")
    for place in places:
        key = f"country:{place[1:]}" if place.startswith("@") else place or "unknown"
        add("regions", key, place_label(place), [y.regions.get(place, 0) for y in history])
    for slug in _keys_in_order(history, "themes"):
        add("themes", slug, theme_label(report, slug), [y.themes.get(slug, 0) for y in history])
    if report.current.managed is not None:
        for engine in report.current.managed.web:
            add(
                "web_sites",
                engine,
                engine_label(engine),
                [y.managed.web.get(engine, 0) if y.managed else 0 for y in history],
            )
        for key, label in (
            ("lists", _("Mailing lists")),
            ("list_addresses", _("List addresses")),
            ("list_messages_per_day", _("Messages a day on the lists")),
            ("cloud_spaces", _("Cloud spaces")),
            ("cloud_accounts", _("Cloud accounts")),
        ):
            attribute = {"list_addresses": "addresses"}.get(key, key)
            add(
                "managed",
                key,
                label,
                [getattr(y.managed, attribute) if y.managed else 0 for y in history],
            )
    return rows


def _keys_in_order(history: list[YearFigures], name: str) -> list[str]:
    """Every key seen over the years, largest in the report's year first."""
    last: dict[str, int] = getattr(history[-1], name)
    keys = list(last)
    for figures in history:
        keys.extend(key for key in getattr(figures, name) if key not in keys)
    return keys


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_("section"), _("key"), _("figure"), *[str(y.year) for y in report.history]])
    for section, key, label, values in table_rows(report):
        writer.writerow([section, key, label, *["" if v is None else v for v in values]])
    return out.getvalue()
