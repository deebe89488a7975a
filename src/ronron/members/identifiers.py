"""French identifiers of organisations: RNA (associations) and SIREN (companies, associations)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren

# RNA: "W" then 9 characters — the 3-character code of the prefecture that registered the
# association (digits, or 2A/2B for Corsica) and a 6-digit sequence.
_RNA = re.compile(r"^W(?:\d{3}|2[AB]\d)\d{6}$")


def normalize_rna(value: str) -> str:
    return re.sub(r"\s", "", value or "").upper()


def validate_rna(value: str) -> None:
    if value and not _RNA.fullmatch(normalize_rna(value)):
        raise ValidationError(
            _("An RNA number is a W followed by 9 characters, for example W313012345."),
            code="invalid_rna",
        )


def normalize_siren(value: str) -> str:
    return siren.compact(value or "")


def validate_siren(value: str) -> None:
    if not value:
        return
    try:
        siren.validate(value)
    except StdnumError as exc:
        raise ValidationError(
            _("A SIREN is 9 digits with a valid check digit, for example 732 829 320."),
            code="invalid_siren",
        ) from exc
