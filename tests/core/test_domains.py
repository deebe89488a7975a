"""Domain names that reach nginx and certificates: IDNA, and nothing hostile gets through."""

import pytest
from django.core.exceptions import ValidationError

from ronron.core.domains import normalize_domain


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("monasso.fr", "monasso.fr"),
        ("MonAsso.FR.", "monasso.fr"),
        ("café.example.org", "xn--caf-dma.example.org"),
        ("  www.le-pic.org ", "www.le-pic.org"),
        ("écoles-en-lutte.fr", "xn--coles-en-lutte-9jb.fr"),
    ],
)
def test_valid_names_come_back_in_ascii_form(given, expected):
    assert normalize_domain(given) == expected


@pytest.mark.parametrize(
    "hostile",
    [
        "evil.com\nserver_name x",
        "evil.com\r\n",
        "evil.com\x00.org",
        "a..b",
        "-a.com",
        "a-.com",
        "localhost",
        "127.0.0.1",
        "[::1]",
        "x" * 64 + ".org",
        ".".join(["abcdefghi"] * 30) + ".org",
        "exa mple.org",
        "exa_mple.org",
        "*.example.org",
        "example.org;",
        "example.123",
        "",
    ],
)
def test_hostile_or_invalid_names_are_refused(hostile):
    with pytest.raises(ValidationError):
        normalize_domain(hostile)
