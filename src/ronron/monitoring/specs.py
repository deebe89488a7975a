"""What a check may say: its target and settings, validated and normalised per kind.

Every check reaches the prober through :func:`validate_check` (manual checks through the
actions, derived ones because they are built from validated services). The prober trusts what
is stored; it does not re-validate on each probe.

Settings per kind (absent keys take the defaults the probes apply):

- ``http``: ``expected_status`` (list of codes and ``"200-299"`` ranges, default 200-399),
  ``keyword`` (text the body must hold), ``keyword_absent`` (true: must NOT hold it),
  ``latency_warn_ms`` (slower → degraded), ``latency_max_ms`` (slower → down),
  ``method`` (GET or HEAD), ``verify_tls`` (default true). Redirects are not followed: a 301
  is an answer (and within the default 200-399).
- ``tcp``: target ``host:port``; no settings.
- ``dns``: target a domain name; ``record_type`` (A, AAAA, CNAME, MX, TXT, NS; default A),
  ``expected_values`` (each must be among the answers), ``nameserver`` (an IP address; default
  the system's resolvers), ``nameserver_port`` (default 53).
- ``certificate``: target ``host[:port]`` (port 443 by default); ``min_days`` (default 14:
  down below it, degraded below twice it), ``verify_tls`` (default true: an untrusted
  certificate is down).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ronron.core.domains import normalize_domain
from ronron.core.validators import reject_control_characters

MIN_INTERVAL_S = 20
MAX_INTERVAL_S = 86_400
MIN_TIMEOUT_S = 1
MAX_TIMEOUT_S = 60
DEFAULT_EXPECTED_STATUS = ((200, 399),)
DEFAULT_MIN_DAYS = 14
DNS_RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS")
MAX_KEYWORD_LENGTH = 200
MAX_EXPECTED_VALUES = 20

_KNOWN_SETTINGS = {
    "http": {
        "expected_status",
        "keyword",
        "keyword_absent",
        "latency_warn_ms",
        "latency_max_ms",
        "method",
        "verify_tls",
    },
    "tcp": set(),
    "dns": {"record_type", "expected_values", "nameserver", "nameserver_port"},
    "certificate": {"min_days", "verify_tls"},
}
_STATUS_RANGE = re.compile(r"^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$")
# Service labels such as _dmarc or _sip._tcp come before an ordinary domain name.
_SERVICE_LABEL = re.compile(r"^_[a-z0-9-]{1,62}$")


def validate_check(
    kind: str, target: str, settings: dict[str, Any], interval_s: int, timeout_s: int
) -> tuple[str, dict[str, Any]]:
    """Normalised ``(target, settings)`` of a check; a ValidationError keyed by field name
    ("target", "settings", "interval_s", "timeout_s") listing everything that is wrong."""
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if kind not in _KNOWN_SETTINGS:
        raise ValidationError({"kind": [_("Unknown kind of check.")]})
    _validate_timing(interval_s, timeout_s, fail)

    normalised_target = ""
    try:
        normalised_target = _TARGETS[kind](target)
    except ValidationError as exc:
        for message in exc.messages:
            fail("target", message)

    normalised_settings: dict[str, Any] = {}
    if not isinstance(settings, dict):
        fail("settings", _("Settings must be a mapping of names to values."))
    else:
        unknown = sorted(str(key) for key in settings if key not in _KNOWN_SETTINGS[kind])
        for key in unknown:
            fail("settings", _("Unknown setting “%(name)s”.") % {"name": key[:50]})
        try:
            normalised_settings = _SETTINGS[kind](settings)
        except ValidationError as exc:
            for message in exc.messages:
                fail("settings", message)
        if (
            kind == "http"
            and normalised_settings.get("method") == "HEAD"
            and ("keyword" in normalised_settings)
        ):
            fail("settings", _("A HEAD request has no body to search for a keyword: use GET."))
    if errors:
        raise ValidationError(errors)
    return normalised_target, normalised_settings


def _validate_timing(interval_s: Any, timeout_s: Any, fail: Any) -> None:
    interval_ok = isinstance(interval_s, int) and not isinstance(interval_s, bool)
    if not interval_ok or not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
        fail(
            "interval_s",
            _("The interval must be between %(min)d seconds and one day (%(max)d seconds).")
            % {"min": MIN_INTERVAL_S, "max": MAX_INTERVAL_S},
        )
        interval_ok = False
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int):
        fail("timeout_s", _("The timeout must be a whole number of seconds."))
        return
    if not MIN_TIMEOUT_S <= timeout_s <= MAX_TIMEOUT_S:
        fail(
            "timeout_s",
            _("The timeout must be between %(min)d and %(max)d seconds.")
            % {"min": MIN_TIMEOUT_S, "max": MAX_TIMEOUT_S},
        )
    elif interval_ok and timeout_s >= interval_s:
        fail("timeout_s", _("The timeout must be shorter than the interval."))


# -- targets ------------------------------------------------------------------------------------


def _host(text: str) -> str:
    """An IP address (v6 without brackets) or a domain name in its ASCII form."""
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if bare != text:
        raise ValidationError(_("Only an IPv6 address may be written in brackets."))
    return normalize_domain(text)


def _host_literal(host: str) -> str:
    """The host as written before ``:port``: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValidationError(_("The port must be a number between 1 and 65535."))
    return int(text)


