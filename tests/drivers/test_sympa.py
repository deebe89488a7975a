"""Mailing lists on a real Sympa (Debian's package, a private instance per test session):
lists made through `ronron apply`, following a roster Ronron serves on loopback, kept in step
when members come and go, closed and reopened, exported then purged; bad input refused."""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import tarfile
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command

from ronron.drivers.base import driver_for
from ronron.fleet.actions import create_server, update_server
from ronron.members import actions as members
from ronron.services.actions import (
    remove_service,
    request_service,
    resume_service,
    suspend_service,
)
from ronron.services.actions_rosters import create_roster, follow_roster
from ronron.services.models import RosterSync, Service
from tests.stack.sympa import SympaServer

pytestmark = pytest.mark.django_db(transaction=True)

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
OWNER = "camille@example.org"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    # A change to the member file reaches the lists at once (the worker's job, run inline).
    settings.TASKS = IMMEDIATE
    return settings.DATA_DIR


@pytest.fixture
def robot(sympa_server: SympaServer) -> str:
    """A list domain of its own for each test (created by Ronron, not by the stack)."""
    return f"listes-{secrets.token_hex(3)}.example.org"


@pytest.fixture
def lists_server(sympa_server: SympaServer, live_server):
    layout = {
        "sympa_env": [f"SYMPA_CONFIG={sympa_server.config}"],
        "sympa_etc": str(sympa_server.etc_dir),
        "sympa_list_data": str(sympa_server.list_data),
        "sympa_arc": str(sympa_server.arc_dir),
        "sympa_database": str(sympa_server.database),
        "sympa_staging": str(sympa_server.base / "staging"),
        "ronron_url": live_server.url,
    }
    return create_server(actor=None, name="listes1", roles=["lists"], layout=layout)


@pytest.fixture
def association():
    member = members.create_member(
        actor=None,
        number="A0101",
        kind="association",
        name="Les Amis du Vélo",
        joined_on=date(2020, 1, 1),
    )
    members.add_contact(member, actor=None, name="Alice Martin", email="alice@velo.example")
    members.add_contact(member, actor=None, name="Bob Durand", email="Bob@Velo.example")
    return member


@pytest.fixture
def other_association():
    member = members.create_member(
        actor=None, number="A0102", kind="association", name="Jardins", joined_on=date(2021, 1, 1)
    )
    members.add_contact(member, actor=None, name="Chloé", email="chloe@jardins.example")
    return member


def new_list(member, server, address: str, **spec) -> Service:
    return request_service(
        member,
        actor=None,
        kind="list",
        domain=address,
        server=server,
        spec={"subject": "Liste des adhérents", "owners": [OWNER], **spec},
    )


def apply(server) -> None:
    call_command("apply", "--server", server.name, "--yes")


def subscribers(sympa: SympaServer, address: str) -> set[str]:
    name, robot = address.split("@")
    return sympa.members(name, robot)


def last_sync(service: Service) -> RosterSync:
    return RosterSync.objects.filter(service=service).order_by("-started_at", "-id").first()


