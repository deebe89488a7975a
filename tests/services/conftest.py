"""A member and web servers, shared by the service tests (truth only: no host is reached)."""

from datetime import date

import pytest

from ronron.fleet.actions import create_server
from ronron.members import actions as member_actions


@pytest.fixture
def member():
    return member_actions.create_member(
        actor=None,
        number="A0202",
        kind="association",
        name="Les Amis du Vélo",
        postal_code="31520",
        city="Ramonville-Saint-Agne",
        joined_on=date(2020, 1, 1),
    )


@pytest.fixture
def web1():
    return create_server(actor=None, name="web1", roles=["web"], memory_mb=4096, disk_gb=100)


@pytest.fixture
def web2():
    return create_server(actor=None, name="web2", roles=["web"], memory_mb=8192, disk_gb=100)