def _split_host_port(text: str, default_port: int | None) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise ValidationError(_("Write an IPv6 address as [2001:db8::1]:443."))
        host_part, rest = text[: close + 1], text[close + 1 :]
        if rest and not rest.startswith(":"):
            raise ValidationError(_("Write an IPv6 address as [2001:db8::1]:443."))
        port_part = rest[1:] if rest else None
    elif text.count(":") == 1:
        host_part, port_part = text.split(":")
    elif ":" in text:
        raise ValidationError(_("Write an IPv6 address as [2001:db8::1]:443."))
    else:
        host_part, port_part = text, None
    if port_part is None:
        if default_port is None:
            raise ValidationError(
                _("Give the port too, as host:port (for example imap.monasso.fr:993).")
            )
        return _host(host_part), default_port
    return _host(host_part), _port(port_part)


def _common(target: Any) -> str:
    if not isinstance(target, str):
        raise ValidationError(_("Enter a target."))
    reject_control_characters(target)
    text = target.strip()
    if not text:
        raise ValidationError(_("Enter a target."))
    if len(text) > 500:
        raise ValidationError(_("The target is too long (500 characters at most)."))
    if any(ch.isspace() for ch in text):
        raise ValidationError(_("The target cannot contain spaces."))
    return text


def _http_target(target: str) -> str:
    text = _common(target)
    parts = urlsplit(text)
    if parts.scheme.lower() not in {"http", "https"}:
        raise ValidationError(_("Enter an address starting with http:// or https://."))
    if parts.username is not None or parts.password is not None:
        # The target is shown on pages and in messages: it must not carry a password.
        raise ValidationError(_("The address cannot contain a user name or password."))
    try:
        hostname, port = parts.hostname or "", parts.port
    except ValueError as exc:
        raise ValidationError(_("The port must be a number between 1 and 65535.")) from exc
    if not hostname:
        raise ValidationError(_("The address has no host name."))
    host = _host(hostname)
    netloc = _host_literal(host) + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def _tcp_target(target: str) -> str:
    host, port = _split_host_port(_common(target), None)
    return f"{_host_literal(host)}:{port}"


def _certificate_target(target: str) -> str:
    host, port = _split_host_port(_common(target), 443)
    return _host_literal(host) if port == 443 else f"{_host_literal(host)}:{port}"


def _dns_target(target: str) -> str:
    text = _common(target).lower().rstrip(".")
    labels = text.split(".")
    service = []
    while labels and labels[0].startswith("_"):
        label = labels.pop(0)
        if not _SERVICE_LABEL.match(label):
            raise ValidationError(
                _("“%(value)s” is not a valid domain name.") % {"value": text[:100]}
            )
        service.append(label)
    return ".".join([*service, normalize_domain(".".join(labels))])


_TARGETS = {
    "http": _http_target,
    "tcp": _tcp_target,
    "dns": _dns_target,
    "certificate": _certificate_target,
}


def split_target(target: str, default_port: int) -> tuple[str, int]:
    """``host``, ``port`` of a stored (already valid) TCP or certificate target."""
    if target.startswith("["):
        host, _sep, rest = target[1:].partition("]")
        return host, int(rest[1:]) if rest else default_port
    host, _sep, port = target.partition(":")
    return host, int(port) if port else default_port


# -- settings -----------------------------------------------------------------------------------


def _bool(settings: dict[str, Any], key: str) -> bool:
    value = settings[key]
    if not isinstance(value, bool):
        raise ValidationError(_("“%(name)s” must be true or false.") % {"name": key})
    return value


