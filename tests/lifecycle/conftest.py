"""A hoster with its dues calendar (Le PIC's: called 1 December, reminded 1 June, cut off
1 September), members with contacts, and helpers to run the chores as the prober would."""

from __future__ import annotations

import dataclasses
import io
from datetime import date
from typing import Any

import pytest
from django.core.management import call_command

from ronron.config import DuesCalendar, LifecycleSettings
from ronron.fleet.actions import create_server
from ronron.members import actions as member_actions
from ronron.members.models import Member
from ronron.services import actions as service_actions
from ronron.services.models import Service

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def hoster(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.RONRON = dataclasses.replace(
        settings.RONRON,
        language="en",
        hoster_name="Le Chaton Libre",
        public_url="https://ronron.example.org",
        organization={**settings.RONRON.organization, "email": "contact@chaton.example.org"},
        dues=DuesCalendar(),
        lifecycle=LifecycleSettings(),
    )
    settings.DEFAULT_FROM_EMAIL = "ronron@chaton.example.org"
    return settings


def configure(settings: Any, **lifecycle: Any) -> None:
    settings.RONRON = dataclasses.replace(
        settings.RONRON, lifecycle=dataclasses.replace(settings.RONRON.lifecycle, **lifecycle)
    )


def run_chore(name: str, when: str) -> str:
    """``ronron chores run NAME --now WHEN``, as an admin catching up would type it."""
    out = io.StringIO()
    call_command("chores", "run", name, "--now", when, stdout=out)
    return out.getvalue()


@pytest.fixture
def console(client, staff_user):
    client.force_login(staff_user)
    return client


def new_member(number: str, name: str, kind: str = "association", **fields: Any) -> Member:
    fields.setdefault("joined_on", date(2020, 3, 1))
    fields.setdefault("postal_code", "31520")
    fields.setdefault("city", "Ramonville-Saint-Agne")
    return member_actions.create_member(actor=None, number=number, kind=kind, name=name, **fields)


def contact(member: Member, name: str, roles: str = "", email: str = "") -> Any:
    return member_actions.add_contact(
        member,
        actor=None,
        name=name,
        email=email or f"{name.lower()}@{member.number.lower()}.example.org",
        roles=roles,
    )


@pytest.fixture
def web1(db):
    return create_server(actor=None, name="web1", roles=["web"], memory_mb=4096, disk_gb=100)


def static_site(member: Member, server: Any, domain: str) -> Service:
    return service_actions.request_service(
        member, actor=None, kind="static", domain=domain, server=server
    )
