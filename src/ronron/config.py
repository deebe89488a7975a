"""Ronron's configuration: built-in defaults, then an optional TOML file, then environment.

The TOML file is named by ``RONRON_CONFIG``; every key may also be given as an environment
variable ``RONRON_<SECTION>_<KEY>`` (or ``RONRON_<KEY>`` for top-level keys), which wins.
The configuration is read once, at start-up, and is never written back, except the generated
secret key which is kept in the data directory so that sessions survive a restart.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import tomllib
import urllib.parse
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
    # TLS certificates through ACME (HTTP-01). An empty directory turns certificates off.
    # acme_ca_bundle: a CA file to trust for the ACME server itself ("" = the system's).
    "acme_directory": "https://acme-v02.api.letsencrypt.org/directory",
    "acme_email": "",
    "acme_ca_bundle": "",
    "debug": False,
    "allowed_hosts": ["127.0.0.1", "localhost", "[::1]"],
    "csrf_trusted_origins": [],
    "language": "fr",
    "time_zone": "Europe/Paris",
    "hoster_name": "Ronron",
    # Where Ronron is reached, as the hoster's servers see it: Sympa fetches the lists' rosters
    # from here (a server may override it with its layout's ronron_url).
    "public_url": "http://127.0.0.1:8000",
    # The hoster's own commune, "31520 Ramonville-Saint-Agne": the general-assembly report
    # counts the associations there apart from the rest of its région. Empty: none.
    "home_commune": "",
    # What the hoster publishes about itself in the CHATONS statistics (ChatonsInfos files).
    "organization": {
        "description": "",
        "website": "",
        "logo": "",
        "email": "",
        "contact_url": "",
        "legal_url": "",
        "guide_user": "",
        "guide_technical": "",
        # ASSOCIATION, INFORMAL, COOPERATIVE, MICROCOMPANY, COMPANY, INDIVIDUAL or OTHER.
        "type": "ASSOCIATION",
        "start_date": "",
        "chatons_start_date": "",
        "country_code": "FR",
        # Where the servers are: HOME, HOSTEDBAY, HOSTEDSERVER or OUTSOURCED; and their kind:
        # NANO, PHYSICAL, VIRTUAL, SHARED or CLOUD.
        "host_name": "",
        "host_provider_type": "HOSTEDSERVER",
        "host_server_type": "VIRTUAL",
    },
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
    # Alerts from the prober (see ronron.monitoring.alerts).
    "monitoring": {
        # An alert opens after this many failed probes in a row, and closes after this many
        # successful ones; while open, a reminder goes out every reminder_minutes (0: none).
        "failures_before_alert": 3,
        "successes_before_resolve": 2,
        "reminder_minutes": 60,
        # Alerts opening within this many seconds of each other go out as one message.
        "group_seconds": 30,
        "alert_emails": [],
        # Each receives a JSON POST per message (Slack/Mattermost-compatible "text" included).
        "webhook_urls": [],
    },
    # One-time secret links (ronron.secrets): the largest secret, the limits per client address
    # on the public page, and how long a link carrying credentials Ronron made stays valid.
    "secrets": {
        "max_bytes": 65536,
        "creations_per_hour": 30,
        "reveals_per_hour": 60,
        "credentials_link_days": 7,
    },
    # Addresses of reverse proxies in front of Ronron (nginx on the same machine: 127.0.0.1):
    # only their X-Forwarded-For is believed when telling clients apart for rate limits.
    "trusted_proxies": [],
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
        return [_check_text(item.strip(), key) for item in value.split(",") if item.strip()]
    return _check_text(value, key)


# Kept as strings (exact decimals) but may be written as TOML numbers.
_AMOUNTS = {"dues.amount_association", "dues.amount_individual"}
_FORBIDDEN_CHARACTERS = ("\r", "\n", "\x00")


def _check_text(value: str, key: str) -> str:
    if any(char in value for char in _FORBIDDEN_CHARACTERS):
        raise ConfigError(f"{key}: line breaks and NUL characters are not allowed")
    return value


def _check_type(value: Any, default: Any, key: str) -> Any:
    """Check a value read from the TOML file against the type of the default it replaces.

    TOML has real booleans, integers and arrays: a quoted "false" or a bare string where a
    list is expected is a mistake we name rather than guess at.
    """
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false (without quotes), got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number (without quotes), got {value!r}")
        return value
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(
                f'{key}: expected a list of strings such as ["a", "b"], got {value!r}'
            )
        return [_check_text(item, key) for item in value]
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string (in quotes), got {value!r}")
    return _check_text(value, key)


def _merge(base: dict[str, Any], override: dict[str, Any], where: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        name = f"{where}.{key}" if where else key
        if key not in base:
            raise ConfigError(f"{name}: unknown key")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{name}: must be a table ([{name}])")
            merged[key] = _merge(base[key], value, name)
        elif name in _AMOUNTS and isinstance(value, int | float) and not isinstance(value, bool):
            merged[key] = str(value)
        else:
            merged[key] = _check_type(value, base[key], name)
    return merged


def _from_environment(base: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    merged = dict(base)
    for key, default in base.items():
        if isinstance(default, dict):
            section = dict(default)
            for sub in default:
                name = f"RONRON_{key}_{sub}".upper()
                if name in environ:
                    # Coerced to the type of the built-in default: the file's value has already
                    # been checked against it, and is what the variable replaces.
                    section[sub] = _coerce(environ[name], DEFAULTS[key][sub], name)
            merged[key] = section
        else:
            name = f"RONRON_{key}".upper()
            if name in environ:
                merged[key] = _coerce(environ[name], DEFAULTS[key], name)
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

    def calls_previous_year(self) -> bool:
        """Whether the dues of year Y are called in Y-1.

        The rule: a call whose month-day comes after the cut-off's belongs to the next cycle,
        so it is sent in Y-1 (Le PIC: 1 December of Y-1 for cut-off on 1 September of Y);
        otherwise it is sent in Y itself, and must then come before the reminder (``load``
        refuses a calendar where it does not).
        """
        return self.call > self.cutoff

    def call_date(self, year: int) -> date:
        return date(year - 1 if self.calls_previous_year() else year, *self.call)

    def reminder_date(self, year: int) -> date:
        return date(year, *self.reminder)

    def cutoff_date(self, year: int) -> date:
        return date(year, *self.cutoff)


class EmailSettings(dict[str, Any]):
    """The ``[email]`` table; its repr hides the SMTP password (Django's debug page shows it)."""

    def __repr__(self) -> str:
        shown = {k: ("********" if k == "password" and v else v) for k, v in self.items()}
        return f"EmailSettings({shown!r})"


@dataclass(frozen=True)
class MonitoringSettings:
    """The ``[monitoring]`` table: when alerts open, close and repeat, and where they go."""

    failures_before_alert: int = 3
    successes_before_resolve: int = 2
    reminder_minutes: int = 60
    group_seconds: int = 30
    alert_emails: tuple[str, ...] = ()
    # A webhook address often carries its secret token in its path.
    webhook_urls: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class SecretsSettings:
    """The ``[secrets]`` table: one-time links' size cap, rate limits and credentials expiry."""

    max_bytes: int = 65536
    creations_per_hour: int = 30
    reveals_per_hour: int = 60
    credentials_link_days: int = 7


# Secrets are left out of the repr: settings.RONRON appears on Django's debug page.
@dataclass(frozen=True)
class Config:
    data_dir: Path
    # May hold a database password (postgres://user:password@host/db).
    database_url: str = field(repr=False)
    secret_key: str = field(repr=False)
    debug: bool
    allowed_hosts: list[str]
    csrf_trusted_origins: list[str]
    language: str
    time_zone: str
    hoster_name: str
    dues: DuesCalendar
    credentials_keys: list[str] = field(repr=False)
    archive_retention_days: int = 365
    email: dict[str, Any] = field(default_factory=EmailSettings)
    acme_directory: str = ""
    acme_email: str = ""
    acme_ca_bundle: str = ""
    # (postal code, commune name) or None; see DEFAULTS["home_commune"].
    home_commune: tuple[str, str] | None = None
    organization: dict[str, str] = field(default_factory=dict)
    public_url: str = "http://127.0.0.1:8000"
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    secrets: SecretsSettings = field(default_factory=SecretsSettings)
    trusted_proxies: tuple[str, ...] = ()


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
        try:
            values = _merge(values, from_file, "")
        except ConfigError as exc:
            raise ConfigError(f"{config_path}: {exc}") from exc
    values = _from_environment(values, env)

    data_dir = Path(values["data_dir"]).expanduser().resolve()
    calendar = _dues_calendar(values["dues"])
    if values["archive_retention_days"] < 0:
        raise ConfigError("archive_retention_days: must be 0 or more")
    if not 1 <= values["email"]["port"] <= 65535:
        raise ConfigError(
            f"email.port: expected a port number from 1 to 65535, got {values['email']['port']}"
        )
    if values["language"] not in {"fr", "en"}:
        raise ConfigError("language: expected 'fr' or 'en'")

    return Config(
        data_dir=data_dir,
        database_url=values["database_url"],
        secret_key=values["secret_key"]
        or _generated_key(data_dir, "secret_key", lambda: secrets.token_urlsafe(50)),
        debug=values["debug"],
        allowed_hosts=list(values["allowed_hosts"]),
        csrf_trusted_origins=list(values["csrf_trusted_origins"]),
        language=values["language"],
        time_zone=values["time_zone"],
        hoster_name=values["hoster_name"],
        dues=calendar,
        email=EmailSettings(values["email"]),
        credentials_keys=_credentials_keys(values["credentials_key"], data_dir),
        archive_retention_days=values["archive_retention_days"],
        **_acme(values),
        home_commune=parse_home_commune(values["home_commune"], "home_commune"),
        organization=_organization(values["organization"]),
        public_url=_public_url(values["public_url"]),
        monitoring=_monitoring(values["monitoring"]),
        secrets=_secrets(values["secrets"]),
        trusted_proxies=_trusted_proxies(values["trusted_proxies"]),
    )


def _public_url(value: str) -> str:
    parsed = urllib.parse.urlsplit(value.strip())
    if (
        parsed.scheme not in {"http", "https"}
        or not parsed.hostname
        or parsed.query
        or parsed.fragment
        or re.search(r"[\s\x00]", value.strip())
    ):
        raise ConfigError(
            f"public_url: expected the address Ronron is reached at, such as "
            f"'https://ronron.example.org', got {value!r}"
        )
    return value.strip().rstrip("/")


# (key, smallest, largest) of the [monitoring] numbers.
_MONITORING_BOUNDS = (
    ("failures_before_alert", 1, 1000),
    ("successes_before_resolve", 1, 1000),
    ("reminder_minutes", 0, 60 * 24 * 30),
    ("group_seconds", 0, 3600),
)


def _monitoring(values: dict[str, Any]) -> MonitoringSettings:
    for key, smallest, largest in _MONITORING_BOUNDS:
        if not smallest <= values[key] <= largest:
            raise ConfigError(
                f"monitoring.{key}: expected a whole number from {smallest} to {largest}, "
                f"got {values[key]}"
            )
    emails = [email.strip() for email in values["alert_emails"]]
    for email in emails:
        if email.count("@") != 1 or any(c.isspace() for c in email) or email.startswith("@"):
            raise ConfigError(f"monitoring.alert_emails: expected e-mail addresses, got {email!r}")
    urls = [url.strip() for url in values["webhook_urls"]]
    for position, url in enumerate(urls, start=1):
        try:
            parsed = urllib.parse.urlsplit(url)
            usable = parsed.scheme in {"http", "https"} and bool(parsed.hostname)
            parsed.port  # noqa: B018 - raises ValueError on a port out of range
        except ValueError:
            usable = False
        if not usable or re.search(r"\s", url):
            # The address itself is not repeated: its path may be a secret token.
            raise ConfigError(
                "monitoring.webhook_urls: expected http:// or https:// addresses "
                f"(entry {position} is not one)"
            )
    return MonitoringSettings(
        failures_before_alert=values["failures_before_alert"],
        successes_before_resolve=values["successes_before_resolve"],
        reminder_minutes=values["reminder_minutes"],
        group_seconds=values["group_seconds"],
        alert_emails=tuple(emails),
        webhook_urls=tuple(urls),
    )


# (key, smallest, largest) of the [secrets] numbers.
_SECRETS_BOUNDS = (
    ("max_bytes", 1024, 1024 * 1024),
    ("creations_per_hour", 1, 100_000),
    ("reveals_per_hour", 1, 100_000),
    ("credentials_link_days", 1, 30),
)


def _secrets(values: dict[str, Any]) -> SecretsSettings:
    for key, smallest, largest in _SECRETS_BOUNDS:
        if not smallest <= values[key] <= largest:
            raise ConfigError(
                f"secrets.{key}: expected a whole number from {smallest} to {largest}, "
                f"got {values[key]}"
            )
    return SecretsSettings(**{key: values[key] for key, _low, _high in _SECRETS_BOUNDS})


def _trusted_proxies(values: list[str]) -> tuple[str, ...]:
    checked = []
    for value in values:
        try:
            checked.append(str(ipaddress.ip_address(value.strip())))
        except ValueError:
            raise ConfigError(
                f"trusted_proxies: expected IP addresses such as 127.0.0.1, got {value!r}"
            ) from None
    return tuple(checked)


_HOME_COMMUNE = re.compile(r"\s*([0-9]{5})\s+(\S.*?)\s*")


def parse_home_commune(value: str, key: str) -> tuple[str, str] | None:
    """ "31520 Ramonville-Saint-Agne" → ("31520", "Ramonville-Saint-Agne"); "" → None."""
    if not value.strip():
        return None
    match = _HOME_COMMUNE.fullmatch(value)
    if match is None:
        raise ConfigError(
            f"{key}: expected a postal code and a commune name such as "
            f"'31520 Ramonville-Saint-Agne', got {value!r}"
        )
    return match.group(1), match.group(2)


_ORGANIZATION_CHOICES = {
    "type": {"ASSOCIATION", "INFORMAL", "COOPERATIVE", "MICROCOMPANY", "COMPANY", "INDIVIDUAL"}
    | {"OTHER"},
    "host_provider_type": {"HOME", "HOSTEDBAY", "HOSTEDSERVER", "OUTSOURCED"},
    "host_server_type": {"NANO", "PHYSICAL", "VIRTUAL", "SHARED", "CLOUD"},
}
_URL_KEYS = {"website", "logo", "contact_url", "legal_url", "guide_user", "guide_technical"}


def _organization(values: dict[str, str]) -> dict[str, str]:
    checked = {key: value.strip() for key, value in values.items()}
    for key, choices in _ORGANIZATION_CHOICES.items():
        checked[key] = checked[key].upper()
        if checked[key] not in choices:
            raise ConfigError(
                f"organization.{key}: expected one of {', '.join(sorted(choices))}, "
                f"got {values[key]!r}"
            )
    for key in _URL_KEYS:
        if checked[key] and not re.fullmatch(r"https?://\S+", checked[key]):
            raise ConfigError(f"organization.{key}: expected an http(s):// address")
    for key in ("start_date", "chatons_start_date"):
        if checked[key]:
            try:
                date.fromisoformat(checked[key])
            except ValueError as exc:
                raise ConfigError(
                    f"organization.{key}: expected a date as YYYY-MM-DD, got {values[key]!r}"
                ) from exc
    if not re.fullmatch(r"[A-Z]{2}", checked["country_code"].upper()):
        raise ConfigError("organization.country_code: expected a two-letter ISO country code")
    checked["country_code"] = checked["country_code"].upper()
    email = checked["email"]
    if email and (email.count("@") != 1 or any(c.isspace() for c in email)):
        raise ConfigError(f"organization.email: expected an email address, got {email!r}")
    return checked


def _acme(values: dict[str, Any]) -> dict[str, str]:
    directory, email = values["acme_directory"].strip(), values["acme_email"].strip()
    bundle = values["acme_ca_bundle"].strip()
    if directory and not directory.startswith("https://"):
        raise ConfigError(f"acme_directory: expected an https:// address, got {directory!r}")
    if email and (email.count("@") != 1 or any(c.isspace() for c in email)):
        raise ConfigError(f"acme_email: expected an email address, got {email!r}")
    if bundle and not bundle.startswith("/"):
        raise ConfigError(f"acme_ca_bundle: expected an absolute path, got {bundle!r}")
    return {"acme_directory": directory, "acme_email": email, "acme_ca_bundle": bundle}


def _amount(value: str, key: str) -> Decimal:
    try:
        amount = Decimal(value)
    except ArithmeticError as exc:
        raise ConfigError(f"{key}: expected a decimal number such as 30.00, got {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{key}: expected an amount of 0 or more, got {value!r}")
    return amount


def _dues_calendar(dues: dict[str, Any]) -> DuesCalendar:
    calendar = DuesCalendar(
        call=_month_day(dues["call"], "dues.call"),
        reminder=_month_day(dues["reminder"], "dues.reminder"),
        cutoff=_month_day(dues["cutoff"], "dues.cutoff"),
        amount_association=_amount(dues["amount_association"], "dues.amount_association"),
        amount_individual=_amount(dues["amount_individual"], "dues.amount_individual"),
    )
    if not calendar.reminder <= calendar.cutoff:
        raise ConfigError("dues.reminder: the reminder must come before the cut-off")
    if not calendar.calls_previous_year() and not calendar.call < calendar.reminder:
        raise ConfigError(
            "dues.call: the call must come before the reminder — either before it in the same "
            "year, or after the cut-off (it is then sent the year before)"
        )
    return calendar


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
