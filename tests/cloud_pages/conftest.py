"""Two members, a Nextcloud server Ronron knows (never reached: no test here applies), and the
console and portal clients. Cloud spaces are made with ``request_service``, and what an
observation would have seen is recorded with ``record_observation``, as the reconciler does."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ronron.drivers.base import Observation
from ronron.fleet.actions import create_server
from ronron.portal.models import ManagerAccess
from ronron.reconcile.observations import record_observation
from ronron.services.actions import request_service
from ronron.services.models import Service
from tests.core.helpers import make_member

GB = 1024**3
PASSWORD = "un-mot-de-passe-solide"


@pytest.fixture
def velo(db):
    return make_member(number="A0202", name="Les Amis du Vélo")


@pytest.fixture
def zebres(db):
    return make_member(number="Z0999", name="Zèbres Solidaires")


@pytest.fixture
def cloud1(db):
    return create_server(actor=None, name="cloud1", roles=["cloud"], memory_mb=8192, disk_gb=500)


@pytest.fixture
def console(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def manager_of(django_user_model):
    """A browser of its own for a member's manager (the console keeps its own session)."""

    def login(member: Any) -> Any:
        client = Client()
        user = django_user_model.objects.create_user(
            username=f"manager-{member.number}",
            email=f"m@{member.number}.example",
            password=PASSWORD,
        )
        ManagerAccess.objects.create(user=user, member=member)
        client.force_login(user)
        return client

    return login


def account(login: str, email: str, name: str = "", quota: str = "") -> dict[str, Any]:
    made: dict[str, Any] = {"id": login, "email": email}
    if name:
        made["name"] = name
    if quota:
        made["quota"] = quota
    return made


def new_space(member: Any, server: Any, *accounts: dict[str, Any], **spec: Any) -> Service:
    return request_service(
        member,
        actor=None,
        kind="cloud",
        server=server,
        spec={"allowance": "50 Go", "accounts": list(accounts), **spec},
    )


def observe(service: Service, usage: list[dict[str, Any]], *, state: str = "present") -> None:
    """Record what the driver's observation would have found (``drivers/nextcloud/space.py``)."""
    facts = {
        "accounts": len(usage),
        "storage_used": sum(u["used"] for u in usage),
        "allowance": service.spec["allowance"],
        "usage": usage,
        "retired": 0,
    }
    parts = {"group": True, "accounts": {}, "apps": {}, "pending": []}
    record_observation(service, Observation(state, parts, facts))


def page(response: Any) -> str:
    return response.content.decode()
