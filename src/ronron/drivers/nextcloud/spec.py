"""What a member's cloud space and a work group are in Ronron's truth, checked before any call.

A cloud space (kind ``cloud``) is a Nextcloud group named after the member (the service's system
name is the group id, the member's name its display name), the accounts of the member's people,
a storage allowance shared out among them, and the apps the member asked for, enabled for that
group only::

    {"allowance": 53687091200,            # bytes; "50 Go", "50 GB", "1,5 To" are accepted
     "accounts": [{"id": "camille.martin", "name": "Camille Martin",
                   "email": "camille@monasso.fr", "quota": 10737418240},   # quota optional
                  …],
     "apps": ["calendar", "deck"],
     "retired": ["ancien.compte"]}        # accounts taken out of the space: disabled, kept

Accounts without a quota of their own share what the others leave of the allowance, equally.
A work group (kind ``cloudgroup``) is a group whose members follow a roster: ``{"name": …}``.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ronron.core.validators import reject_control_characters, validate_email

# Nextcloud 27's own rule for user ids (recorded: "a/b" and "bad user!" are refused), narrowed:
# no space at either end, at most 64 characters (the length of its database column).
_USER_ID = re.compile(r"^[A-Za-z0-9_.@'-](?:[A-Za-z0-9 _.@'-]{0,62}[A-Za-z0-9_.@'-])?$")
# Group ids Ronron makes: its system names (lower case, digits, hyphens).
_GROUP_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# Ids Nextcloud keeps for itself or that would confuse its administrators.
RESERVED_USER_IDS = frozenset({"admin", "root", "nextcloud", "guest"})
RESERVED_GROUP_IDS = frozenset({"admin", "guest_app"})

# The apps a member may ask for; every one must be installed on the Nextcloud server by its
# administrators (Ronron enables them, it does not download them).
APPS: dict[str, Any] = {
    "calendar": gettext_lazy("Calendar and appointments"),
    "contacts": gettext_lazy("Contacts"),
    "deck": gettext_lazy("Deck (boards and cards)"),
    "tasks": gettext_lazy("Tasks"),
    "notes": gettext_lazy("Notes"),
    "polls": gettext_lazy("Polls"),
    "forms": gettext_lazy("Forms"),
    "passwords": gettext_lazy("Password manager"),
    "spreed": gettext_lazy("Talk (chat and video calls)"),
    "onlyoffice": gettext_lazy("OnlyOffice (documents edited together)"),
}

MAX_ACCOUNTS = 500
MAX_NAME = 64
# An account that shares an allowance gets at least this much, or the allowance is too small.
MIN_SHARE = 100 * 1024**2
MAX_SIZE = 1024**5  # 1 Pio: anything above is a typing mistake

# Binary multiples, as Nextcloud computes them; French units (o, ko, Mo, Go, To) too.
_UNITS = {
    "": 1,
    "b": 1,
    "o": 1,
    "k": 1024,
    "kb": 1024,
    "ko": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mo": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "go": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "to": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([a-zA-Z]{0,2})\s*$")


def parse_size(value: Any) -> int:
    """Bytes from "5 Go", "1,5 GB", "512 MB" or a number of bytes; ValidationError otherwise."""
    if isinstance(value, bool):
        raise ValidationError(_("Enter a size such as “10 Go” or “500 Mo”."), code="size")
    if isinstance(value, int):
        size = value
    else:
        text = str(value or "")
        reject_control_characters(text)
        match = _SIZE.match(text)
        unit = _UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None:
            raise ValidationError(
                _("“%(value)s” is not a size: write it as “10 Go”, “1,5 To” or “500 Mo”.")
                % {"value": text.strip()[:40]},
                code="size",
            )
        try:
            size = int(Decimal(match.group(1).replace(",", ".")) * unit)
        except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
            raise ValidationError(_("Enter a size such as “10 Go”."), code="size") from None
    if size <= 0 or size > MAX_SIZE:
        raise ValidationError(_("A size must be more than 0 and at most 1 Po."), code="size_range")
    return size


def validate_user_id(value: Any) -> str:
    text = value if isinstance(value, str) else ""
    reject_control_characters(text)
    text = text.strip()
    if not _USER_ID.fullmatch(text) or not text.strip("."):
        raise ValidationError(
            _(
                "“%(id)s” cannot be a cloud login: use 1 to 64 letters without accents, digits, "
                "spaces or the signs _ . @ - ' (not at either end for spaces)."
            )
            % {"id": text[:70]},
            code="invalid_user_id",
        )
    if text.lower() in RESERVED_USER_IDS:
        raise ValidationError(
            _("“%(id)s” is kept for the cloud's administrators: choose another login.")
            % {"id": text},
            code="reserved_user_id",
        )
    return text


def validate_group_id(value: str) -> str:
    if not _GROUP_ID.fullmatch(value or "") or value in RESERVED_GROUP_IDS:
        raise ValidationError(
            _("“%(id)s” cannot be a cloud group: use lower-case letters, digits and hyphens.")
            % {"id": (value or "")[:70]},
            code="invalid_group_id",
        )
    return value


def _text(value: Any, *, limit: int, what: str) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise ValidationError(_("Enter text."))
    reject_control_characters(value)
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(
            _("%(what)s has at most %(limit)d characters.") % {"what": what, "limit": limit}
        )
    return value


def _account(raw: Any, position: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationError(_("Account %(n)d is not a set of fields.") % {"n": position})
    unknown = sorted(set(raw) - {"id", "name", "email", "quota"})
    if unknown:
        raise ValidationError(
            _("Account %(n)d: unknown fields %(keys)s.")
            % {"n": position, "keys": ", ".join(map(str, unknown))[:100]}
        )
    account_id = validate_user_id(raw.get("id"))
    email = raw.get("email")
    if not isinstance(email, str) or not email.strip():
        raise ValidationError(
            _("Account %(id)s needs an e-mail address: its credentials link goes there.")
            % {"id": account_id}
        )
    reject_control_characters(email)
    email = email.strip()
    validate_email(email)
    name = _text(raw.get("name"), limit=MAX_NAME, what=_("A name")) or account_id
    quota = raw.get("quota")
    return {
        "id": account_id,
        "name": name,
        "email": email.lower(),
        "quota": None if quota in (None, "") else parse_size(quota),
    }


def validate_cloud_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A cloud space's settings, normalised; a ValidationError naming every problem."""
    errors: dict[str, list[str]] = {}

    def err(key: str, exc: ValidationError | str) -> None:
        messages = exc.messages if isinstance(exc, ValidationError) else [exc]
        errors.setdefault(key, []).extend(messages)

    unknown = sorted(set(spec) - {"allowance", "accounts", "apps", "retired"})
    if unknown:
        err("spec", _("Unknown settings: %(keys)s.") % {"keys": ", ".join(unknown)[:200]})
    allowance = 0
    try:
        allowance = parse_size(spec.get("allowance"))
    except ValidationError as exc:
        err("allowance", exc)

    accounts: list[dict[str, Any]] = []
    raw_accounts = spec.get("accounts") or []
    if not isinstance(raw_accounts, list):
        err("accounts", _("The accounts are a list."))
        raw_accounts = []
    if len(raw_accounts) > MAX_ACCOUNTS:
        err("accounts", _("A space has at most %(n)d accounts.") % {"n": MAX_ACCOUNTS})
    seen: dict[str, str] = {}
    for position, raw in enumerate(raw_accounts[:MAX_ACCOUNTS], start=1):
        try:
            account = _account(raw, position)
        except ValidationError as exc:
            err("accounts", exc)
            continue
        # Nextcloud matches ids whatever their case: "Camille" and "camille" are one account.
        folded = account["id"].lower()
        if folded in seen:
            err(
                "accounts",
                _("“%(id)s” and “%(other)s” are the same login for the cloud (case is ignored).")
                % {"id": account["id"], "other": seen[folded]},
            )
            continue
        seen[folded] = account["id"]
        accounts.append(account)

    apps = spec.get("apps") or []
    if not isinstance(apps, list) or not all(isinstance(a, str) for a in apps):
        err("apps", _("The apps are a list of names."))
        apps = []
    unknown_apps = sorted(set(apps) - set(APPS))
    if unknown_apps:
        err(
            "apps",
            _("Ronron does not offer these apps: %(apps)s.")
            % {"apps": ", ".join(unknown_apps)[:200]},
        )

    retired: list[str] = []
    for raw_id in spec.get("retired") or []:
        try:
            retired_id = validate_user_id(raw_id)
        except ValidationError as exc:
            err("retired", exc)
            continue
        if retired_id.lower() not in seen and retired_id.lower() not in {
            r.lower() for r in retired
        }:
            retired.append(retired_id)

    if allowance and accounts:
        try:
            shares(allowance, accounts)
        except ValidationError as exc:
            err("allowance", exc)
    if errors:
        raise ValidationError(errors)
    return {
        "allowance": allowance,
        "accounts": accounts,
        "apps": sorted(set(apps)),
        "retired": retired,
    }


