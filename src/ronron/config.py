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
from pathlib import Path
from typing import Any

from ronron.config_tables import (
    ConfigError,
    DuesCalendar,
    EmailSettings,
    LifecycleSettings,
    MonitoringSettings,
    SecretsSettings,
    _acme,
    _dues_calendar,
    _lifecycle,
    _monitoring,
    _organization,
    _public_url,
    _secrets,
    _trusted_proxies,
    parse_home_commune,
)

__all__ = [
    "Config",
    "ConfigError",
    "DuesCalendar",
    "EmailSettings",
    "LifecycleSettings",
    "MonitoringSettings",
    "SecretsSettings",
    "load",
    "parse_home_commune",
]

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
        # Shown to members on their dues page in the portal (bank details, payment page…).
        "payment_instructions": "",
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
    # A member's journey (ronron.members.onboarding / offboarding, the portal).
    "lifecycle": {
        # Le PIC's rule: a departure for the next year is noticed by 20 January (MM-DD).
        "departure_notice_by": "01-20",
        # A departed member's services are suspended when it leaves, removed this many days
        # later (after a verified export); its personal data is erased this many days after.
        "service_retention_days": 90,
        "personal_data_retention_days": 365,
        # The console lists members waiting at one onboarding step for more than this.
        "stuck_after_days": 14,
        # Suspend the services of members still unpaid at the dues cut-off (a payment resumes).
        "suspend_unpaid": False,
        # How long an invitation to the portal stays valid.
        "invitation_days": 14,
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
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
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
        lifecycle=_lifecycle(values["lifecycle"]),
        trusted_proxies=_trusted_proxies(values["trusted_proxies"]),
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
