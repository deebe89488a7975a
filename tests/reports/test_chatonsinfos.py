"""The CHATONS statistics files: served publicly under /.well-known/chatonsinfos/ and written
by ``ronron chatonsinfos``, both computed from the services the hoster really offers."""

from __future__ import annotations

import dataclasses
import io
from datetime import date, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from ronron.fleet.actions import create_server
from ronron.members import actions as member_actions
from ronron.reports.chatonsinfos import parse_properties
from ronron.services import actions

pytestmark = pytest.mark.django_db

BASE = "http://testserver/.well-known/chatonsinfos/"

ORGANIZATION = {
    "description": "Hébergeur associatif toulousain",
    "website": "https://lepic.example.org/",
    "logo": "https://lepic.example.org/logo.png",
    "email": "contact@lepic.example.org",
    "contact_url": "https://lepic.example.org/contact",
    "legal_url": "https://lepic.example.org/mentions-legales",
    "guide_user": "https://doc.lepic.example.org/",
    "guide_technical": "https://doc.lepic.example.org/technique",
    "type": "ASSOCIATION",
    "start_date": "2013-03-15",
    "chatons_start_date": "2016-10-08",
    "country_code": "FR",
    "host_name": "Tetaneutral.net",
    "host_provider_type": "HOSTEDBAY",
    "host_server_type": "VIRTUAL",
}


@pytest.fixture(autouse=True)
def hoster(settings):
    settings.RONRON = dataclasses.replace(
        settings.RONRON, hoster_name="Le PIC", organization=dict(ORGANIZATION)
    )


@pytest.fixture
def member():
    return member_actions.create_member(
        actor=None,
        number="A0202",
        kind="association",
        name="Les Amis du Vélo",
        joined_on=date(2020, 1, 1),
    )


@pytest.fixture
def web1():
    return create_server(actor=None, name="web1", roles=["web"], memory_mb=4096, disk_gb=100)


@pytest.fixture
def offer(member, web1):
    """A WordPress site and a static site made by Ronron, a mailing list recorded as external."""
    return {
        "wordpress": actions.request_service(
            member, actor=None, kind="wordpress", domain="velo.example.org", server=web1
        ),
        "static": actions.request_service(
            member, actor=None, kind="static", domain="static.velo.example.org", server=web1
        ),
        "list": actions.record_external_service(member, actor=None, kind="list", family=""),
    }


def fetch(client: Client, path: str) -> dict[str, str]:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    return parse_properties(response.content.decode("utf-8"))


def test_the_organization_file_says_what_the_configuration_says(client, offer):
    org = fetch(client, "/.well-known/chatonsinfos/organization.properties")
    assert org["file.class"] == "organization"
    assert org["file.protocol"] == "ChatonsInfos-0.5"
    assert org["file.generator"] == "Ronron"
    assert datetime.strptime(org["file.datetime"], "%Y-%m-%dT%H:%M:%S")
    assert org["organization.name"] == "Le PIC"
    assert org["organization.description"] == "Hébergeur associatif toulousain"
    assert org["organization.website"] == "https://lepic.example.org/"
    assert org["organization.logo"] == "https://lepic.example.org/logo.png"
    assert org["organization.contact.email"] == "contact@lepic.example.org"
    assert org["organization.contact.url"] == "https://lepic.example.org/contact"
    assert org["organization.legal.url"] == "https://lepic.example.org/mentions-legales"
    assert org["organization.guide.user"] == "https://doc.lepic.example.org/"
    assert org["organization.guide.technical"] == "https://doc.lepic.example.org/technique"
    assert org["organization.type"] == "ASSOCIATION"
    assert org["organization.status.level"] == "ACTIVE"
    assert org["organization.startdate"] == "15/03/2013"
    assert org["organization.enddate"] == ""
    assert (org["organization.country.code"], org["organization.country.name"]) == ("FR", "France")
    assert org["organization.memberof.chatons.status.level"] == "ACTIVE"
    assert org["organization.memberof.chatons.startdate"] == "08/10/2016"


def test_every_sub_points_to_a_service_file_that_is_served(client, offer):
    org = fetch(client, "/.well-known/chatonsinfos/organization.properties")
    subs = {key: value for key, value in org.items() if key.startswith("subs.")}
    assert subs == {
        f"subs.{kind}": f"{BASE}{kind}.properties" for kind in ("list", "static", "wordpress")
    }
    for url in subs.values():
        service = fetch(client, url.removeprefix("http://testserver"))
        assert service["file.class"] == "service"
        assert service["file.protocol"] == "ChatonsInfos-0.5"


