"""Validators for every value that may reach a server, a config file or another system."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext_lazy as _

_CONTROL = re.compile(r"[\r\n\x00]")


def reject_control_characters(value: str) -> None:
    """CR, LF and NUL never belong in a single-line value (header or config injection)."""
    if isinstance(value, str) and _CONTROL.search(value):
        raise ValidationError(
            _("Line breaks and NUL characters are not allowed here."), code="control_character"
        )


_email = EmailValidator(message=_("Enter a valid e-mail address."))


def validate_email(value: str) -> None:
    reject_control_characters(value)
    _email(value)


_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")


def validate_slug(value: str) -> None:
    """A lower-case name safe for a path, a system user or a database: a-z, 0-9 and hyphens."""
    if not _SLUG.fullmatch(value or ""):
        raise ValidationError(
            _(
                "Use 1 to 50 lower-case letters, digits or hyphens, "
                "not starting or ending with a hyphen."
            ),
            code="invalid_slug",
        )
