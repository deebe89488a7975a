"""Two members with their managers, a volunteer helper, an admin and servers: the people of
the catalog, request and help tests (truth only: no host is reached)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from ronron.fleet.actions import create_server
from ronron.members import actions as member_actions
from ronron.portal.models import ManagerAccess


@pytest.fixture(autouse=True)
def english_hoster(settings):
    # Mail texts in English, so the assertions read the English built-in texts.
    settings.RONRON = dataclasses.replace(
        settings.RONRON,
        language="en",
        organization={**settings.RONRON.organization, "email": "bureau@lepic.example.org"},
    )


def _member(number: str, name: str):
    member = member_actions.create_member(
        actor=None,
        number=number,
        kind="association",
        name=name,
        postal_code="31520",
        city="Ramonville-Saint-Agne",
        joined_on=date(2020, 1, 1),
    )
    member_actions.add_contact(
        member, actor=None, name="Tech", email=f"tech@{number.lower()}.example.org", roles="tech"
    )
    return member


@pytest.fixture
def velo():
    return _member("A0202", "Les Amis du Vélo")


@pytest.fixture
def jardin():
    return _member("A0303", "Jardins Partagés")


def _manager(django_user_model, username: str, member, *, helper: bool = False):
    user = django_user_model.objects.create_user(
        username=username, email=f"{username}@example.org", password="un-mot-de-passe-solide"
    )
    ManagerAccess.objects.create(user=user, member=member, is_helper=helper)
    return user


@pytest.fixture
def camille(django_user_model, velo):
    """Manages Les Amis du Vélo."""
    return _manager(django_user_model, "camille.velo", velo)


@pytest.fixture
def dominique(django_user_model, jardin):
    """Manages Jardins Partagés and volunteers to help other members."""
    return _manager(django_user_model, "dominique.jardin", jardin, helper=True)


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_user(
        username="admin",
        email="admin@lepic.example.org",
        password="un-mot-de-passe-solide",
        is_staff=True,
    )


@pytest.fixture
def web1():
    return create_server(actor=None, name="web1", roles=["web"], memory_mb=4096, disk_gb=100)


@pytest.fixture
def as_user(client):
    def login(user):
        client.logout()
        client.force_login(user)
        return client

    return login
