"""What the cloud driver tests share (a pytest plugin, listed in tests/conftest.py): a cloud
server pointing at a fresh stand-in Nextcloud, members, spaces, applying, and reading the
credentials links Ronron mails. Test modules use the ``hoster`` fixture."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from datetime import date
from typing import Any

import pytest
import requests
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from ronron.fleet.actions import create_server
from ronron.fleet.nextcloud_access import set_nextcloud_access
from ronron.members import actions as members
from ronron.reconcile.models import Run
from ronron.secrets import envelope
from ronron.services.actions import request_service
from ronron.services.models import Service

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
LINK = re.compile(r"https://ronron\.example\.org(/secret/[A-Za-z0-9_-]{22}/)#([A-Za-z0-9_-]+)")
GB = 1024**3
# The stand-in's administrator (its default).
ADMIN_PASSWORD = "Adm1n-Passw0rd-2026"


@pytest.fixture
def hoster(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.TASKS = IMMEDIATE
    settings.RONRON = dataclasses.replace(
        settings.RONRON, language="en", public_url="https://ronron.example.org"
    )


@pytest.fixture
def cloud_server(nextcloud_standin, tmp_path):
    layout = {
        "nextcloud_occ": list(nextcloud_standin.occ_argv),
        "nextcloud_data": str(nextcloud_standin.data_dir),
        "nextcloud_staging": str(tmp_path / "staging"),
    }
    server = create_server(actor=None, name="nuage1", roles=["cloud"], layout=layout)
    return set_nextcloud_access(
        server,
        actor=None,
        url=nextcloud_standin.url,
        user="admin",
        password=ADMIN_PASSWORD,
    )


@pytest.fixture
def velo():
    member = members.create_member(
        actor=None,
        number="A0101",
        kind="association",
        name="Les Amis du Vélo",
        joined_on=date(2020, 1, 1),
    )
    members.add_contact(member, actor=None, name="Camille Martin", email="camille@velo.example")
    return member


@pytest.fixture
def jardins():
    member = members.create_member(
        actor=None, number="A0102", kind="association", name="Jardins", joined_on=date(2021, 1, 1)
    )
    members.add_contact(member, actor=None, name="Chloé", email="chloe@jardins.example")
    return member


def account(login: str, email: str, name: str = "", quota: Any = None) -> dict[str, Any]:
    found: dict[str, Any] = {"id": login, "email": email}
    if name:
        found["name"] = name
    if quota is not None:
        found["quota"] = quota
    return found


VELO_ACCOUNTS = [
    account("camille", "camille@velo.example", "Camille Martin", "10 Go"),
    account("dominique.petit", "dominique@velo.example", "Dominique Petit"),
    account("Eve", "eve@velo.example"),
]


def new_space(member, server, *, accounts=None, apps=None, allowance="30 Go") -> Service:
    return request_service(
        member,
        actor=None,
        kind="cloud",
        server=server,
        spec={
            "allowance": allowance,
            "accounts": VELO_ACCOUNTS if accounts is None else accounts,
            "apps": ["calendar", "deck"] if apps is None else apps,
        },
    )


def apply(server) -> Run:
    """`ronron apply` for the server; the run, whether it succeeded or not."""
    with contextlib.suppress(CommandError):
        call_command("apply", "--server", server.name, "--yes")
    return Run.objects.order_by("-pk").first()  # type: ignore[return-value]


def links_sent_to(address: str) -> list[tuple[str, str]]:
    return [
        found
        for message in mail.outbox
        if message.to == [address]
        for found in LINK.findall(message.body)
    ]


def reveal(path: str, key: str) -> str:
    response = Client().post(path, content_type="application/json")
    assert response.status_code == 200, response.content
    return envelope.open_sealed(envelope.Sealed(**response.json()), key)


def password_from_link(address: str) -> str:
    (path, key), *_rest = links_sent_to(address)
    text = reveal(path, key)
    found = re.search(r"Password: (\S+)", text)
    assert found, text
    return found.group(1)


def log_in(standin, login: str, password: str) -> int:
    """What a person does with the credentials: Nextcloud says who they are."""
    response = requests.get(
        f"{standin.url}/ocs/v2.php/cloud/user",
        params={"format": "json"},
        headers={"OCS-APIRequest": "true"},
        auth=(login, password),
        timeout=10,
    )
    return response.status_code


def ocs_as_admin(standin, method: str, path: str, **form: Any) -> requests.Response:
    """Someone working in Nextcloud by hand, outside Ronron."""
    return requests.request(
        method,
        f"{standin.url}/ocs/v2.php/cloud{path}",
        params={"format": "json"},
        headers={"OCS-APIRequest": "true"},
        auth=("admin", ADMIN_PASSWORD),
        data=form,
        timeout=10,
    )
