"""The server pages of the console."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.fleet import actions
from ronron.fleet.models import Server
from ronron.members.actions import create_member
from ronron.services.models import Service
from tests.stack.sshd import keygen

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp_path = tmp_path_factory.mktemp("keys")
    keygen(tmp_path / "client")
    keygen(tmp_path / "host")
    return {
        "private_key": (tmp_path / "client").read_text(),
        "host_key": (tmp_path / "host.pub").read_text().strip(),
    }


def form_data(**overrides: object) -> dict[str, object]:
    return {
        "name": "web-1",
        "description": "",
        "host_kind": "local",
        "roles": ["web"],
        "memory_mb": "4096",
        "disk_gb": "100",
        "cpus": "2",
        "address": "",
        "port": "22",
        "ssh_user": "",
        "private_key": "",
        "host_key": "",
        **overrides,
    }


def test_pages_are_for_staff_only(client, django_user_model) -> None:
    actions.create_server(actor=None, name="local")
    urls = [
        reverse("fleet:list"),
        reverse("fleet:create"),
        reverse("fleet:detail", args=["local"]),
        reverse("fleet:edit", args=["local"]),
    ]
    for url in urls:
        assert client.get(url).status_code == 302
    client.force_login(django_user_model.objects.create_user(username="membre", password="x"))
    for url in urls:
        assert client.get(url).status_code == 403
    response = client.post(reverse("fleet:refresh_usage", args=["local"]))
    assert response.status_code == 403


def test_list_shows_roles_capacity_usage_and_services(console) -> None:
    server = actions.create_server(
        actor=None, name="web-1", roles=["web", "lists"], memory_mb=4096, disk_gb=80, cpus=2
    )
    actions.create_server(actor=None, name="spare")
    member = create_member(actor=None, number="A0202", kind="association", name="Les Amis")
    for slug in ("a", "b"):
        Service.objects.create(
            member=member, kind="static", family="web", managed=True, server=server, slug=slug
        )
    page = console.get(reverse("fleet:list")).content.decode()
    assert "web-1" in page and "spare" in page
    assert "Web sites" in page and "Mailing lists" in page
    assert "4096 MB of memory, 80 GB of disk" in page
    assert "not measured yet" in page
    assert "4032 MB, 78 GB" in page  # free: 4096 − 2 × 32 MB, 80 − 2 × 1 GB
    assert '<td data-label="Services" class="num">2</td>' in page


def test_create_a_local_server(console, staff_user) -> None:
    response = console.post(reverse("fleet:create"), form_data(roles=["web", "cloud"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("fleet:detail", args=["web-1"])
    server = Server.objects.get(name="web-1")
    assert server.roles == "cloud,web"
    assert AuditEntry.objects.get(action="server.created").actor_name == "camille"
    page = console.get(response["Location"]).content.decode()
    assert "Server web-1 added." in page


def test_create_an_ssh_server_and_never_see_its_key_again(console, keys) -> None:
    data = form_data(
        host_kind="ssh",
        address="web-2.example.org",
        ssh_user="ronron",
        private_key=keys["private_key"],
        host_key=keys["host_key"],
    )
    response = console.post(reverse("fleet:create"), data)
    assert response.status_code == 302
    server = Server.objects.get(name="web-1")
    assert server.ssh_credentials["host_key"] == keys["host_key"]
    secret_line = keys["private_key"].splitlines()[1]
    detail = console.get(reverse("fleet:detail", args=["web-1"])).content.decode()
    assert "recorded (never shown)" in detail
    edit = console.get(reverse("fleet:edit", args=["web-1"])).content.decode()
    assert secret_line not in edit and "PRIVATE KEY" not in edit
    assert keys["host_key"] in edit, "the public host key is shown so that it can be checked"
    assert "Leave this empty to keep it" in edit

    # Saving with the key left blank keeps it.
    data.update(private_key="", description="Chez Camille")
    response = console.post(reverse("fleet:edit", args=["web-1"]), data)
    assert response.status_code == 302
    server.refresh_from_db()
    assert server.description == "Chez Camille"
    assert server.ssh_credentials["private_key"].strip() == keys["private_key"].strip()


def test_errors_are_shown_next_to_the_fields_and_the_key_is_not_echoed(console, keys) -> None:
    data = form_data(
        host_kind="ssh", address="", ssh_user="ronron", private_key=keys["private_key"]
    )
    response = console.post(reverse("fleet:create"), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_address_error"' in page
    assert "Give the address of the server" in page
    assert 'id="id_host_key_error"' in page
    assert "Paste the server&#x27;s host key" in page
    assert keys["private_key"].splitlines()[1] not in page
    assert 'aria-invalid="true"' in page
    assert not Server.objects.exists()


def test_a_taken_name_is_refused(console) -> None:
    actions.create_server(actor=None, name="web-1")
    response = console.post(reverse("fleet:create"), form_data())
    assert response.status_code == 200
    assert 'id="id_name_error"' in response.content.decode()
    assert Server.objects.count() == 1


def test_detail_lists_its_services(console) -> None:
    server = actions.create_server(actor=None, name="web-1", roles=["web"])
    member = create_member(actor=None, number="A0202", kind="association", name="Les Amis")
    Service.objects.create(
        member=member,
        kind="wordpress",
        family="web",
        managed=True,
        server=server,
        slug="amis",
        domain="amis.example.org",
    )
    page = console.get(reverse("fleet:detail", args=["web-1"])).content.decode()
    assert "amis.example.org" in page
    assert "Les Amis" in page
    assert reverse("members:detail", args=[member.pk]) in page
    assert console.get(reverse("fleet:detail", args=["nowhere"])).status_code == 404


def test_refresh_usage(console) -> None:
    actions.create_server(actor=None, name="local", roles=["web"])
    url = reverse("fleet:refresh_usage", args=["local"])
    assert console.get(url).status_code == 405
    response = console.post(url, follow=True)
    page = response.content.decode()
    assert "Usage of local measured." in page
    server = Server.objects.get(name="local")
    assert server.usage["memory_total_mb"] > 0
    assert f"/ {server.usage['memory_total_mb']} MB" in page


def test_refresh_usage_of_an_unreachable_server_says_so(console, keys) -> None:
    actions.create_server(
        actor=None,
        name="distant",
        host_kind="ssh",
        address="127.0.0.1",
        port=1,  # nothing listens there
        ssh_user="root",
        private_key=keys["private_key"],
        host_key=keys["host_key"],
    )
    response = console.post(reverse("fleet:refresh_usage", args=["distant"]), follow=True)
    page = response.content.decode()
    assert "could not reach the server distant" in page
    assert Server.objects.get(name="distant").usage_at is None
