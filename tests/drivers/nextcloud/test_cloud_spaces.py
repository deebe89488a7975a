"""A member's cloud space on a (stand-in) Nextcloud 27, made through `ronron apply`: its group,
its accounts with one-time credentials links, quotas shared out of an allowance, apps for the
group only; then quotas changed, suspended and resumed, a half-made account completed, a login
taken by someone else left alone, and the space exported before it is deleted."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command

from ronron.drivers.base import driver_for
from ronron.portal.exports import build_member_export
from ronron.reconcile.models import Run
from ronron.services.actions import (
    remove_service,
    resume_service,
    suspend_service,
    update_service_spec,
)
from ronron.services.models import Service
from tests.drivers.nextcloud.cloudkit import (
    GB,
    account,
    apply,
    links_sent_to,
    log_in,
    new_space,
    ocs_as_admin,
    password_from_link,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hoster")]

GROUP = "les-amis-du-velo"


def plan_of(service: Service) -> list[str]:
    service.refresh_from_db()
    driver = driver_for(service.kind)
    host = service.server.host()
    return [step.description for step in driver.plan(service, driver.observe(service, host))]


def test_a_space_gets_its_group_accounts_quotas_apps_and_credentials_links(
    nextcloud_standin, cloud_server, velo
):
    service = new_space(velo, cloud_server)
    assert service.slug == GROUP
    run = apply(cloud_server)
    assert run.status == Run.Status.SUCCEEDED, run.error

    standin = nextcloud_standin
    assert sorted(standin.group_members(GROUP)) == ["Eve", "camille", "dominique.petit"]
    camille = standin.user("camille")
    assert (camille["email"], camille["displayname"]) == ("camille@velo.example", "Camille Martin")
    # 30 Go: camille keeps her own 10 Go, the two others share the 20 Go left.
    assert [standin.user(u)["quota"]["quota"] for u in ("camille", "dominique.petit", "Eve")] == [
        10 * GB,
        10 * GB,
        10 * GB,
    ]
    # The apps the member asked for, for its group only; the others untouched.
    assert standin.app_enabled("calendar") == [GROUP]
    assert standin.app_enabled("deck") == [GROUP]
    assert standin.app_enabled("onlyoffice") == "no"

    # Each person got a one-time link, never the password; the link opens it once, and it
    # logs into Nextcloud. Ronron forgot it.
    for address in ("camille@velo.example", "dominique@velo.example", "eve@velo.example"):
        assert len(links_sent_to(address)) == 1
    for message in mail.outbox:
        assert "Password" not in message.body
    password = password_from_link("camille@velo.example")
    assert log_in(standin, "camille", password) == 200
    service.refresh_from_db()
    assert not any(key.startswith("account:") for key in service.credentials or {})

    # Observed as running; nothing left to do; the report counts three cloud accounts.
    assert service.observed_state == "present"
    assert plan_of(service) == []
    facts = service.observed["facts"]
    assert (facts["accounts"], facts["allowance"]) == (3, 30 * GB)
    report = Path(settings.DATA_DIR) / "report.json"
    call_command("report", str(date.today().year), "--format", "json", "--output", str(report))
    managed = json.loads(report.read_text())["managed"]
    assert (managed["cloud_spaces"], managed["cloud_accounts"]) == (1, 3)


def test_the_members_data_download_holds_its_cloud_accounts_and_files(
    nextcloud_standin, cloud_server, velo
):
    new_space(velo, cloud_server)
    apply(cloud_server)
    (Path(nextcloud_standin.data_dir) / "Eve" / "files" / "notes.txt").write_text("réunion")

    download = build_member_export(velo.pk)
    with zipfile.ZipFile(download) as bundle:
        (inner,) = [n for n in bundle.namelist() if n.endswith(".tar.gz") and "cloud-" in n]
        with tarfile.open(fileobj=io.BytesIO(bundle.read(inner))) as tar:
            listing = json.load(tar.extractfile("accounts.json"))  # type: ignore[arg-type]
            assert tar.extractfile("Eve/files/notes.txt").read() == "réunion".encode()  # type: ignore[union-attr]
    assert sorted(a["id"] for a in listing["accounts"]) == ["Eve", "camille", "dominique.petit"]
    # Nothing changed on the server, and nothing was left in the staging directory.
    assert sorted(nextcloud_standin.group_members(GROUP)) == ["Eve", "camille", "dominique.petit"]
    staging = Path(cloud_server.layout["nextcloud_staging"])
    assert not staging.exists() or not any(staging.iterdir())


def test_quotas_follow_the_allowance_and_usage_is_observed(nextcloud_standin, cloud_server, velo):
    service = new_space(velo, cloud_server)
    apply(cloud_server)
    nextcloud_standin.set_used("dominique.petit", 3 * GB)

    spec = dict(service.spec)
    spec["allowance"] = "50 Go"
    spec["accounts"] = [dict(a, quota=None) for a in spec["accounts"]]
    update_service_spec(service, actor=None, spec=spec)
    assert any("set the storage of camille" in step for step in plan_of(service))
    assert apply(cloud_server).status == Run.Status.SUCCEEDED

    # 50 Go in three: 16,6 Go each, a size Nextcloud keeps as it is (it rounds the quotas it
    # is given to a tenth of their unit): the shares never add up to more than the allowance,
    # and the next plan finds nothing to change.
    quotas = [
        nextcloud_standin.user(u)["quota"]["quota"] for u in ("camille", "dominique.petit", "Eve")
    ]
    assert quotas == [17824114278] * 3
    assert sum(quotas) <= 50 * GB
    assert plan_of(service) == []
    usage = {u["id"]: (u["used"], u["quota"]) for u in service.observed["facts"]["usage"]}
    assert usage["dominique.petit"] == (3 * GB, 17824114278)
    assert service.observed["facts"]["storage_used"] == 3 * GB


def test_suspension_disables_the_accounts_and_keeps_their_files(
    nextcloud_standin, cloud_server, velo
):
    service = new_space(velo, cloud_server)
    apply(cloud_server)
    files = Path(nextcloud_standin.data_dir) / "camille" / "files"
    (files / "compte-rendu.odt").write_bytes(b"AG 2026")

    suspend_service(service, actor=None)
    assert apply(cloud_server).status == Run.Status.SUCCEEDED
    for login in ("camille", "dominique.petit", "Eve"):
        assert nextcloud_standin.user(login)["enabled"] is False
    assert (files / "compte-rendu.odt").read_bytes() == b"AG 2026"
    service.refresh_from_db()
    assert service.observed_state == "suspended"

    resume_service(service, actor=None)
    assert apply(cloud_server).status == Run.Status.SUCCEEDED
    assert all(nextcloud_standin.user(u)["enabled"] for u in ("camille", "dominique.petit", "Eve"))
    # Resuming sends no new credentials: the accounts kept theirs.
    assert len(links_sent_to("camille@velo.example")) == 1


def test_an_account_taken_out_is_retired_then_deleted_with_the_space_after_its_export(
    nextcloud_standin, cloud_server, velo
):
    service = new_space(velo, cloud_server, apps=["deck"])
    apply(cloud_server)
    data = Path(nextcloud_standin.data_dir)
    (data / "Eve" / "files" / "photos.txt").write_text("vélo")
    (data / "camille" / "files" / "budget.ods").write_bytes(b"1234")

    spec = dict(service.spec)
    spec["accounts"] = [a for a in spec["accounts"] if a["id"] != "Eve"]
    service = update_service_spec(service, actor=None, spec=spec)
    assert service.spec["retired"] == ["Eve"]
    apply(cloud_server)
    assert nextcloud_standin.user("Eve")["enabled"] is False
    assert (data / "Eve" / "files" / "photos.txt").exists()

    # Someone added by hand to the group in Nextcloud is exported in the list, never deleted.
    ocs_as_admin(nextcloud_standin, "POST", "/users", userid="invite", password="Un-Invite-2026!")
    ocs_as_admin(nextcloud_standin, "POST", "/users/invite/groups", groupid=GROUP)

    remove_service(service, actor=None)
    run = apply(cloud_server)
    assert run.status == Run.Status.SUCCEEDED, run.error
    service.refresh_from_db()
    assert service.removed_at is not None
    archive = Path(service.archive_path)
    assert archive.is_relative_to(Path(settings.DATA_DIR) / "archives" / "A0101")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        listing = json.load(tar.extractfile("accounts.json"))  # type: ignore[arg-type]
        assert tar.extractfile("Eve/files/photos.txt").read() == "vélo".encode()  # type: ignore[union-attr]
    assert "camille/files/budget.ods" in names
    assert not any(name.startswith("invite") for name in names)
    assert {a["id"]: a["of_the_space"] for a in listing["accounts"]} == {
        "camille": True,
        "dominique.petit": True,
        "Eve": True,
        "invite": False,
    }
    for login in ("camille", "dominique.petit", "Eve"):
        assert nextcloud_standin.user(login) is None
        assert not (data / login).exists()
    assert nextcloud_standin.user("invite") is not None
    assert nextcloud_standin.group_members(GROUP) is None
    assert nextcloud_standin.app_enabled("deck") == "no"


def test_a_create_that_failed_half_way_is_completed_by_the_next_apply(
    nextcloud_standin, cloud_server, velo
):
    service = new_space(velo, cloud_server)
    # Nextcloud made the account, then failed before its quota, e-mail and group.
    nextcloud_standin.fail_create_after_user("dominique.petit")
    run = apply(cloud_server)
    assert run.status == Run.Status.FAILED
    half = nextcloud_standin.user("dominique.petit")
    assert half is not None and half["groups"] == [] and not half["email"]
    assert links_sent_to("dominique@velo.example") == []

    run = apply(cloud_server)
    assert run.status == Run.Status.SUCCEEDED, run.error
    made = nextcloud_standin.user("dominique.petit")
    assert made["groups"] == [GROUP]
    assert made["email"] == "dominique@velo.example"
    assert made["displayname"] == "Dominique Petit"
    assert made["quota"]["quota"] == 10 * GB
    # The password it was created with is the one handed over, once.
    assert len(links_sent_to("dominique@velo.example")) == 1
    password = password_from_link("dominique@velo.example")
    assert log_in(nextcloud_standin, "dominique.petit", password) == 200
    assert plan_of(service) == []
    assert sorted(nextcloud_standin.group_members(GROUP)) == ["Eve", "camille", "dominique.petit"]


def test_a_login_taken_by_someone_else_whatever_its_case_is_never_touched(
    nextcloud_standin, cloud_server, velo
):
    ocs_as_admin(
        nextcloud_standin,
        "POST",
        "/users",
        userid="Camille",
        password="Son-Propre-Compte-2026",
        email="camille@ailleurs.example",
    )
    service = new_space(velo, cloud_server)
    steps = plan_of(service)
    assert "the login camille is taken by another account: choose another one" in steps
    run = apply(cloud_server)
    assert run.status == Run.Status.FAILED
    failed = run.steps.get(status="failed")
    assert "already used on this Nextcloud by the account Camille" in failed.output
    other = nextcloud_standin.user("camille")
    assert (other["id"], other["email"], other["groups"]) == (
        "Camille",
        "camille@ailleurs.example",
        [],
    )
    assert links_sent_to("camille@velo.example") == []


def test_two_spaces_share_an_app_each_for_its_own_group(
    nextcloud_standin, cloud_server, velo, jardins
):
    new_space(velo, cloud_server, apps=["deck"])
    other = new_space(
        jardins, cloud_server, accounts=[account("chloe", "chloe@jardins.example")], apps=["deck"]
    )
    apply(cloud_server)
    assert sorted(nextcloud_standin.app_enabled("deck")) == ["jardins", GROUP]

    spec = dict(other.spec, apps=[])
    update_service_spec(other, actor=None, spec=spec)
    apply(cloud_server)
    assert nextcloud_standin.app_enabled("deck") == [GROUP]
