"""What a mailing list is in Ronron's truth, validated before anything reaches Sympa.

A list's address (``name@robot``) is the service's ``domain``; the robot is the list domain
Sympa serves it under. The spec holds what Sympa creates the list with::

    {"subject": "Liste des adhérents", "type": "discussion_list",
     "owners": ["camille@monasso.fr"], "description": "…"}
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ronron.core.domains import normalize_domain
from ronron.core.validators import reject_control_characters, validate_email

# Sympa's own list name rule, narrowed: lower case, no leading or trailing punctuation.
_LIST_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,48}[a-z0-9])?$")
# Addresses Sympa keeps for itself on every robot, and the suffixes of a list's own addresses.
RESERVED_NAMES = frozenset(
    {"sympa", "listmaster", "bounce", "abuse-feedback-report", "postmaster", "mailer-daemon"}
)
RESERVED_SUFFIXES = ("-request", "-owner", "-editor", "-unsubscribe", "-subscribe")
# Debian's create_list_templates.
LIST_TYPES = (
    "discussion_list",
    "hotline",
    "news-letter",
    "html-news-letter",
    "private_working_group",
    "public_web_forum",
    "confidential",
)
MAX_OWNERS = 20
MAX_SUBJECT = 200
MAX_DESCRIPTION = 4000
_DESCRIPTION_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def validate_list_name(name: str) -> str:
    reject_control_characters(name)
    name = (name or "").strip().lower()
    if not _LIST_NAME.fullmatch(name) or ".." in name:
        raise ValidationError(
            _(
                "“%(name)s” cannot be a list name: use 1 to 50 lower-case letters, digits, "
                "dots, hyphens or underscores, starting and ending with a letter or a digit."
            )
            % {"name": name[:60]},
            code="invalid_list_name",
        )
    if name in RESERVED_NAMES or name.endswith(RESERVED_SUFFIXES):
        raise ValidationError(
            _("“%(name)s” is reserved by Sympa: choose another list name.") % {"name": name},
            code="reserved_list_name",
        )
    return name


def normalize_list_address(value: str) -> str:
    """``Adherents@Listes.LePIC.org`` → ``adherents@listes.lepic.org``; clear errors otherwise."""
    reject_control_characters(value)
    text = (value or "").strip()
    name, at, robot = text.rpartition("@")
    if not at or not name:
        raise ValidationError(
            _("Enter the list's address, for example adherents@listes.monasso.fr."),
            code="invalid_list_address",
        )
    return f"{validate_list_name(name)}@{normalize_domain(robot)}"


def split_address(address: str) -> tuple[str, str]:
    name, _at, robot = address.partition("@")
    return name, robot


def _owners(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise ValidationError(
            _("A list needs at least one owner: give the owner's e-mail address."),
            code="no_owner",
        )
    owners: list[str] = []
    for item in value:
        address = str(item).strip().lower()
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(
                _("“%(value)s” is not a valid e-mail address for an owner.")
                % {"value": str(item)[:100]},
                code="invalid_owner",
            ) from None
        if address not in owners:
            owners.append(address)
    if len(owners) > MAX_OWNERS:
        raise ValidationError(
            _("A list has at most %(max)d owners.") % {"max": MAX_OWNERS}, code="too_many_owners"
        )
    return owners


def _subject(value: Any) -> str:
    subject = str(value or "").strip()
    reject_control_characters(subject)
    if not subject:
        raise ValidationError(_("A list needs a subject (its title)."), code="no_subject")
    if len(subject) > MAX_SUBJECT:
        raise ValidationError(
            _("A list's subject has at most %(max)d characters.") % {"max": MAX_SUBJECT},
            code="subject_too_long",
        )
    return subject


def _list_type(value: Any) -> str:
    list_type = str(value or "discussion_list")
    if list_type not in LIST_TYPES:
        raise ValidationError(
            _("Unknown type of list: %(type)s. Known types: %(known)s.")
            % {"type": list_type[:50], "known": ", ".join(LIST_TYPES)},
            code="unknown_list_type",
        )
    return list_type


def _description(value: Any) -> str:
    description = str(value or "").replace("\r\n", "\n").strip()
    if _DESCRIPTION_CONTROL.search(description) or "\r" in description:
        raise ValidationError(
            _("The description contains control characters."), code="control_characters"
        )
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError(
            _("A list's description has at most %(max)d characters.") % {"max": MAX_DESCRIPTION},
            code="description_too_long",
        )
    return description


_FIELDS = {"subject": _subject, "type": _list_type, "owners": _owners, "description": _description}


def validate_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec, normalised; a ValidationError keyed by setting lists every problem."""
    if not isinstance(spec, dict):
        raise ValidationError(_("The settings of a list are a set of named values."))
    unknown = set(spec) - set(_FIELDS)
    if unknown:
        raise ValidationError(
            _("Unknown setting: %(keys)s.")
            % {"keys": ", ".join(sorted(str(k)[:50] for k in unknown))},
            code="unknown_setting",
        )
    clean: dict[str, Any] = {}
    errors: dict[str, list[ValidationError]] = {}
    for key, check in _FIELDS.items():
        try:
            value = check(spec.get(key))
        except ValidationError as exc:
            errors[key] = [exc]
        else:
            if value or key != "description":
                clean[key] = value
    if errors:
        raise ValidationError(errors)
    return clean