def _unit_of(size: int) -> int:
    """The unit Nextcloud writes a size in (OC_Helper::humanFileSize): KB, MB, GB, TB, PB."""
    unit = 1024
    while size >= unit * 1024 and unit < 1024**5:
        unit *= 1024
    return unit


def as_nextcloud_keeps(size: int) -> int:
    """What Nextcloud answers for a quota set to ``size`` bytes. It keeps quotas as words
    (``humanFileSize``: whole KB, then one decimal of MB, GB or TB, each step rounded half up
    from the one before) and reads them back as bytes (``computerFileSize``): 50 Go / 3 is set
    as 17895697066 bytes and read back as "16.7 GB", 17931488461 bytes."""
    if size < 1024:
        return size
    value = (Decimal(size) / 1024).quantize(Decimal(1), ROUND_HALF_UP)
    unit = 1024
    while value >= 1024 and unit < 1024**5:
        value = (value / 1024).quantize(Decimal("0.1"), ROUND_HALF_UP)
        unit *= 1024
    return int((value * unit).to_integral_value(ROUND_HALF_UP))


def _share_nextcloud_can_keep(size: int) -> int:
    """The largest size at most ``size`` that Nextcloud keeps unchanged (a tenth of its unit),
    so that shares never add up to more than the allowance once Nextcloud rounds them."""
    unit = _unit_of(size)
    tenths = (size * 10) // unit
    while tenths > 0:
        candidate = int((Decimal(tenths) * unit / 10).to_integral_value(ROUND_HALF_UP))
        if candidate <= size and as_nextcloud_keeps(candidate) <= size:
            return candidate
        tenths -= 1
    return size


