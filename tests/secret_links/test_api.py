"""The secrets endpoints through HTTP, as the page's script and link-preview bots use them."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ronron.secrets import envelope
from ronron.secrets.models import Secret
from ronron.secrets.store import purge_expired
from ronron.secrets.views import PAGE_POLICY

pytestmark = pytest.mark.django_db

TEXT = "Mot de passe : Été-2026 ✓\nidentifiant : trésorière"


def sealed_body(text: str = TEXT, *, lifetime: int = 3600, **kwargs: Any) -> tuple[str, dict]:
    key, sealed = envelope.seal(text, **kwargs)
    return key, {**dataclasses.asdict(sealed), "lifetime": lifetime}


def create(client: Client, body: dict, **extra: Any) -> Any:
    return client.post("/secret/", json.dumps(body), content_type="application/json", **extra)


def reveal(client: Client, path: str, **extra: Any) -> Any:
    return client.post(path, **extra)


@pytest.fixture
def limits(settings):
    """Change the [secrets] table for one test."""

    def change(**values: int) -> None:
        settings.RONRON = dataclasses.replace(
            settings.RONRON, secrets=dataclasses.replace(settings.RONRON.secrets, **values)
        )

    return change


def test_a_secret_is_revealed_once_and_then_gone(client: Client) -> None:
    key, body = sealed_body()
    response = create(client, body)
    assert response.status_code == 201
    path = response.json()["path"]
    assert path.startswith("/secret/") and len(path) == len("/secret/") + 22 + 1

    # The row holds ciphertext only: neither the text nor the key, in any usual encoding.
    row = Secret.objects.get()
    stored = json.dumps(
        {f.name: str(getattr(row, f.name)) for f in Secret._meta.fields}, ensure_ascii=False
    )
    raw = TEXT.encode()
    for form in (TEXT, "Été-2026", base64.b64encode(raw).decode(), envelope.b64encode(raw)):
        assert form not in stored
    assert raw.hex() not in stored and key not in stored
    # Only a hash of the link's identifier is kept: the table does not give working links.
    assert path.split("/")[2] not in stored

    # The reveal hands back exactly what the browser stored; it opens with the link's key.
    answer = reveal(client, path)
    assert answer.status_code == 200
    assert envelope.open_sealed(envelope.Sealed(**answer.json()), key) == TEXT
    assert not Secret.objects.exists()

    second = reveal(client, path)
    assert second.status_code == 410
    assert "no longer exists" in second.json()["detail"]


def test_opening_the_link_changes_nothing(client: Client) -> None:
    key, body = sealed_body()
    path = create(client, body).json()["path"]
    # A mail scanner or a chat's link preview fetches the page, perhaps several times.
    for _ in range(3):
        assert client.get(path).status_code == 200
        assert client.head(path).status_code == 200
    assert Secret.objects.count() == 1
    answer = reveal(client, path)
    assert envelope.open_sealed(envelope.Sealed(**answer.json()), key) == TEXT


def test_a_passphrase_is_added_to_the_key_not_used_instead(client: Client) -> None:
    key, body = sealed_body(passphrase="cheval agrafe", iterations=envelope.MIN_ITERATIONS)
    path = create(client, body).json()["path"]
    assert Secret.objects.get().has_passphrase
    sealed = envelope.Sealed(**reveal(client, path).json())
    with pytest.raises(envelope.WrongKey):
        envelope.open_sealed(sealed, key, "cheval")
    with pytest.raises(envelope.WrongKey):
        envelope.open_sealed(sealed, key)
    # The passphrase alone does not open it either: the link's key is still needed.
    _other_key, _ = envelope.seal("x")
    with pytest.raises(envelope.WrongKey):
        envelope.open_sealed(sealed, _other_key, "cheval agrafe")
    assert envelope.open_sealed(sealed, key, "cheval agrafe") == TEXT


def test_pages_are_never_cached_indexed_or_referred(client: Client) -> None:
    _key, body = sealed_body()
    path = create(client, body).json()["path"]
    for response in (client.get("/secret/"), client.get(path), reveal(client, path)):
        assert response["Content-Security-Policy"] == PAGE_POLICY
        assert response["Cache-Control"] == "no-store"
        assert response["Referrer-Policy"] == "same-origin"
        assert "noindex" in response["X-Robots-Tag"]
    assert "'unsafe-inline'" not in PAGE_POLICY and "require-trusted-types-for" in PAGE_POLICY


def test_an_expired_secret_cannot_be_revealed_and_is_purged(client: Client) -> None:
    _key, body = sealed_body()
    path = create(client, body).json()["path"]
    Secret.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(path).status_code == 404
    assert reveal(client, path).status_code == 410
    assert purge_expired() == 1
    assert not Secret.objects.exists()


def test_unknown_and_malformed_links(client: Client) -> None:
    assert client.get("/secret/" + "A" * 22 + "/").status_code == 404
    assert reveal(client, "/secret/" + "A" * 22 + "/").status_code == 410
    # Not the shape of an identifier: not even routed.
    assert client.get("/secret/short/").status_code == 404
    assert client.get("/secret/" + "A" * 21 + "%0A/").status_code == 404


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ciphertext": "not base64!"}, "damaged"),
        ({"ciphertext": 12}, "not understood"),
        ({"iv": "AAAA"}, "damaged"),
        ({"ciphertext": envelope.b64encode(b"x" * 16)}, "empty"),
        ({"lifetime": 0}, "1 hour to 30 days"),
        ({"lifetime": 31 * 86400}, "1 hour to 30 days"),
        ({"lifetime": "3600"}, "how long"),
        ({"lifetime": True}, "how long"),
        ({"salt": envelope.b64encode(b"s" * 16), "iterations": 1000}, "passphrase"),
        ({"salt": "", "iterations": 600000}, "passphrase"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_kept(
    client: Client, change: dict, message: str
) -> None:
    _key, body = sealed_body()
    response = create(client, {**body, **change})
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Secret.objects.exists()


def test_not_json_is_refused(client: Client) -> None:
    response = client.post("/secret/", "ciphertext=abc", content_type="text/plain")
    assert response.status_code == 400
    assert not Secret.objects.exists()


def test_errors_are_in_french_for_french_visitors(client: Client, settings) -> None:
    settings.LANGUAGE_CODE = "fr"
    _key, body = sealed_body()
    response = create(client, {**body, "lifetime": 60}, HTTP_ACCEPT_LANGUAGE="fr")
    assert "1 heure" in response.json()["detail"]


def test_the_size_cap(client: Client, limits) -> None:
    limits(max_bytes=2048)
    _key, body = sealed_body("é" * 1024)  # 2048 bytes of UTF-8: the largest allowed
    assert create(client, body).status_code == 201
    _key, body = sealed_body("é" * 1024 + "x")
    response = create(client, body)
    assert response.status_code == 413
    assert "at most 2048 bytes" in response.json()["detail"]
    # A body announced as larger than any secret is refused before it is read.
    response = client.generic(
        "POST",
        "/secret/",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(10 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert Secret.objects.count() == 1


def test_creations_are_limited_per_client_address(client: Client, limits) -> None:
    limits(creations_per_hour=3)
    for _ in range(3):
        assert create(client, sealed_body()[1], REMOTE_ADDR="192.0.2.10").status_code == 201
    refused = create(client, sealed_body()[1], REMOTE_ADDR="192.0.2.10")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "Too many requests" in refused.json()["detail"]
    assert Secret.objects.count() == 3
    # Another client is not held back by the first one.
    assert create(client, sealed_body()[1], REMOTE_ADDR="192.0.2.11").status_code == 201
    # An IPv6 client is counted by its /64: changing the last bits does not escape the limit.
    for suffix in ("1", "2", "3"):
        answer = create(client, sealed_body()[1], REMOTE_ADDR=f"2001:db8::{suffix}")
        assert answer.status_code == 201
    assert create(client, sealed_body()[1], REMOTE_ADDR="2001:db8::ffff").status_code == 429


def test_reveals_are_limited_per_client_address(client: Client, limits) -> None:
    limits(reveals_per_hour=2)
    unknown = "/secret/" + "B" * 22 + "/"
    # Guessing links costs attempts like anything else.
    assert reveal(client, unknown, REMOTE_ADDR="192.0.2.20").status_code == 410
    assert reveal(client, unknown, REMOTE_ADDR="192.0.2.20").status_code == 410
    key, body = sealed_body()
    path = create(client, body).json()["path"]
    assert reveal(client, path, REMOTE_ADDR="192.0.2.20").status_code == 429
    # Refused before the claim: the secret is still there for its real recipient.
    assert Secret.objects.count() == 1
    answer = reveal(client, path, REMOTE_ADDR="192.0.2.21")
    assert envelope.open_sealed(envelope.Sealed(**answer.json()), key) == TEXT


def test_a_trusted_proxy_passes_on_the_client_address(client: Client, limits, settings) -> None:
    limits(creations_per_hour=1)
    settings.RONRON = dataclasses.replace(settings.RONRON, trusted_proxies=("127.0.0.1",))
    behind = {"REMOTE_ADDR": "127.0.0.1"}
    first = create(client, sealed_body()[1], HTTP_X_FORWARDED_FOR="198.51.100.1", **behind)
    assert first.status_code == 201
    # Two clients behind the same proxy are told apart.
    other = create(client, sealed_body()[1], HTTP_X_FORWARDED_FOR="198.51.100.2", **behind)
    assert other.status_code == 201
    # A client cannot pose as another by writing its own X-Forwarded-For: the proxy appends
    # the address it saw, and that last one is what counts.
    forged = create(
        client, sealed_body()[1], HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1", **behind
    )
    assert forged.status_code == 429
    # Without a trusted proxy in front, the header is not believed.
    direct = {"REMOTE_ADDR": "192.0.2.30"}
    first_direct = create(client, sealed_body()[1], HTTP_X_FORWARDED_FOR="10.0.0.1", **direct)
    assert first_direct.status_code == 201
    posing = create(client, sealed_body()[1], HTTP_X_FORWARDED_FOR="10.0.0.2", **direct)
    assert posing.status_code == 429


def test_requests_without_the_page_token_are_refused() -> None:
    strict = Client(enforce_csrf_checks=True)
    _key, body = sealed_body()
    assert create(strict, body).status_code == 403
    assert not Secret.objects.exists()


def test_the_housekeeping_forgets_expired_secrets_and_old_counts(client: Client) -> None:
    from ronron.core.models import RateLimitWindow
    from ronron.monitoring.prober import Prober

    kept = create(client, sealed_body()[1]).json()["path"]
    create(client, sealed_body()[1])
    Secret.objects.exclude(lookup=Secret.objects.order_by("created_at").first().lookup).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    RateLimitWindow.objects.update(created_at=timezone.now() - timedelta(days=2))
    Prober._housekeeping()
    assert Secret.objects.count() == 1
    assert not RateLimitWindow.objects.exists()
    assert reveal(client, kept).status_code == 200
