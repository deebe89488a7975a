"""The settings of a WordPress site: title, administrator, language, aliases and limits."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ronron.core.validators import reject_control_characters, validate_email
from ronron.drivers.web.site import LIMIT_RANGES
from ronron.drivers.web.spec import validate_aliases, validate_limits
from ronron.drivers.web.tls import validate_tls

SPEC_KEYS = {"aliases", "title", "admin_email", "admin_user", "language", "limits", "tls"}
# WordPress allows more, but only these are sure to survive sanitize_user() unchanged.
ADMIN_USER = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,59}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:_[A-Z]{2})?$")
DEFAULT_ADMIN_USER = "webmestre"
DEFAULT_LANGUAGE = "fr_FR"


def validate_wordpress_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A WordPress site's settings, normalised; a ValidationError with every problem found."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}

    def err(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        err("spec", _("Unknown settings: %(keys)s.") % {"keys": ", ".join(unknown)[:200]})
    for key in ("title", "admin_email", "admin_user", "language"):
        value = spec.get(key, "")
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            err(key, _("Enter text."))
            continue
        try:
            reject_control_characters(value)
        except ValidationError as exc:
            err(key, exc.messages[0])
            continue
        value = value.strip()
        if key == "title":
            if len(value) > 200:
                err(key, _("A title has at most 200 characters."))
                continue
        elif key == "admin_email":
            try:
                validate_email(value)
            except ValidationError as exc:
                err(key, exc.messages[0])
                continue
        elif key == "admin_user" and not ADMIN_USER.match(value):
            err(
                key,
                _(
                    "The administrator's login: 3 to 60 lower-case letters, digits, dots, "
                    "hyphens, @ or underscores."
                ),
            )
            continue
        elif key == "language" and not LANGUAGE.match(value):
            err(key, _("Enter a language code such as fr_FR."))
            continue
        clean[key] = value
    clean.setdefault("language", DEFAULT_LANGUAGE)
    clean.setdefault("admin_user", DEFAULT_ADMIN_USER)

    for key, validate in (
        ("aliases", validate_aliases),
        ("limits", lambda value: validate_limits(value, tuple(LIMIT_RANGES))),
    ):
        try:
            value = validate(spec.get(key))
        except ValidationError as exc:
            err(key, exc.messages[0])
            continue
        if value:
            clean[key] = value
    try:
        if not validate_tls(spec.get("tls")):
            clean["tls"] = False
    except ValidationError as exc:
        err("tls", exc.messages[0])
    if errors:
        raise ValidationError(errors)
    return clean