def shares(allowance: int, accounts: list[dict[str, Any]]) -> dict[str, int]:
    """Each account's quota in bytes: its own, or an equal share of what the others leave."""
    fixed = {a["id"]: int(a["quota"]) for a in accounts if a.get("quota")}
    reserved = sum(fixed.values())
    if reserved > allowance:
        raise ValidationError(
            _(
                "The accounts' own quotas add up to more than the space's allowance: "
                "raise the allowance or lower the quotas."
            ),
            code="over_allowance",
        )
    sharing = [a["id"] for a in accounts if a["id"] not in fixed]
    if not sharing:
        return fixed
    share = _share_nextcloud_can_keep((allowance - reserved) // len(sharing))
    if share < MIN_SHARE:
        raise ValidationError(
            _(
                "The allowance leaves less than 100 Mo to each of the %(n)d accounts without a "
                "quota of their own: raise the allowance or lower the other quotas."
            )
            % {"n": len(sharing)},
            code="share_too_small",
        )
    return fixed | dict.fromkeys(sharing, share)


def validate_work_group_spec(spec: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(spec) - {"name"})
    errors: dict[str, list[str]] = {}
    if unknown:
        errors["spec"] = [_("Unknown settings: %(keys)s.") % {"keys": ", ".join(unknown)[:200]}]
    name = ""
    try:
        name = _text(spec.get("name"), limit=MAX_NAME, what=_("A name"))
    except ValidationError as exc:
        errors["name"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return {"name": name} if name else {}