def test_a_service_file_describes_the_software_and_the_host(client, offer):
    wordpress = fetch(client, "/.well-known/chatonsinfos/wordpress.properties")
    assert wordpress["service.name"] == "WordPress site"
    assert "Le PIC" in wordpress["service.description"]
    assert wordpress["service.startdate"] == timezone.localdate().strftime("%d/%m/%Y")
    assert wordpress["service.status.level"] == "OK"
    assert wordpress["service.registration"] == "Member"
    assert wordpress["service.registration.load"] == "OPEN"
    assert wordpress["service.install.type"] == "DISTRIBUTION"
    assert wordpress["service.legal.url"] == "https://lepic.example.org/mentions-legales"
    assert wordpress["software.name"] == "WordPress"
    assert wordpress["software.website"] == "https://wordpress.org/"
    assert wordpress["software.license.name"] == "GPL-2.0-or-later"
    assert wordpress["host.name"] == "Tetaneutral.net"
    assert wordpress["host.server.distribution"] == "Debian"
    assert wordpress["host.server.type"] == "VIRTUAL"
    assert wordpress["host.provider.type"] == "HOSTEDBAY"
    assert (wordpress["host.country.code"], wordpress["host.country.name"]) == ("FR", "France")
    static = fetch(client, "/.well-known/chatonsinfos/static.properties")
    assert (static["software.name"], static["software.license.name"]) == ("nginx", "BSD-2-Clause")
    # Only a service Ronron opened dates the offer: a recorded one was opened elsewhere, earlier.
    lists = fetch(client, "/.well-known/chatonsinfos/list.properties")
    assert (lists["software.name"], lists["service.startdate"]) == ("Sympa", "")


def test_empty_values_are_written_present_and_empty(client, offer):
    text = client.get("/.well-known/chatonsinfos/wordpress.properties").content.decode()
    lines = text.splitlines()
    assert "service.enddate = " in lines
    assert "# [Service]" in lines and "# [Software]" in lines and "# [Host]" in lines


def test_services_known_by_their_family_only_have_the_familys_file(client, member):
    actions.record_external_service(member, actor=None, kind="", family="web")
    web = fetch(client, "/.well-known/chatonsinfos/web.properties")
    assert web["software.name"] == "Web sites"
    assert web["software.license.name"] == ""


def test_a_removed_service_kind_disappears(client, offer):
    actions.remove_service(offer["static"], actor=None)
    org = fetch(client, "/.well-known/chatonsinfos/organization.properties")
    assert "subs.static" not in org and "subs.wordpress" in org
    assert client.get("/.well-known/chatonsinfos/static.properties").status_code == 404
    actions.record_removal(offer["wordpress"], archive_path="/var/archives/velo.tar.gz")
    org = fetch(client, "/.well-known/chatonsinfos/organization.properties")
    assert [key for key in org if key.startswith("subs.")] == ["subs.list"]


def test_a_suspended_service_is_still_offered(client, offer):
    actions.suspend_service(offer["static"], actor=None)
    assert client.get("/.well-known/chatonsinfos/static.properties").status_code == 200


def test_values_with_line_breaks_and_backslashes_read_back_as_written(client, settings, offer):
    awkward = "Première ligne\nC:\\chemin\\n pas une fin de ligne\r\nfin\u2028\x85\x00 "
    settings.RONRON = dataclasses.replace(
        settings.RONRON,
        hoster_name=" Le PIC",
        organization={**ORGANIZATION, "description": awkward},
    )
    text = client.get("/.well-known/chatonsinfos/organization.properties").content.decode()
    assert all(line.startswith(("#", "subs.", "file.", "organization.")) or not line
               for line in text.splitlines())  # fmt: skip
    org = parse_properties(text)
    assert org["organization.description"] == awkward
    assert org["organization.name"] == " Le PIC"


def test_the_listing_gives_every_file_address(client, offer):
    response = client.get("/.well-known/chatonsinfos/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().splitlines() == [
        f"{BASE}{name}.properties" for name in ("organization", "list", "static", "wordpress")
    ]


