from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import ronron.drivers
from ronron.drivers import base
from ronron.fleet.models import Server
from ronron.members import actions as member_actions
from ronron.members.models import Member
from ronron.services.models import Service
from tests.reconcile import filedriver


@pytest.fixture
def file_driver() -> Iterator[filedriver.FileDriver]:
    """Only the test driver is registered while the test runs; the real ones come back after."""
    registry, modules = dict(base._REGISTRY), list(ronron.drivers.DRIVER_MODULES)
    filedriver.install()
    try:
        yield filedriver.DRIVER
    finally:
        base._REGISTRY.clear()
        base._REGISTRY.update(registry)
        ronron.drivers.DRIVER_MODULES[:] = modules


@pytest.fixture
def sites(tmp_path: Path) -> Path:
    path = tmp_path / "sites"
    path.mkdir()
    return path


@pytest.fixture
def server(db, sites: Path, file_driver) -> Server:
    return Server.objects.create(name="web1", layout={"sites_root": str(sites)})


@pytest.fixture
def member(db) -> Member:
    return member_actions.create_member(
        actor=None, number="A0202", kind="association", name="Les Amis du Vélo"
    )


def make_service(member: Member, server: Server, slug: str, **extra) -> Service:
    return Service.objects.create(
        member=member,
        kind="testfile",
        family="other",
        managed=True,
        server=server,
        slug=slug,
        domain=f"{slug}.example.org",
        **extra,
    )