def _milliseconds(settings: dict[str, Any], key: str) -> int:
    value = settings[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 600_000:
        raise ValidationError(
            _("“%(name)s” must be a number of milliseconds between 1 and 600000.") % {"name": key}
        )
    return value


def _text(value: Any, name: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(_("“%(name)s” must be a non-empty text.") % {"name": name})
    reject_control_characters(value)
    if len(value) > max_length:
        raise ValidationError(
            _("“%(name)s” is too long (%(max)d characters at most).")
            % {"name": name, "max": max_length}
        )
    return value


def parse_expected_status(value: Any) -> list[int | str]:
    """``[200, "300-399"]`` or ``"200, 300-399"`` → ``[200, "300-399"]``."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items or len(items) > 20:
        raise ValidationError(
            _("Expected status codes: a list such as 200, 301 or 200-299 ranges.")
        )
    normalised: list[int | str] = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            low = high = item
        elif isinstance(item, str) and (match := _STATUS_RANGE.match(item)):
            low = int(match.group(1))
            high = int(match.group(2) or low)
        else:
            raise ValidationError(
                _("“%(value)s” is not a status code or a range such as 200-299.")
                % {"value": str(item)[:20]}
            )
        if not 100 <= low <= high <= 599:
            raise ValidationError(
                _("“%(value)s” is not a status code or a range such as 200-299.")
                % {"value": str(item)[:20]}
            )
        normalised.append(low if low == high else f"{low}-{high}")
    return normalised


def expected_status_ranges(settings: dict[str, Any]) -> tuple[tuple[int, int], ...]:
    """The stored (valid) ``expected_status`` as (low, high) pairs."""
    items = settings.get("expected_status")
    if not items:
        return DEFAULT_EXPECTED_STATUS
    ranges = []
    for item in items:
        if isinstance(item, int):
            ranges.append((item, item))
        else:
            low, _sep, high = str(item).partition("-")
            ranges.append((int(low), int(high or low)))
    return tuple(ranges)


def _http_settings(settings: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if "expected_status" in settings:
        result["expected_status"] = parse_expected_status(settings["expected_status"])
    if "keyword" in settings:
        result["keyword"] = _text(settings["keyword"], "keyword", MAX_KEYWORD_LENGTH)
    if "keyword_absent" in settings:
        result["keyword_absent"] = _bool(settings, "keyword_absent")
        if result["keyword_absent"] and "keyword" not in result:
            raise ValidationError(_("“keyword_absent” needs a keyword."))
    for key in ("latency_warn_ms", "latency_max_ms"):
        if key in settings:
            result[key] = _milliseconds(settings, key)
    warn, most = result.get("latency_warn_ms"), result.get("latency_max_ms")
    if warn is not None and most is not None and warn >= most:
        raise ValidationError(_("The warning latency must be lower than the maximum latency."))
    if "method" in settings:
        method = settings["method"]
        if not isinstance(method, str) or method.upper() not in {"GET", "HEAD"}:
            raise ValidationError(_("The method must be GET or HEAD."))
        result["method"] = method.upper()
    if "verify_tls" in settings:
        result["verify_tls"] = _bool(settings, "verify_tls")
    return result


def _tcp_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {}


def _dns_settings(settings: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    record_type = settings.get("record_type", "A")
    if not isinstance(record_type, str) or record_type.upper() not in DNS_RECORD_TYPES:
        raise ValidationError(
            _("The record type must be one of %(types)s.") % {"types": ", ".join(DNS_RECORD_TYPES)}
        )
    result["record_type"] = record_type.upper()
    if "expected_values" in settings:
        values = settings["expected_values"]
        if isinstance(values, str):
            values = [part for part in values.split(",") if part.strip()]
        if not isinstance(values, list) or not values or len(values) > MAX_EXPECTED_VALUES:
            raise ValidationError(
                _("Expected values: a list of 1 to %(max)d answers.") % {"max": MAX_EXPECTED_VALUES}
            )
        result["expected_values"] = [
            normalize_answer(_text(value, "expected_values", 255)) for value in values
        ]
    if "nameserver" in settings:
        try:
            result["nameserver"] = str(ipaddress.ip_address(str(settings["nameserver"]).strip()))
        except ValueError as exc:
            raise ValidationError(_("The name server must be an IP address.")) from exc
    if "nameserver_port" in settings:
        port = settings["nameserver_port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValidationError(_("The port must be a number between 1 and 65535."))
        result["nameserver_port"] = port
    return result


def normalize_answer(value: str) -> str:
    """How DNS answers are compared: lower case, no final dot, TXT quotes removed."""
    text = value.strip()
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    return text.lower().rstrip(".")


def _certificate_settings(settings: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if "min_days" in settings:
        days = settings["min_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
            raise ValidationError(_("“min_days” must be a number of days between 1 and 365."))
        result["min_days"] = days
    if "verify_tls" in settings:
        result["verify_tls"] = _bool(settings, "verify_tls")
    return result


_SETTINGS = {
    "http": _http_settings,
    "tcp": _tcp_settings,
    "dns": _dns_settings,
    "certificate": _certificate_settings,
}
