"""Credentials Ronron made for a member go to its contacts as one-time links, and Ronron then
forgets them; a delivery that cannot happen is shown on the service's page and retried.
(The apply that triggers the hand-over on a real WordPress site: tests/drivers/test_wordpress.)"""

from __future__ import annotations

import dataclasses
import re
import socket

import pytest
from django.core import mail
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.members import actions as member_actions
from ronron.secrets import envelope
from ronron.secrets.models import Delivery, Secret
from ronron.services import actions, handover
from ronron.services.credentials import secret
from ronron.services.models import Service

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+?(/secret/[A-Za-z0-9_-]{22}/)#([A-Za-z0-9_-]+)")


@pytest.fixture(autouse=True)
def english_hoster(settings):
    settings.RONRON = dataclasses.replace(settings.RONRON, language="en")


@pytest.fixture
def console(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def site(member, web1) -> Service:
    """A WordPress site just installed: its administrator's password waits to be handed over."""
    service = actions.request_service(
        member, actor=None, kind="wordpress", domain="velo.example.org", server=web1
    )
    Service.objects.filter(pk=service.pk).update(observed_state=Service.Observed.PRESENT)
    service.refresh_from_db()
    secret(service, "admin_password")
    return service


def contact(member, name: str, roles: str = "", email: str = ""):
    return member_actions.add_contact(
        member,
        actor=None,
        name=name,
        email=email or f"{name.lower()}@velo.example.org",
        roles=roles,
    )


def test_recipients_are_the_technical_contacts_or_else_the_president_or_else_the_first(member):
    assert handover.credentials_recipients(member) == []
    first = contact(member, "Alice")
    assert handover.credentials_recipients(member) == [first]
    president = contact(member, "Bob", "president")
    assert handover.credentials_recipients(member) == [president]
    tech = contact(member, "Chloe", "tech")
    both = contact(member, "Dan", "president,tech")
    assert handover.credentials_recipients(member) == [tech, both]


def test_the_password_is_handed_over_then_forgotten(console, member, site):
    password = site.credentials["admin_password"]
    contact(member, "Tech", "tech")
    contact(member, "Pres", "president")
    detail = reverse("services:detail", args=[site.pk])
    assert "waiting to be sent" in console.get(detail).content.decode()

    result = handover.hand_over_credentials(site)

    assert [d.recipient for d in result.deliveries] == ["tech@velo.example.org"]
    assert [m.to for m in mail.outbox] == [["tech@velo.example.org"]]
    assert password not in mail.outbox[0].body
    site.refresh_from_db()
    assert "admin_password" not in site.credentials
    assert site.credentials_revealed_at is not None
    entry = AuditEntry.objects.get(action="service.credentials_handed_over")
    assert entry.after["recipients"] == ["tech@velo.example.org"]
    for entry in AuditEntry.objects.all():
        assert password not in str(entry.before) + str(entry.after)

    # What the link opens: where, which login, which password.
    path, key = LINK.search(mail.outbox[0].body).groups()  # type: ignore[union-attr]
    page = console.get(detail).content.decode()
    assert "tech@velo.example.org" in page and "not opened yet" in page
    assert "Last handed over on" in page
    assert password not in page and key not in page
    sealed = envelope.Sealed(**console.post(path, content_type="application/json").json())
    opened = envelope.open_sealed(sealed, key)
    assert "Address: http://velo.example.org/wp-admin/" in opened
    assert "Login: webmestre" in opened
    assert f"Password: {password}" in opened
    assert "opened on" in console.get(detail).content.decode()

    # Nothing is left to hand over: a later apply sends nothing more.
    assert handover.hand_over_credentials(site).nothing_to_do
    assert len(mail.outbox) == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_without_a_contact_or_a_mail_server_the_password_waits(console, member, site, settings):
    password = site.credentials["admin_password"]
    detail = reverse("services:detail", args=[site.pk])

    result = handover.hand_over_credentials(site)
    assert result.deliveries == [] and "no contact to send the credentials to" in str(
        result.problems
    )
    site.refresh_from_db()
    assert site.credentials["admin_password"] == password
    # Each apply tries again; the same reason is recorded once.
    handover.hand_over_credentials(site)
    assert AuditEntry.objects.filter(action=handover.NOT_DELIVERED).count() == 1
    page = console.get(detail).content.decode()
    assert "could not be handed over" in page
    assert "no contact to send the credentials to" in page
    assert password not in page

    contact(member, "Tech", "tech")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    settings.EMAIL_USE_TLS = False
    result = handover.hand_over_credentials(site)
    assert result.deliveries == [] and "could not be sent to tech@velo.example.org" in str(
        result.problems
    )
    site.refresh_from_db()
    assert site.credentials["admin_password"] == password
    assert not Secret.objects.exists() and not Delivery.objects.exists()
    assert "could not be sent to tech@velo.example.org" in console.get(detail).content.decode()
    for entry in AuditEntry.objects.all():
        assert password not in str(entry.before) + str(entry.after)

    # Once mail works, the next attempt delivers and the failure is no longer shown.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert len(handover.hand_over_credentials(site).deliveries) == 1
    site.refresh_from_db()
    assert "admin_password" not in site.credentials
    page = console.get(detail).content.decode()
    assert "could not be handed over" not in page and "not opened yet" in page
