"""Settings shared by the web kinds: aliases and limits, validated the same way for all."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ronron.core.domains import normalize_domain
from ronron.core.validators import reject_control_characters
from ronron.drivers.web.site import LIMIT_RANGES, NGINX_LIMITS

MAX_ALIASES = 20


def validate_aliases(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple):
        raise ValidationError(_("Aliases are a list of domain names."), code="aliases")
    if len(value) > MAX_ALIASES:
        raise ValidationError(
            _("At most %(count)d aliases.") % {"count": MAX_ALIASES}, code="aliases"
        )
    aliases: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise ValidationError(_("Aliases are a list of domain names."), code="aliases")
        reject_control_characters(item)
        domain = normalize_domain(item)
        if domain in aliases:
            raise ValidationError(
                _("The alias %(domain)s is given twice.") % {"domain": domain}, code="duplicate"
            )
        aliases.append(domain)
    return aliases


def validate_limits(value: Any, allowed: tuple[str, ...] = NGINX_LIMITS) -> dict[str, int]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError(_("Limits are a set of named numbers."), code="limits")
    limits: dict[str, int] = {}
    for key, raw in value.items():
        if key not in allowed:
            raise ValidationError(
                _("Unknown limit: %(key)s. Known limits: %(known)s.")
                % {"key": str(key)[:50], "known": ", ".join(allowed)},
                code="unknown_limit",
            )
        if isinstance(raw, str):
            reject_control_characters(raw)
            raw = int(raw) if raw.strip().isdigit() else raw
        low, high = LIMIT_RANGES[key]
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            raise ValidationError(
                _("The limit %(key)s must be a whole number from %(low)d to %(high)d.")
                % {"key": key, "low": low, "high": high},
                code="limit_range",
            )
        limits[key] = raw
    return limits
