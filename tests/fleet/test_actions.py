"""Adding, changing and measuring servers: validated, audited, secrets kept out of the log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import pytest
from django.core.exceptions import ValidationError

from ronron.core.models import AuditEntry
from ronron.fleet import actions
from ronron.fleet.hosts import HostError
from ronron.fleet.models import Server
from tests.stack.sshd import SSHServer, keygen

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp_path = tmp_path_factory.mktemp("keys")
    keygen(tmp_path / "client")
    keygen(tmp_path / "client_rsa", "rsa")
    keygen(tmp_path / "host")
    return {
        "private_key": (tmp_path / "client").read_text(),
        "rsa_private_key": (tmp_path / "client_rsa").read_text(),
        "host_key": (tmp_path / "host.pub").read_text().strip(),
    }


def after(entry: AuditEntry) -> dict[str, object]:
    return cast(dict[str, object], entry.after)


def before(entry: AuditEntry) -> dict[str, object]:
    return cast(dict[str, object], entry.before)


def creds(server: Server) -> dict[str, str]:
    return cast(dict[str, str], server.ssh_credentials)


def ssh_fields(keys: dict[str, str], **overrides: object) -> dict[str, object]:
    return {
        "name": "web-2",
        "host_kind": "ssh",
        "address": "web-2.example.org",
        "port": 2222,
        "ssh_user": "ronron",
        "private_key": keys["private_key"],
        "host_key": keys["host_key"],
        **overrides,
    }


def test_create_a_local_server_with_normalised_roles(staff_user) -> None:
    server = actions.create_server(
        actor=staff_user, name="local", roles=["web", " Lists", "web"], memory_mb=4096
    )
    server.refresh_from_db()
    assert server.roles == "lists,web"
    assert server.host_kind == "local"
    entry = AuditEntry.objects.get(action="server.created")
    assert entry.actor_name == "camille"
    assert entry.object_id == str(server.pk)
    assert after(entry)["roles"] == "lists,web"
    assert after(entry)["memory_mb"] == 4096


def test_unknown_roles_and_bad_names_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        actions.create_server(actor=None, name="local", roles="web,mail")
    assert "roles" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        actions.create_server(actor=None, name="Web 1")
    assert "name" in caught.value.message_dict
    actions.create_server(actor=None, name="web-1")
    with pytest.raises(ValidationError) as caught:
        actions.create_server(actor=None, name="web-1")
    assert "name" in caught.value.message_dict
    assert Server.objects.count() == 1
    assert AuditEntry.objects.filter(action="server.created").count() == 1


def test_an_ssh_server_keeps_its_credentials_encrypted_and_out_of_the_audit(keys) -> None:
    server = actions.create_server(actor=None, **ssh_fields(keys))
    server.refresh_from_db()
    assert creds(server)["private_key"].strip() == keys["private_key"].strip()
    assert creds(server)["host_key"] == keys["host_key"]
    entry = AuditEntry.objects.get(action="server.created")
    logged = json.dumps([entry.before, entry.after])
    assert "PRIVATE KEY" not in logged
    assert keys["host_key"].split()[1] not in logged
    assert after(entry)["ssh_credentials"] == "<set>"
    # Encrypted at rest: the key is not readable in the table.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT ssh_credentials FROM fleet_server WHERE id = %s", [server.pk])
        stored = cursor.fetchone()[0]
    assert "PRIVATE" not in stored and keys["host_key"].split()[1] not in stored


def test_rsa_keys_are_accepted(keys) -> None:
    server = actions.create_server(
        actor=None, **ssh_fields(keys, private_key=keys["rsa_private_key"])
    )
    server.refresh_from_db()
    assert creds(server)["private_key"].strip() == keys["rsa_private_key"].strip()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"address": ""}, "address"),
        ({"address": "web 2; rm -rf /"}, "address"),
        ({"ssh_user": ""}, "ssh_user"),
        ({"ssh_user": "root\nx"}, "ssh_user"),
        ({"private_key": ""}, "private_key"),
        ({"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n"}, "private_key"),
        ({"host_key": ""}, "host_key"),
        ({"host_key": "ssh-ed25519 bm90IGEga2V5"}, "host_key"),
        ({"host_key": "not a key at all"}, "host_key"),
        ({"port": 70000}, "port"),
        ({"layout": {"no_such_path": "/x"}}, "layout"),
    ],
)
def test_an_ssh_server_needs_usable_access(keys, overrides, field) -> None:
    with pytest.raises(ValidationError) as caught:
        actions.create_server(actor=None, **ssh_fields(keys, **overrides))
    assert field in caught.value.message_dict
    assert not Server.objects.exists()


def test_a_passphrase_protected_key_is_refused(keys, tmp_path: Path) -> None:
    import subprocess

    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(tmp_path / "locked")],
        check=True,
    )
    with pytest.raises(ValidationError) as caught:
        actions.create_server(
            actor=None, **ssh_fields(keys, private_key=(tmp_path / "locked").read_text())
        )
    assert "private_key" in caught.value.message_dict


def test_update_keeps_the_private_key_when_left_blank(keys, staff_user, tmp_path: Path) -> None:
    server = actions.create_server(actor=None, **ssh_fields(keys))
    actions.update_server(
        server, actor=staff_user, description="Le serveur du PIC", private_key="", roles=["web"]
    )
    server.refresh_from_db()
    assert server.description == "Le serveur du PIC"
    assert server.role_list == ["web"]
    assert creds(server)["private_key"].strip() == keys["private_key"].strip()
    entry = AuditEntry.objects.get(action="server.updated")
    assert before(entry)["description"] == "" and after(entry)["description"] == "Le serveur du PIC"
    assert "PRIVATE" not in json.dumps(entry.after)

    keygen(tmp_path / "new")
    actions.update_server(server, actor=staff_user, private_key=(tmp_path / "new").read_text())
    server.refresh_from_db()
    assert creds(server)["private_key"].strip() == (tmp_path / "new").read_text().strip()
    latest = AuditEntry.objects.filter(action="server.updated").latest("pk")
    assert after(latest)["ssh_credentials_updated"] is True


def test_an_invalid_update_changes_nothing(keys) -> None:
    server = actions.create_server(actor=None, **ssh_fields(keys))
    with pytest.raises(ValidationError):
        actions.update_server(server, actor=None, host_key="garbage", description="x")
    server.refresh_from_db()
    assert creds(server)["host_key"] == keys["host_key"]
    assert server.description == ""
    assert not AuditEntry.objects.filter(action="server.updated").exists()


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        actions.create_server(actor=None, name="x", usage={"memory_used_mb": 1})


def test_record_usage_of_this_machine(staff_user) -> None:
    server = actions.create_server(actor=None, name="local", roles=["web"])
    server = actions.record_usage(server, actor=staff_user)
    server.refresh_from_db()
    usage = server.usage
    assert usage["memory_total_mb"] > 0
    assert 0 <= usage["memory_used_mb"] <= usage["memory_total_mb"]
    assert usage["disk_total_gb"] > 0
    # The sites root does not exist here: the disk that will hold it is measured.
    assert Path(usage["disk_path"]).is_dir()
    assert usage["cpus"] >= 1
    assert usage["load"] >= 0
    assert server.usage_at is not None
    entry = AuditEntry.objects.get(action="server.usage_observed")
    assert after(entry)["cpus"] == usage["cpus"]


def test_record_usage_over_ssh(sshd: SSHServer, tmp_path: Path) -> None:
    (tmp_path / "sites").mkdir()
    server = actions.create_server(
        actor=None,
        name="distant",
        host_kind="ssh",
        address=sshd.host,
        port=sshd.port,
        ssh_user=sshd.user,
        private_key=sshd.private_key,
        host_key=sshd.host_key,
        layout={"sites_root": str(tmp_path / "sites")},
    )
    server = actions.record_usage(server)
    assert server.usage["disk_path"] == str(tmp_path / "sites")
    assert server.usage["memory_total_mb"] > 0


def test_record_usage_of_an_unreachable_server_stores_nothing(sshd: SSHServer, tmp_path) -> None:
    keygen(tmp_path / "other")
    server = actions.create_server(
        actor=None,
        name="distant",
        host_kind="ssh",
        address=sshd.host,
        port=sshd.port,
        ssh_user=sshd.user,
        private_key=sshd.private_key,
        host_key=(tmp_path / "other.pub").read_text(),
    )
    with pytest.raises(HostError, match="not the recorded one"):
        actions.record_usage(server)
    server.refresh_from_db()
    assert server.usage == {} and server.usage_at is None
    assert not AuditEntry.objects.filter(action="server.usage_observed").exists()