def test_a_list_follows_its_roster_as_members_come_and_go(
    sympa_server, lists_server, robot, association, other_association
):
    roster = create_roster(actor=None, name="Tous les adhérents", source="members")
    service = new_list(association, lists_server, f"Adherents@{robot.upper()}")
    assert service.domain == f"adherents@{robot}"
    follow_roster(service, roster, actor=None)
    apply(lists_server)

    service.refresh_from_db()
    assert service.observed_state == "present"
    assert (sympa_server.list_dir("adherents", robot) / "config").is_file()
    assert subscribers(sympa_server, service.domain) == {
        "alice@velo.example",
        "bob@velo.example",
        "chloe@jardins.example",
    }
    assert last_sync(service).outcome == RosterSync.Outcome.OK

    # A new contact appears, a removed one disappears, a departed member's contacts leave.
    members.add_contact(other_association, actor=None, name="Dan", email="dan@jardins.example")
    assert "dan@jardins.example" in subscribers(sympa_server, service.domain)
    members.remove_contact(association.contacts.get(email="bob@velo.example"), actor=None)
    assert "bob@velo.example" not in subscribers(sympa_server, service.domain)
    members.record_departure(other_association, actor=None, on=date.today())
    assert subscribers(sympa_server, service.domain) == {"alice@velo.example"}
    assert last_sync(service).outcome == RosterSync.Outcome.OK
    assert "removed" in last_sync(service).message

    # A subscriber writes to the list: Sympa distributes it (mail captured, not sent).
    sympa_server.clear_mail()
    sympa_server.submit(
        "adherents",
        robot,
        f"From: Alice <alice@velo.example>\r\nTo: {service.domain}\r\n"
        "Subject: Sortie du samedi\r\nMessage-ID: <sortie@velo.example>\r\n\r\n"
        "Rendez-vous à 9 h.\r\n".encode(),
    )
    sympa_server.run_daemons_until_idle()
    assert any("Sortie du samedi" in str(m["Subject"]) for m in sympa_server.captured_mail())

    # Nothing left to do: the plan is empty and a sync without a change asks nothing of Sympa.
    apply(lists_server)
    driver = driver_for("list")
    host = lists_server.host()
    service.refresh_from_db()
    observed = driver.observe(service, host)
    assert observed.state == "present"
    assert driver.plan(service, observed) == []
    assert observed.facts["subscribers"] == 1
    assert observed.facts["messages_per_day"] == round(1 / 30, 2)  # one message in 30 days

    # The general-assembly report counts the list and its subscribers as Sympa has them.
    report = Path(settings.DATA_DIR) / "report.json"
    call_command("report", str(date.today().year), "--format", "json", "--output", str(report))
    managed = json.loads(report.read_text())["managed"]
    assert (managed["lists"], managed["list_addresses"]) == (1, 1)


def test_subscribers_are_kept_when_ronron_cannot_be_reached(
    sympa_server, lists_server, robot, association
):
    roster = create_roster(actor=None, name="Tous les adhérents", source="members")
    service = new_list(association, lists_server, f"adherents@{robot}")
    follow_roster(service, roster, actor=None)
    apply(lists_server)
    assert len(subscribers(sympa_server, service.domain)) == 2

    # Ronron moved and the list server cannot reach it; a contact leaves meanwhile.
    live = lists_server.layout["ronron_url"]
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        unreachable = f"http://127.0.0.1:{closed.getsockname()[1]}"
    update_server(
        lists_server, actor=None, layout={**lists_server.layout, "ronron_url": unreachable}
    )
    apply(lists_server)
    record = last_sync(service)
    assert record.outcome == RosterSync.Outcome.FAILED
    assert "2 subscribers kept" in record.message

    members.remove_contact(association.contacts.get(email="alice@velo.example"), actor=None)
    assert last_sync(service).outcome == RosterSync.Outcome.FAILED
    assert subscribers(sympa_server, service.domain) == {
        "alice@velo.example",
        "bob@velo.example",
    }

    # Ronron is back: the next apply brings the list in step.
    update_server(lists_server, actor=None, layout={**lists_server.layout, "ronron_url": live})
    apply(lists_server)
    assert subscribers(sympa_server, service.domain) == {"bob@velo.example"}


def test_a_list_without_roster_keeps_its_own_subscribers(
    sympa_server, lists_server, robot, association
):
    roster = create_roster(actor=None, name="Tous les adhérents", source="members")
    followed = new_list(association, lists_server, f"adherents@{robot}")
    follow_roster(followed, roster, actor=None)
    own = new_list(association, lists_server, f"bureau@{robot}", type="private_working_group")
    apply(lists_server)
    added = sympa_server.run("add", "--quiet", f"bureau@{robot}", input="zoe@elsewhere.example\n")
    assert added.returncode == 0, added.stderr

    members.add_contact(association, actor=None, name="Eve", email="eve@velo.example")
    assert "eve@velo.example" in subscribers(sympa_server, followed.domain)
    assert subscribers(sympa_server, own.domain) == {"zoe@elsewhere.example"}
    assert not RosterSync.objects.filter(service=own).exists()
    apply(lists_server)
    assert subscribers(sympa_server, own.domain) == {"zoe@elsewhere.example"}