@pytest.mark.parametrize(
    "path", ["pad.properties", "Wordpress.properties", "..%2Fsecret.properties", "web.txt"]
)
def test_unknown_files_are_not_found(client, offer, path):
    assert client.get(f"/.well-known/chatonsinfos/{path}").status_code == 404


def test_no_login_is_needed_head_works_and_nothing_else(offer):
    client = Client(enforce_csrf_checks=True)
    assert "_auth_user_id" not in client.session
    head = client.head("/.well-known/chatonsinfos/wordpress.properties")
    assert head.status_code == 200
    assert head["Content-Type"] == "text/plain; charset=utf-8"
    for path in ("", "organization.properties", "wordpress.properties"):
        for method in (client.post, client.put, client.delete):
            response = method(f"/.well-known/chatonsinfos/{path}")
            assert response.status_code == 405
            assert response["Allow"] == "GET, HEAD"


def without_datetime(text: str) -> dict[str, str]:
    values = parse_properties(text)
    del values["file.datetime"]
    return values


def chatonsinfos(*args: str) -> str:
    out = io.StringIO()
    call_command("chatonsinfos", *args, stdout=out)
    return out.getvalue()


def test_the_command_writes_what_the_console_serves(client, offer, tmp_path):
    target = tmp_path / "public" / "chatonsinfos"
    out = chatonsinfos("--output-dir", str(target), "--base-url", BASE)
    names = ["organization", "list", "static", "wordpress"]
    assert out.splitlines() == [str(target / f"{name}.properties") for name in names]
    assert sorted(path.name for path in target.iterdir()) == sorted(
        f"{name}.properties" for name in names
    )
    for name in names:
        served = client.get(f"/.well-known/chatonsinfos/{name}.properties").content.decode()
        written = (target / f"{name}.properties").read_text(encoding="utf-8")
        assert without_datetime(written) == without_datetime(served), name
        assert (target / f"{name}.properties").stat().st_mode & 0o777 == 0o644


def test_the_command_replaces_its_files_and_leaves_others_alone(offer, tmp_path):
    (tmp_path / "index.html").write_text("la page du site")
    chatonsinfos("--output-dir", str(tmp_path), "--base-url", "https://lepic.example.org/ci")
    actions.remove_service(offer["static"], actor=None)
    chatonsinfos("--output-dir", str(tmp_path), "--base-url", "https://lepic.example.org/ci")
    org = parse_properties((tmp_path / "organization.properties").read_text())
    assert org["subs.wordpress"] == "https://lepic.example.org/ci/wordpress.properties"
    assert "subs.static" not in org
    assert (tmp_path / "index.html").read_text() == "la page du site"
    # A file no longer listed is left for the hoster to delete; no temporary file is left.
    assert (tmp_path / "static.properties").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "base_url",
    ["ftp://example.org/", "example.org/chatonsinfos/", "https://example.org/\nX: y", ""],
)
def test_the_command_refuses_a_bad_base_url(tmp_path, base_url):
    with pytest.raises(CommandError, match="--base-url"):
        chatonsinfos("--output-dir", str(tmp_path / "out"), "--base-url", base_url)
    assert not (tmp_path / "out").exists()


def test_the_command_says_when_it_cannot_write(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(CommandError, match="Cannot write into"):
        chatonsinfos("--output-dir", str(blocker / "sub"), "--base-url", BASE)


def test_files_are_in_the_sites_language_whatever_the_visitor_asks(client, settings, offer):
    settings.LANGUAGE_CODE = "fr"
    wordpress = fetch(client, "/.well-known/chatonsinfos/wordpress.properties")
    assert wordpress["service.name"] == "Site WordPress"
    response = client.get(
        "/.well-known/chatonsinfos/wordpress.properties", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert parse_properties(response.content.decode())["service.name"] == "Site WordPress"


def test_files_written_elsewhere_read_back():
    text = (
        "# [Organisation]\r\n"
        "! old-style comment\r\n"
        "organization.name=Le PIC\r\n"
        "   organization.description   =   un \\n\r\n"
        "organization.enddate =\r\n"
        "organization.website = https://lepic.example.org/?a=b\r\n"
    )
    assert parse_properties(text) == {
        "organization.name": "Le PIC",
        "organization.description": "un \n",
        "organization.enddate": "",
        "organization.website": "https://lepic.example.org/?a=b",
    }
