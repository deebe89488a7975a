"""Credentials Ronron hands out as one-time links: the mail carries the only key, the link opens
the secret once through the public page, and nothing readable stays on the server."""

from __future__ import annotations

import dataclasses
import re
import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.formats import date_format

from ronron.core.models import AuditEntry
from ronron.secrets import envelope
from ronron.secrets.delivery import DeliveryFailed, deliver
from ronron.secrets.models import Delivery, Secret

pytestmark = pytest.mark.django_db

SECRET = "Identifiant : webmestre\nMot de passe : Zr7-pas-un-vrai-9kQ"
LINK = re.compile(r"(https://ronron\.example\.org)(/secret/([A-Za-z0-9_-]{22})/)#([A-Za-z0-9_-]+)")


@pytest.fixture(autouse=True)
def hoster(settings):
    settings.RONRON = dataclasses.replace(
        settings.RONRON,
        language="en",
        hoster_name="Le Chaton Libre",
        public_url="https://ronron.example.org",
        organization={**settings.RONRON.organization, "email": "contact@chaton.example.org"},
    )
    settings.DEFAULT_FROM_EMAIL = "ronron@chaton.example.org"


def send(**overrides: object) -> Delivery:
    arguments: dict[str, object] = {
        "recipient": "tech@velo.example.org",
        "purpose": "the administrator account of the site velo.example.org",
        **overrides,
    }
    return deliver(SECRET, **arguments)  # type: ignore[arg-type]


def reveal(client, path: str):
    return client.post(path, content_type="application/json")


def test_the_mail_holds_a_link_that_opens_the_secret_once(client):
    delivery = send()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["tech@velo.example.org"]
    assert message.from_email == "ronron@chaton.example.org"
    # "Reply to this message" reaches the hoster's own address.
    assert message.reply_to == ["contact@chaton.example.org"]
    assert "Le Chaton Libre" in message.subject
    assert "velo.example.org" in message.subject
    assert SECRET not in message.body and "Zr7" not in message.body
    assert "Le Chaton Libre" in message.body
    assert "the administrator account of the site velo.example.org" in message.body
    assert "only once" in message.body
    assert "reply to this message" in message.body
    expiry = date_format(timezone.localtime(delivery.expires_at), "DATETIME_FORMAT")
    assert f"valid until {expiry}" in message.body
    found = LINK.search(message.body)
    assert found, message.body
    _base, path, secret_id, key = found.groups()

    # The server holds ciphertext only, under a hash of the link's identifier.
    row = Secret.objects.get()
    assert row.origin == Secret.Origin.RONRON
    assert row.lookup != secret_id and secret_id not in row.lookup
    stored = " ".join(str(v) for v in Secret.objects.values_list().get())
    assert "Zr7" not in stored and "webmestre" not in stored and key not in stored
    # Valid for the configured number of days.
    assert abs(row.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    assert delivery.expires_at == row.expires_at

    # Opening the page changes nothing; revealing hands the ciphertext once.
    assert client.get(path).status_code == 200
    assert Delivery.objects.get().revealed_at is None
    response = reveal(client, path)
    assert response.status_code == 200
    sealed = envelope.Sealed(**response.json())
    assert envelope.open_sealed(sealed, key) == SECRET
    assert reveal(client, path).status_code == 410
    assert not Secret.objects.exists()
    delivery.refresh_from_db()
    assert delivery.revealed_at is not None
    assert (delivery.recipient, delivery.service, delivery.member) == (
        "tech@velo.example.org",
        None,
        None,
    )


def test_the_audit_says_who_and_what_for_never_the_link(client):
    delivery = send()
    key = LINK.search(mail.outbox[0].body).group(4)  # type: ignore[union-attr]
    entry = AuditEntry.objects.get(action="secret.delivered")
    assert entry.object_id == str(delivery.pk)
    assert entry.after["recipient"] == "tech@velo.example.org"
    assert entry.after["purpose"] == "the administrator account of the site velo.example.org"
    assert entry.after["expires_at"] == delivery.expires_at.isoformat()
    written = str(entry.before) + str(entry.after) + entry.object_repr
    for leak in (key, "/secret/", "Zr7", "webmestre"):
        assert leak not in written


def test_the_mail_is_in_the_hosters_language(settings):
    settings.RONRON = dataclasses.replace(settings.RONRON, language="fr")
    delivery = send()
    with translation.override("fr"):
        expiry = date_format(timezone.localtime(delivery.expires_at), "DATETIME_FORMAT")
    assert expiry in mail.outbox[0].body
    # The rest of the application keeps its own language.
    assert translation.get_language() == "en"


def test_a_chosen_lifetime_is_kept():
    delivery = send(lifetime=timedelta(hours=2))
    assert abs(delivery.expires_at - (timezone.now() + timedelta(hours=2))) < timedelta(minutes=1)
    with pytest.raises(ValidationError):
        send(lifetime=timedelta(days=60))


@pytest.mark.parametrize(
    "recipient",
    [
        "tech@velo.example.org\r\nBcc: tout@le.monde",
        "tech@velo.example.org\n",
        "tech@velo.example.org\x00",
        "tech@velo.example.org, autre@velo.example.org",
        "Tech <tech@velo.example.org>",
        "pas-une-adresse",
        "",
    ],
)
def test_a_bad_recipient_is_refused_and_nothing_is_kept(recipient):
    with pytest.raises(ValidationError) as raised:
        send(recipient=recipient)
    assert "one e-mail address" in " ".join(raised.value.messages)
    assert not Secret.objects.exists() and not Delivery.objects.exists()
    assert mail.outbox == []


def test_a_purpose_with_a_line_break_is_refused():
    with pytest.raises(ValidationError):
        send(purpose="the site\r\nBcc: x@y.z")
    assert not Secret.objects.exists() and mail.outbox == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_when_the_mail_cannot_go_nothing_is_kept(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = closed_port()
    settings.EMAIL_USE_TLS = False
    with pytest.raises(DeliveryFailed) as raised:
        send()
    assert "tech@velo.example.org" in str(raised.value)
    assert "Nothing was kept" in str(raised.value)
    assert not Secret.objects.exists()
    assert not Delivery.objects.exists()
    assert not AuditEntry.objects.filter(action="secret.delivered").exists()