def test_close_and_reopen_keep_the_subscribers_and_catch_up_with_the_roster(
    sympa_server, lists_server, robot, association
):
    roster = create_roster(actor=None, name="Tous les adhérents", source="members")
    service = new_list(association, lists_server, f"adherents@{robot}")
    follow_roster(service, roster, actor=None)
    apply(lists_server)

    suspend_service(service, actor=None)
    apply(lists_server)
    service.refresh_from_db()
    assert service.observed_state == "suspended"
    config = (sympa_server.list_dir("adherents", robot) / "config").read_text()
    assert "status closed" in config
    # A closed list is never synchronised (Sympa would put members back in its database).
    members.add_contact(association, actor=None, name="Eve", email="eve@velo.example")
    assert subscribers(sympa_server, service.domain) == set()

    resume_service(service, actor=None)
    apply(lists_server)
    service.refresh_from_db()
    assert service.observed_state == "present"
    assert subscribers(sympa_server, service.domain) == {
        "alice@velo.example",
        "bob@velo.example",
        "eve@velo.example",
    }


def test_removal_exports_subscribers_and_archives_before_the_purge(
    sympa_server, lists_server, robot, association
):
    roster = create_roster(actor=None, name="Tous les adhérents", source="members")
    service = new_list(association, lists_server, f"adherents@{robot}")
    follow_roster(service, roster, actor=None)
    apply(lists_server)
    # An archived message, as Sympa's archiver (running as the sympa user) leaves it.
    top = sympa_server.arc_dir / f"adherents@{robot}"
    archived = top / "2026-11" / "arctxt"
    archived.mkdir(parents=True)
    (archived / "1").write_text("Subject: Assemblée générale\n\nRendez-vous samedi.\n")
    for path in [top, *top.rglob("*")]:
        shutil.chown(path, "sympa", "sympa")

    remove_service(service, actor=None)
    apply(lists_server)
    service.refresh_from_db()
    assert service.removed_at is not None
    assert not sympa_server.list_dir("adherents", robot).exists()
    assert not (sympa_server.arc_dir / f"adherents@{robot}").exists()
    archive = Path(service.archive_path)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        dump = tar.extractfile("adherents/member.dump").read().decode()
        message = tar.extractfile(f"adherents@{robot}/2026-11/arctxt/1").read().decode()
    assert "adherents/config" in names
    assert "alice@velo.example" in dump and "bob@velo.example" in dump
    assert "Rendez-vous samedi." in message


def test_lists_no_service_claims_are_shown_as_orphans(
    sympa_server, lists_server, robot, association, capsys
):
    new_list(association, lists_server, f"adherents@{robot}")
    apply(lists_server)
    request = sympa_server.base / f"oubliee@{robot}.xml"
    request.write_text(_xml("oubliee"), encoding="utf-8")
    made = sympa_server.run("create", f"--input_file={request}", robot)
    assert made.returncode == 0, made.stderr
    capsys.readouterr()
    call_command("orphans", "--server", lists_server.name)
    shown = capsys.readouterr().out
    assert f"oubliee@{robot}" in shown
    assert f"adherents@{robot}" not in shown
    assert (sympa_server.list_dir("oubliee", robot) / "config").is_file()


def _xml(name: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><list>'
        f"<listname>{name}</listname><type>discussion_list</type><subject>x</subject>"
        f'<status>open</status><topics>other</topics><owner multiple="1"><email>{OWNER}</email>'
        "</owner></list>"
    )


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("adherents", "Enter the list's address"),
        ("bad name@listes.example.org", "cannot be a list name"),
        ("sympa@listes.example.org", "reserved by Sympa"),
        ("info-request@listes.example.org", "reserved by Sympa"),
        ("adherents@listes_example", "not a valid domain name"),
        ("adherents\r\n@listes.example.org", "Line breaks"),
        ("", "Enter the list's address"),
    ],
)
def test_bad_list_addresses_are_refused_clearly(lists_server, association, address, message):
    with pytest.raises(ValidationError) as refused:
        new_list(association, lists_server, address)
    assert message in " ".join(refused.value.messages)
    assert not Service.objects.filter(kind="list").exists()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"owners": ["pas-une-adresse"]}, "not a valid e-mail address"),
        ({"owners": []}, "at least one owner"),
        ({"subject": "Adhérents\r\nBcc: x@y.example"}, "Line breaks"),
        ({"subject": ""}, "needs a subject"),
        ({"type": "rm -rf"}, "Unknown type of list"),
        ({"color": "red"}, "Unknown setting"),
    ],
)
def test_bad_list_settings_are_refused_clearly(lists_server, association, spec, message, robot):
    with pytest.raises(ValidationError) as refused:
        new_list(association, lists_server, f"adherents@{robot}", **spec)
    assert message in " ".join(refused.value.messages)
