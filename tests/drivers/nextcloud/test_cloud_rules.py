"""What keeps a cloud safe: bad logins and quotas refused before any call, logins unique
whatever their case, the OnlyOffice licence, Ronron never locking itself out with refused
credentials, orphans shown and never deleted, and work groups that follow a roster."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from ronron.core.models import AuditEntry
from ronron.drivers.nextcloud.licences import licence_use
from ronron.fleet.actions import create_server
from ronron.fleet.nextcloud_access import access_of, set_nextcloud_access
from ronron.members import actions as members
from ronron.reconcile.engine import compute_plan
from ronron.reconcile.models import Run
from ronron.services.actions import request_service
from ronron.services.actions_cloud import set_licence
from ronron.services.actions_rosters import create_roster, follow_roster
from ronron.services.models import Service
from tests.drivers.nextcloud.cloudkit import (
    ADMIN_PASSWORD,
    account,
    apply,
    new_space,
    ocs_as_admin,
)


def plan_errors(server) -> str:
    return " ".join(error.message for error in compute_plan(server=server.name).errors)


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hoster")]


def refused(member, server, **spec_changes) -> dict[str, list[str]]:
    spec = {"allowance": "10 Go", "accounts": [account("camille", "c@velo.example")]}
    spec.update(spec_changes)
    with pytest.raises(ValidationError) as caught:
        request_service(member, actor=None, kind="cloud", server=server, spec=spec)
    return caught.value.message_dict


@pytest.mark.parametrize(
    ("login", "why"),
    [
        ("a/b", "cannot be a cloud login"),
        ("bad user!", "cannot be a cloud login"),
        (" camille", None),  # trimmed, accepted
        ("camille\nroot", "Line breaks and NUL characters are not allowed"),
        ("élodie", "cannot be a cloud login"),
        ("..", "cannot be a cloud login"),
        ("admin", "kept for the cloud's administrators"),
        ("", "cannot be a cloud login"),
    ],
)
def test_logins_outside_nextclouds_characters_are_refused_before_any_call(
    nextcloud_standin, cloud_server, velo, login, why
):
    before = len(nextcloud_standin.requests)
    if why is None:
        service = request_service(
            velo,
            actor=None,
            kind="cloud",
            server=cloud_server,
            spec={"allowance": "10 Go", "accounts": [account(login, "c@velo.example")]},
        )
        assert service.spec["accounts"][0]["id"] == login.strip()
    else:
        errors = refused(velo, cloud_server, accounts=[account(login, "c@velo.example")])
        assert why in " ".join(errors["spec"])
    assert len(nextcloud_standin.requests) == before
    assert Service.objects.filter(kind="cloud").count() == (1 if why is None else 0)


@pytest.mark.parametrize(
    ("allowance", "quota", "why"),
    [
        ("lots", None, "is not a size"),
        ("-5 Go", None, "is not a size"),
        ("0", None, "more than 0"),
        ("10 Go", "12 Go", "add up to more than the space's allowance"),
        ("10 Go", "beaucoup", "is not a size"),
        ("150 Mo", None, "less than 100 Mo"),
    ],
)
def test_sizes_that_do_not_parse_or_do_not_fit_are_refused_before_any_call(
    nextcloud_standin, cloud_server, velo, allowance, quota, why
):
    before = len(nextcloud_standin.requests)
    accounts = [account("camille", "c@velo.example", quota=quota), account("eve", "e@v.example")]
    errors = refused(velo, cloud_server, allowance=allowance, accounts=accounts)
    assert why in " ".join(errors["spec"])
    assert len(nextcloud_standin.requests) == before


def test_french_and_english_sizes_mean_the_same(velo, cloud_server):
    service = new_space(
        velo,
        cloud_server,
        allowance="1,5 To",
        accounts=[account("camille", "c@velo.example", quota="512 MB")],
    )
    assert service.spec["allowance"] == int(1.5 * 1024**4)
    assert service.spec["accounts"][0]["quota"] == 512 * 1024**2


def test_logins_are_unique_on_a_server_whatever_their_case(cloud_server, velo, jardins):
    errors = refused(
        velo,
        cloud_server,
        accounts=[account("Camille", "a@v.example"), account("camille", "b@v.example")],
    )
    assert "are the same login for the cloud (case is ignored)" in " ".join(errors["spec"])

    new_space(velo, cloud_server, accounts=[account("camille", "c@velo.example")])
    with pytest.raises(ValidationError) as caught:
        new_space(jardins, cloud_server, accounts=[account("CAMILLE", "c@jardins.example")])
    assert "the login CAMILLE is used by Les Amis du Vélo" in str(caught.value)


def test_onlyoffice_seats_are_counted_and_never_exceeded(cloud_server, velo, jardins):
    set_licence(actor=None, app="onlyoffice", seats=4, note="Le PIC 2026")
    new_space(
        velo,
        cloud_server,
        accounts=[account(f"v{i}", f"v{i}@velo.example") for i in range(3)],
        apps=["onlyoffice"],
    )
    (use,) = licence_use()
    assert (use.seats, use.members, use.accounts, use.free) == (4, 1, 3, 1)

    with pytest.raises(ValidationError) as caught:
        new_space(
            jardins,
            cloud_server,
            accounts=[account(f"j{i}", f"j{i}@jardins.example") for i in range(2)],
            apps=["onlyoffice"],
        )
    assert "licensed for 4 accounts: 3 have it already and this space asks for 2" in str(
        caught.value
    )
    # Without OnlyOffice, or within the seats left, the space is fine.
    new_space(
        jardins,
        cloud_server,
        accounts=[account("j0", "j0@jardins.example")],
        apps=["onlyoffice", "deck"],
    )
    (use,) = licence_use()
    assert (use.members, use.accounts, use.free) == (2, 4, 0)


def test_refused_credentials_are_never_tried_again(nextcloud_standin, cloud_server, velo):
    new_space(velo, cloud_server)
    set_nextcloud_access(
        cloud_server,
        actor=None,
        url=nextcloud_standin.url,
        user="admin",
        password="plus-le-bon-mot-de-passe",
        check=False,
    )
    before = len(nextcloud_standin.requests)
    assert "refused Ronron's login" in plan_errors(cloud_server)
    assert access_of(cloud_server).refused_at
    refusals = [r for r in nextcloud_standin.requests[before:] if r[3] == 401]
    assert len(refusals) == 1

    # Every later apply stops before asking Nextcloud anything.
    seen = len(nextcloud_standin.requests)
    for _attempt in range(3):
        assert "give a new app password" in plan_errors(cloud_server)
        apply(cloud_server)
    assert len(nextcloud_standin.requests) == seen

    # A new password (checked once) lifts the stop.
    with pytest.raises(ValidationError):
        set_nextcloud_access(
            cloud_server,
            actor=None,
            url=nextcloud_standin.url,
            user="admin",
            password="toujours-pas-le-bon",
        )
    assert access_of(cloud_server).refused_at
    set_nextcloud_access(
        cloud_server,
        actor=None,
        url=nextcloud_standin.url,
        user="admin",
        password=ADMIN_PASSWORD,
    )
    assert apply(cloud_server).status == Run.Status.SUCCEEDED
    assert nextcloud_standin.group_members("les-amis-du-velo") is not None


def test_accounts_and_groups_no_space_claims_are_shown_never_deleted(
    nextcloud_standin, cloud_server, velo, capsys
):
    new_space(velo, cloud_server)
    ocs_as_admin(nextcloud_standin, "POST", "/groups", groupid="ancien-projet")
    ocs_as_admin(
        nextcloud_standin,
        "POST",
        "/users",
        userid="lucie",
        password="Le-Compte-De-Lucie-26",
        email="lucie@ailleurs.example",
    )
    apply(cloud_server)
    capsys.readouterr()
    call_command("orphans", "--server", cloud_server.name, "--format", "json")
    found = json.loads(capsys.readouterr().out)
    names = {(o["resource"], o["name"]) for o in found}
    assert names == {("group", "ancien-projet"), ("account", "lucie")}
    apply(cloud_server)
    assert nextcloud_standin.user("lucie") is not None
    assert nextcloud_standin.group_members("ancien-projet") == []


def test_a_work_group_follows_its_roster(nextcloud_standin, cloud_server, velo, jardins):
    new_space(
        velo,
        cloud_server,
        accounts=[
            account("camille", "camille@velo.example"),
            account("bruno", "bruno@velo.example"),
        ],
    )
    new_space(jardins, cloud_server, accounts=[account("chloe", "chloe@jardins.example")])
    roster = create_roster(actor=None, name="Tous les adhérents", source="members")
    group = request_service(
        velo, actor=None, kind="cloudgroup", server=cloud_server, spec={"name": "Inter-assos"}
    )
    follow_roster(group, roster, actor=None)
    assert apply(cloud_server).status == Run.Status.SUCCEEDED
    group.refresh_from_db()
    # The roster holds camille@ and chloe@ (contacts); bruno has an account but is no contact.
    assert sorted(nextcloud_standin.group_members(group.slug)) == ["camille", "chloe"]

    # Joining the roster adds the account; leaving it takes the account out.
    members.add_contact(velo, actor=None, name="Bruno", email="Bruno@Velo.example")
    assert sorted(nextcloud_standin.group_members(group.slug)) == ["bruno", "camille", "chloe"]
    members.remove_contact(jardins.contacts.get(email="chloe@jardins.example"), actor=None)
    assert sorted(nextcloud_standin.group_members(group.slug)) == ["bruno", "camille"]
    # The accounts themselves are untouched.
    assert nextcloud_standin.user("chloe")["enabled"] is True


def test_the_servers_command_checks_and_stores_the_nextcloud_login(nextcloud_standin, tmp_path):
    server = create_server(actor=None, name="nuage2", roles=["cloud"])
    with pytest.raises(CommandError) as caught:
        call_command(
            "servers", "nextcloud", "nuage2", "--url", nextcloud_standin.url, "--user", "admin",
            stdin=io.StringIO("pas-le-bon\n"),
        )  # fmt: skip
    assert "Nextcloud refused this login and password." in str(caught.value)
    assert access_of(server) is None

    out = io.StringIO()
    call_command(
        "servers", "nextcloud", "nuage2", "--url", nextcloud_standin.url + "/", "--user", "admin",
        stdin=io.StringIO(ADMIN_PASSWORD + "\n"), stdout=out,
    )  # fmt: skip
    assert "now logs into the Nextcloud of nuage2 as admin" in out.getvalue()
    access = access_of(server)
    assert (access.url, access.user, access.password) == (
        nextcloud_standin.url,
        "admin",
        ADMIN_PASSWORD,
    )
    # The password never reaches the audit log.
    assert ADMIN_PASSWORD not in json.dumps(list(AuditEntry.objects.values("before", "after")))

    with pytest.raises(CommandError) as caught:
        call_command(
            "servers", "nextcloud", "nuage2", "--url", "ftp://admin:x@cloud.example", "--user", "a",
            stdin=io.StringIO("x"),
        )  # fmt: skip
    assert "no login in it" in str(caught.value)
