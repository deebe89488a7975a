"""The people and things of the onboarding tests: the hoster's catalog, servers for the
services asked for, an admin, and a helper that applies through the public form."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ronron.fleet.actions import create_server
from ronron.portal import actions_requests

BOARD = "bureau@lepic.example.org"


@pytest.fixture(autouse=True)
def english_hoster(settings):
    # Mail texts in English, so the assertions read the English built-in texts.
    settings.RONRON = dataclasses.replace(
        settings.RONRON,
        language="en",
        organization={**settings.RONRON.organization, "email": BOARD},
    )


@pytest.fixture
def catalog(db):
    actions_requests.create_default_offers(actor=None)


@pytest.fixture
def servers(db):
    return [
        create_server(actor=None, name="web1", roles=["web"], memory_mb=4096, disk_gb=100),
        create_server(actor=None, name="lists1", roles=["lists"], memory_mb=2048, disk_gb=50),
    ]


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_user(
        username="admin",
        email="admin@lepic.example.org",
        password="un-mot-de-passe-solide",
        is_staff=True,
    )


@pytest.fixture
def console(client, admin):
    client.force_login(admin)
    return client


def application_form(**changes: Any) -> dict[str, Any]:
    """What an association's volunteer types in the form (services added by the caller)."""
    data: dict[str, Any] = {
        "kind": "association",
        "name": "Les Amis du Vélo",
        "rna": "w313 012345",
        "siren": "",
        "address": "1 rue de la Paix",
        "postal_code": "31 000",
        "city": "Toulouse",
        "country": "fr",
        "themes": ["velo"],
        "contact_name": "Camille Martin",
        "contact_email": "Camille@Velo.example.org",
        "contact_phone": "05 61 00 00 00",
        "message": "Bonjour, nous aimerions un site.",
        "consent": "on",
        "reference": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


WITH_SERVICES = {
    "want_wordpress": "on",
    "address_wordpress": "velo.example.org",
    "want_list": "on",
    "address_list": "adherents@listes.velo.example.org",
}


@pytest.fixture
def apply(db):
    """Post the public form, as a visitor from ``address``; returns the response."""
    visitor = Client()

    def post(data: dict[str, Any], address: str = "192.0.2.10", follow: bool = False) -> Any:
        return visitor.post(reverse("join:form"), data, REMOTE_ADDR=address, follow=follow)

    return post
