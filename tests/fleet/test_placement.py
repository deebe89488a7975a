"""Which server receives a new service."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ronron.fleet import actions
from ronron.fleet.models import Server
from ronron.fleet.placement import RESERVATION_DEFAULTS, choose_server, reservation, room
from ronron.members.actions import create_member
from ronron.services.models import Service

pytestmark = pytest.mark.django_db


def server(name: str, roles: list[str], memory_mb: int = 4096, disk_gb: int = 100, **usage):
    created = actions.create_server(
        actor=None, name=name, roles=roles, memory_mb=memory_mb, disk_gb=disk_gb
    )
    if usage:
        Server.objects.filter(pk=created.pk).update(usage=usage, usage_at=timezone.now())
        created.refresh_from_db()
    return created


@pytest.fixture
def member():
    return create_member(actor=None, number="A0202", kind="association", name="Les Amis du Vélo")


def site(member, on: Server, slug: str, kind: str = "wordpress", **spec) -> Service:
    return Service.objects.create(
        member=member, kind=kind, family="web", managed=True, server=on, slug=slug, spec=spec
    )


def test_the_server_with_most_free_memory_wins() -> None:
    server("web-a", ["web"], memory_mb=4096, memory_used_mb=3000)
    server("web-b", ["web"], memory_mb=4096, memory_used_mb=1000)
    server("lists-1", ["lists"], memory_mb=65536)
    assert choose_server("web").name == "web-b"
    assert choose_server("lists").name == "lists-1"


def test_ties_are_broken_by_name() -> None:
    server("web-b", ["web"])
    server("web-a", ["web", "lists"])
    assert choose_server("web").name == "web-a"


def test_live_managed_services_reserve_their_share(member) -> None:
    busy = server("web-a", ["web"], memory_mb=2048)
    server("web-b", ["web"], memory_mb=1536)
    for n in range(3):
        site(member, busy, f"site-{n}")  # 3 × 256 MB: 1280 MB free on web-a
    assert room(busy).free_memory_mb == 2048 - 3 * RESERVATION_DEFAULTS["wordpress"][0]
    assert choose_server("web").name == "web-b"


def test_removed_and_external_services_reserve_nothing(member) -> None:
    quiet = server("web-a", ["web"], memory_mb=2048)
    server("web-b", ["web"], memory_mb=1024)
    gone = site(member, quiet, "gone", memory_mb=2000)
    Service.objects.filter(pk=gone.pk).update(removed_at=timezone.now())
    Service.objects.create(member=member, kind="wordpress", family="web", server=quiet)
    assert room(quiet).reserved_memory_mb == 0
    assert choose_server("web").name == "web-a"


def test_a_spec_may_reserve_more_than_the_default(member) -> None:
    big = server("web-a", ["web"], memory_mb=4096)
    server("web-b", ["web"], memory_mb=2048)
    site(member, big, "big", memory_mb=3000, disk_gb=50)
    assert room(big).reserved_memory_mb == 3000
    assert room(big).reserved_disk_gb == 50
    assert choose_server("web").name == "web-b"
    assert reservation("static") == RESERVATION_DEFAULTS["static"]
    assert reservation("wordpress", {"memory_mb": "nonsense"}) == RESERVATION_DEFAULTS["wordpress"]


def test_capacity_comes_from_observation_when_not_recorded() -> None:
    server("web-a", ["web"], memory_mb=0, disk_gb=0, memory_total_mb=8192, disk_total_gb=200.0)
    server("web-b", ["web"], memory_mb=4096)
    assert choose_server("web").name == "web-a"


def test_needs_are_honoured() -> None:
    server("web-a", ["web"], memory_mb=8192, disk_gb=5)
    server("web-b", ["web"], memory_mb=1024, disk_gb=100)
    assert choose_server("web").name == "web-a"
    assert choose_server("web", needs_disk_gb=20).name == "web-b"
    with pytest.raises(ValidationError) as caught:
        choose_server("web", needs_memory_mb=2048, needs_disk_gb=20)
    assert "enough room" in caught.value.messages[0]


def test_no_server_with_the_role() -> None:
    server("lists-1", ["lists"])
    with pytest.raises(ValidationError) as caught:
        choose_server("web")
    assert "No server takes web sites" in caught.value.messages[0]
    with pytest.raises(ValidationError):
        choose_server("teleportation")


def test_a_full_server_is_not_chosen(member) -> None:
    full = server("web-a", ["web"], memory_mb=512, memory_used_mb=300)
    site(member, full, "one")  # 300 used + 256 reserved > 512
    with pytest.raises(ValidationError, match="enough room"):
        choose_server("web")
