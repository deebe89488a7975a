"""Ronron's configuration: built-in defaults, then an optional TOML file, then environment.

The TOML file is named by ``RONRON_CONFIG``; every key may also be given as an environment
variable ``RONRON_<SECTION>_<KEY>`` (or ``RONRON_<KEY>`` for top-level keys), which wins.
The configuration is read once, at start-up, and is never written back, except the generated
secret key which is kept in the data directory so that sessions survive a restart.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


DEFAULTS: dict[str, Any] = {
    "data_dir": "./var",
    "database_url": "",
    "secret_key": "",
    # Encrypts credentials at rest (service passwords, SSH keys). Empty: generated once and kept
    # in data_dir/credentials_key; several keys, comma-separated, the first one encrypting,
    # allow a rotation.
    "credentials_key": "",
    # How long the archive of a removed service is kept before it may be deleted.
    "archive_retention_days": 365,
    "debug": False,
    "allowed_hosts": ["127.0.0.1", "localhost", "[::1]"],
    "csrf_trusted_origins": [],
    "language": "fr",
    "time_zone": "Europe/Paris",
    "hoster_name": "Ronron",
    "dues": {
        # Le PIC's rules: dues for year Y are called on 1 December of Y-1, a reminder goes out
        # in early June of Y, and services of members still unpaid are cut off on 1 September.
        "call": "12-01",
        "reminder": "06-01",
        "cutoff": "09-01",
        "amount_association": "30.00",
        "amount_individual": "10.00",
    },
    "email": {
        "host": "127.0.0.1",
        "port": 25,
        "user": "",
        "password": "",
        "use_tls": False,
        "from": "ronron@localhost",
    },
}


def _parse_bool(value: str, key: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on", "oui"}:
        return True
    if lowered in {"0", "false", "no", "off", "non", ""}:
        return False
    raise ConfigError(f"{key}: expected a boolean, got {value!r}")


def _coerce(value: str, default: Any, key: str) -> Any:
    """Turn an environment string into the type of the default it overrides."""
    if isinstance(default, bool):
        return _parse_bool(value, key)
    if isinstance(default, int):
        try:
            return int(value)
        except ValueError as exc:
            raise ConfigError(f"{key}: expected a whole number, got {value!r}") from exc
    if isinstance(default, list):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _merge(base: dict[str, Any], override: dict[str, Any], where: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key not in base:
            raise ConfigError(f"{where}: unknown key {key!r}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {key!r} must be a table")
            merged[key] = _merge(base[key], value, f"{where}.{key}")
        else:
            merged[key] = value
    return merged


def _from_environment(base: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    merged = dict(base)
    for key, default in base.items():
        if isinstance(default, dict):
            section = dict(default)
            for sub, sub_default in default.items():
                name = f"RONRON_{key}_{sub}".upper()
                if name in environ:
                    section[sub] = _coerce(environ[name], sub_default, name)
            merged[key] = section
        else:
            name = f"RONRON_{key}".upper()
            if name in environ:
                merged[key] = _coerce(environ[name], default, name)
    return merged


def _month_day(value: str, key: str) -> tuple[int, int]:
    try:
        month_text, day_text = value.split("-")
        month, day = int(month_text), int(day_text)
        date(2001, month, day)  # a non-leap year: 02-29 would be ambiguous
    except ValueError as exc:
        raise ConfigError(f"{key}: expected MM-DD, got {value!r}") from exc
    return month, day


@dataclass(frozen=True)
class DuesCalendar:
    """When the dues of a year are called, reminded and cut off (month, day)."""

    call: tuple[int, int] = (12, 1)
    reminder: tuple[int, int] = (6, 1)
    cutoff: tuple[int, int] = (9, 1)
    amount_association: Decimal = Decimal("30.00")
    amount_individual: Decimal = Decimal("10.00")

    def call_date(self, year: int) -> date:
        # The call goes out in the year before the one it is for, when its month is late in
        # the year (Le PIC: 1 December of Y-1); a call in January–June is in Y itself.
        call_year = year - 1 if self.call[0] > self.reminder[0] else year
        return date(call_year, *self.call)

    def reminder_date(self, year: int) -> date:
        return date(year, *self.reminder)

    def cutoff_date(self, year: int) -> date:
        return date(year, *self.cutoff)


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    secret_key: str
    debug: bool
    allowed_hosts: list[str]
    csrf_trusted_origins: list[str]
    language: str
    time_zone: str
    hoster_name: str
    dues: DuesCalendar
    credentials_keys: list[str]
    archive_retention_days: int
    email: dict[str, Any] = field(default_factory=dict)


def _generated_key(data_dir: Path, name: str, make: Callable[[], str]) -> str:
    """Read a generated key from the data directory, or create it (mode 0600) the first time."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def load(environ: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if environ is None else environ)
    values = DEFAULTS
    config_path = env.get("RONRON_CONFIG")
    if config_path:
        try:
            with open(config_path, "rb") as handle:
                from_file = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"RONRON_CONFIG: cannot read {config_path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"RONRON_CONFIG: {config_path} is not valid TOML: {exc}") from exc
        values = _merge(values, from_file, config_path)
    values = _from_environment(values, env)

    data_dir = Path(values["data_dir"]).expanduser().resolve()
    dues = values["dues"]
    try:
        calendar = DuesCalendar(
            call=_month_day(dues["call"], "dues.call"),
            reminder=_month_day(dues["reminder"], "dues.reminder"),
            cutoff=_month_day(dues["cutoff"], "dues.cutoff"),
            amount_association=Decimal(str(dues["amount_association"])),
            amount_individual=Decimal(str(dues["amount_individual"])),
        )
    except ArithmeticError as exc:
        raise ConfigError("dues: amounts must be decimal numbers such as 30.00") from exc
    if not calendar.reminder <= calendar.cutoff:
        raise ConfigError("dues: the reminder must come before the cut-off")
    if values["language"] not in {"fr", "en"}:
        raise ConfigError("language: expected 'fr' or 'en'")

    return Config(
        data_dir=data_dir,
        database_url=values["database_url"],
        secret_key=values["secret_key"]
        or _generated_key(data_dir, "secret_key", lambda: secrets.token_urlsafe(50)),
        debug=bool(values["debug"]),
        allowed_hosts=list(values["allowed_hosts"]),
        csrf_trusted_origins=list(values["csrf_trusted_origins"]),
        language=values["language"],
        time_zone=values["time_zone"],
        hoster_name=values["hoster_name"],
        dues=calendar,
        email=dict(values["email"]),
        credentials_keys=_credentials_keys(values["credentials_key"], data_dir),
        archive_retention_days=int(values["archive_retention_days"]),
    )


def _credentials_keys(value: str, data_dir: Path) -> list[str]:
    from cryptography.fernet import Fernet

    keys = [k.strip() for k in value.split(",") if k.strip()] if value else []
    if not keys:
        keys = [_generated_key(data_dir, "credentials_key", lambda: Fernet.generate_key().decode())]
    for key in keys:
        try:
            Fernet(key)
        except ValueError as exc:
            raise ConfigError(
                "credentials_key: each key must be 32 url-safe base64-encoded bytes "
                "(make one with: python3 -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from exc
    return keys
