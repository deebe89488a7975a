"""The tables of Ronron's configuration, each checked into a settings object: the dues calendar,
``[email]``, ``[monitoring]``, ``[lifecycle]``, ``[secrets]``, ``[organization]``, ACME, and the
top-level values that need more than a type check. ``config.load`` reads the sources and calls
these; they raise ``ConfigError`` naming the key.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


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
class LifecycleSettings:
    """The ``[lifecycle]`` table: deadlines and retention of a member's journey."""

    departure_notice_by: tuple[int, int] = (1, 20)
    service_retention_days: int = 90
    personal_data_retention_days: int = 365
    stuck_after_days: int = 14
    suspend_unpaid: bool = False
    invitation_days: int = 14


@dataclass(frozen=True)
class SecretsSettings:
    """The ``[secrets]`` table: one-time links' size cap, rate limits and credentials expiry."""

    max_bytes: int = 65536
    creations_per_hour: int = 30
    reveals_per_hour: int = 60
    credentials_link_days: int = 7


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


def _lifecycle(values: dict[str, Any]) -> LifecycleSettings:
    for key, smallest, largest in (
        ("service_retention_days", 0, 3650),
        ("personal_data_retention_days", 0, 3650),
        ("stuck_after_days", 1, 365),
        ("invitation_days", 1, 90),
    ):
        if not smallest <= values[key] <= largest:
            raise ConfigError(
                f"lifecycle.{key}: expected a whole number from {smallest} to {largest}, "
                f"got {values[key]}"
            )
    return LifecycleSettings(
        departure_notice_by=_month_day(
            values["departure_notice_by"], "lifecycle.departure_notice_by"
        ),
        service_retention_days=values["service_retention_days"],
        personal_data_retention_days=values["personal_data_retention_days"],
        stuck_after_days=values["stuck_after_days"],
        suspend_unpaid=values["suspend_unpaid"],
        invitation_days=values["invitation_days"],
    )


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
