"""What a check may say: targets and settings per kind, normalised or refused with a reason."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from ronron.monitoring.specs import validate_check


def _errors(kind: str, target: str, settings: Any = None, interval: Any = 60, timeout: Any = 10):
    with pytest.raises(ValidationError) as caught:
        validate_check(kind, target, {} if settings is None else settings, interval, timeout)
    return caught.value.message_dict


@pytest.mark.parametrize(
    ("kind", "target", "expected"),
    [
        ("http", "https://Café.Example.org", "https://xn--caf-dma.example.org/"),
        ("http", "HTTP://monasso.fr:8080/santé?x=1", "http://monasso.fr:8080/santé?x=1"),
        ("http", "http://127.0.0.1:8000/health", "http://127.0.0.1:8000/health"),
        ("http", "http://[::1]:8000/", "http://[::1]:8000/"),
        ("tcp", "imap.monasso.fr:993", "imap.monasso.fr:993"),
        ("tcp", "[2001:db8::1]:25", "[2001:db8::1]:25"),
        ("tcp", "192.0.2.10:22", "192.0.2.10:22"),
        ("dns", "MonAsso.fr.", "monasso.fr"),
        ("dns", "_dmarc.monasso.fr", "_dmarc.monasso.fr"),
        ("certificate", "monasso.fr", "monasso.fr"),
        ("certificate", "monasso.fr:443", "monasso.fr"),
        ("certificate", "mail.monasso.fr:993", "mail.monasso.fr:993"),
    ],
)
def test_targets_are_normalised(kind: str, target: str, expected: str) -> None:
    settings = {"record_type": "TXT"} if kind == "dns" else {}
    normalised, _settings = validate_check(kind, target, settings, 60, 10)
    assert normalised == expected


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("http", "ftp://monasso.fr/"),
        ("http", "https://admin:secret@monasso.fr/"),
        ("http", "https://monasso.fr/\r\nX-Injected: 1"),
        ("http", "https://mon asso.fr/"),
        ("http", "https:///path"),
        ("http", "https://monasso.fr:99999/"),
        ("http", "https://-bad-.fr/"),
        ("tcp", "monasso.fr"),
        ("tcp", "monasso.fr:0"),
        ("tcp", "monasso.fr:http"),
        ("tcp", "2001:db8::1:25"),
        ("dns", "192.0.2.1"),
        ("dns", "monasso\x00.fr"),
        ("certificate", "localhost"),
        ("certificate", ""),
    ],
)
def test_bad_targets_are_refused_on_the_target_field(kind: str, target: str) -> None:
    assert "target" in _errors(kind, target)


def test_http_settings_are_normalised() -> None:
    _target, settings = validate_check(
        "http",
        "https://monasso.fr/",
        {
            "expected_status": "200, 300-399",
            "keyword": "Bienvenue",
            "keyword_absent": False,
            "latency_warn_ms": 500,
            "latency_max_ms": 2000,
            "method": "get",
            "verify_tls": False,
        },
        60,
        10,
    )
    assert settings == {
        "expected_status": [200, "300-399"],
        "keyword": "Bienvenue",
        "keyword_absent": False,
        "latency_warn_ms": 500,
        "latency_max_ms": 2000,
        "method": "GET",
        "verify_tls": False,
    }
    # Absent settings stay absent: the probe applies the defaults (200-399, GET, verified TLS).
    assert validate_check("http", "https://monasso.fr/", {}, 60, 10)[1] == {}


@pytest.mark.parametrize(
    "given",
    [
        {"expected_status": ["2xx"]},
        {"expected_status": [700]},
        {"expected_status": ["399-200"]},
        {"expected_status": []},
        {"keyword": ""},
        {"keyword": "a\nb"},
        {"keyword_absent": True},
        {"keyword": "x", "keyword_absent": "yes"},
        {"latency_warn_ms": 0},
        {"latency_warn_ms": 900, "latency_max_ms": 500},
        {"method": "POST"},
        {"method": "HEAD", "keyword": "x"},
        {"verify_tls": "no"},
        {"record_type": "A"},
    ],
)
def test_bad_http_settings_are_refused(given: dict[str, Any]) -> None:
    assert "settings" in _errors("http", "https://monasso.fr/", given)


def test_dns_and_certificate_settings() -> None:
    _target, settings = validate_check(
        "dns",
        "monasso.fr",
        {"record_type": "mx", "expected_values": ["10 Mail.MonAsso.fr."], "nameserver": "::1"},
        300,
        5,
    )
    assert settings == {
        "record_type": "MX",
        "expected_values": ["10 mail.monasso.fr"],
        "nameserver": "::1",
    }
    assert validate_check("dns", "monasso.fr", {}, 60, 5)[1] == {"record_type": "A"}
    for bad in (
        {"record_type": "SOA"},
        {"nameserver": "ns.monasso.fr"},
        {"nameserver_port": 0},
        {"expected_values": []},
    ):
        assert "settings" in _errors("dns", "monasso.fr", bad)
    assert validate_check("certificate", "monasso.fr", {"min_days": 30}, 3600, 10)[1] == {
        "min_days": 30
    }
    assert "settings" in _errors("certificate", "monasso.fr", {"min_days": 0})
    assert "settings" in _errors("tcp", "monasso.fr:22", {"keyword": "x"})


@pytest.mark.parametrize(
    ("interval", "timeout", "field"),
    [
        (19, 5, "interval_s"),
        (86_401, 5, "interval_s"),
        ("60", 5, "interval_s"),
        (60, 0, "timeout_s"),
        (600, 61, "timeout_s"),
        (20, 20, "timeout_s"),
        (60, True, "timeout_s"),
    ],
)
def test_interval_and_timeout_limits(interval: Any, timeout: Any, field: str) -> None:
    assert field in _errors("http", "https://monasso.fr/", {}, interval, timeout)


def test_every_problem_is_reported_at_once() -> None:
    errors = _errors("http", "gopher://x", {"method": "PUT"}, 5, 90)
    assert set(errors) == {"target", "settings", "interval_s", "timeout_s"}
    assert "kind" in _errors("smtp", "monasso.fr:25")
