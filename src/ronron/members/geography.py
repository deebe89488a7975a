"""Offline French geography: postal code (and city) → département → région.

Placeholder rules (first digits of the postal code); replaced by the La Poste data table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    departement: str  # "31", "2A", "974"; "" when unknown or outside France
    region: str  # official current région name; "" when unknown or outside France


UNKNOWN = Place("", "")


def locate(postal_code: str, city: str = "", country: str = "FR") -> Place:
    """The département and région of a French postal code; UNKNOWN outside France."""
    code = (postal_code or "").strip().replace(" ", "")
    if country.upper() != "FR" or len(code) != 5 or not code.isdigit():
        return UNKNOWN
    dep = code[:3] if code.startswith("97") else code[:2]
    return Place(dep, "")
