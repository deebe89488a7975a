""" "Download all our data": a job builds one zip (member file as JSON and CSV, each managed
service's export by its driver), verified and checksummed; only the member's managers (and
staff) may download it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.fleet.models import Server
from ronron.jobs.models import Job
from ronron.portal.exports import build_member_export, verify_export
from ronron.services.models import Service
from tests.portal.conftest import IMMEDIATE

pytestmark = pytest.mark.django_db


@pytest.fixture
def static_sites(tmp_path, tenant_a):
    """A real static site of A on this machine (files only: an export needs no web server),
    and one whose files are missing, so that its export fails."""
    sites = tmp_path / "sites"
    server = Server.objects.create(
        name="web-local", host_kind="local", roles="web", layout={"sites_root": str(sites)}
    )
    htdocs = sites / "amis-blog" / "htdocs"
    htdocs.mkdir(parents=True)
    (htdocs / "index.html").write_text("<p>Balade le 12 mai</p>")
    good = Service.objects.create(
        member=tenant_a.member,
        kind="static",
        family="web",
        managed=True,
        server=server,
        slug="amis-blog",
        domain="blog.amis-velo.example.org",
    )
    missing = Service.objects.create(
        member=tenant_a.member,
        kind="static",
        family="web",
        managed=True,
        server=server,
        slug="amis-vide",
        domain="vide.amis-velo.example.org",
    )
    return good, missing


def start_export(client, number: str = "A0202") -> Job:
    response = client.post(reverse("portal:data", args=[number]))
    assert response.status_code == 302
    return Job.objects.filter(kind="portal.member_export").latest("pk")


def download(client, job: Job, number: str = "A0202"):
    return client.get(reverse("portal:data_download", args=[number, job.pk]))


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def read_csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(f"csv/{name}.csv").decode())))


@override_settings(TASKS=IMMEDIATE)
def test_the_export_holds_the_member_own_data_in_open_formats(
    manager_a, tenant_a, tenant_b, static_sites
):
    good, _missing = static_sites
    job = start_export(manager_a)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.created_by == tenant_a.manager

    page = manager_a.get(reverse("portal:data", args=["A0202"])).content.decode()
    link = reverse("portal:data_download", args=["A0202", job.pk])
    assert link in page and "Download the file" in page

    response = download(manager_a, job)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="A0202-')
    data = body(response)
    digest = hashlib.sha256(data).hexdigest()
    assert job.result["sha256"] == digest and digest in page
    for secret in [tenant_b.member.number, *tenant_b.secrets]:
        assert secret.encode() not in data

    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    document = json.loads(archive.read("member.json"))
    assert [m["number"] for m in document["member"]] == ["A0202"]
    assert {c["email"] for c in document["contacts"]} == {
        tenant_a.contact.email,
        tenant_a.other_contact.email,
    }
    assert sorted(m["year"] for m in document["memberships"]) == [
        tenant_a.membership.year - 1,
        tenant_a.membership.year,
    ]
    assert {s["domain"] for s in document["services"]} >= {
        "site.amis-velo.example.org",
        "blog.amis-velo.example.org",
    }
    assert [r["domain"] for r in document["service_requests"]] == ["nouveau.amis-velo.example.org"]
    assert [h["subject"] for h in document["help_requests"]] == ["Question de Les Amis du Vélo"]
    assert [m["body"] for m in document["help_messages"]] == [tenant_a.help_message.body]
    assert not any("credentials" in s for s in document["services"])

    # The same rows as CSV tables.
    assert [r["number"] for r in read_csv(archive, "member")] == ["A0202"]
    assert {r["email"] for r in read_csv(archive, "contacts")} == {
        tenant_a.contact.email,
        tenant_a.other_contact.email,
    }
    assert json.loads(read_csv(archive, "service_requests")[0]["details"]) == {
        "title": "Nouveau site Les Amis du Vélo"
    }
    assert read_csv(archive, "help_messages")[0]["body"] == tenant_a.help_message.body

    # The static site's own export, made by its driver, read back; the missing one explained.
    [site] = [
        n
        for n in archive.namelist()
        if n.startswith(f"services/{good.pk}-") and n.endswith(".tar.gz")
    ]
    with tarfile.open(fileobj=io.BytesIO(archive.read(site))) as tar:
        member = tar.extractfile("amis-blog/htdocs/index.html")
        assert member is not None and member.read() == b"<p>Balade le 12 mai</p>"
    readme = archive.read("README.txt").decode()
    assert "vide.amis-velo.example.org" in readme and "blog.amis-velo.example.org" not in readme
    failed = {f["service"]: f["reason"] for f in job.result["failed_services"]}
    assert set(failed) == {
        "Static web site vide.amis-velo.example.org",
        "WordPress site site.amis-velo.example.org",  # recorded without a server
    }
    assert "does not exist" in failed["Static web site vide.amis-velo.example.org"]
    assert failed["WordPress site site.amis-velo.example.org"] == "it is on no server"

    entry = AuditEntry.objects.get(action="portal.member_exported")
    assert entry.actor == tenant_a.manager and entry.member_id == tenant_a.member.pk


@override_settings(TASKS=IMMEDIATE)
def test_only_the_member_managers_and_staff_download(client, tenant_a, tenant_b, staff_user):
    client.force_login(tenant_a.manager)
    job_a = start_export(client)
    assert download(client, job_a).status_code == 200

    client.force_login(tenant_b.manager)
    job_b = start_export(client, "Z0999")
    assert download(client, job_b, "Z0999").status_code == 200
    # B cannot fetch A's file, under A's number nor under its own.
    assert download(client, job_a).status_code == 404
    assert download(client, job_a, "Z0999").status_code == 404

    client.force_login(tenant_a.manager)
    assert download(client, job_b, "A0202").status_code == 404
    assert download(client, job_b, "Z0999").status_code == 404

    client.logout()
    anonymous = download(client, job_a)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]

    client.force_login(staff_user)
    assert download(client, job_a).status_code == 200


@override_settings(TASKS=IMMEDIATE)
def test_a_file_changed_after_its_check_is_not_offered(manager_a, tenant_a, portal_data_dir):
    job = start_export(manager_a)
    path = portal_data_dir / "exports" / "A0202" / job.result["file"]
    path.write_bytes(path.read_bytes() + b"tampered")
    assert download(manager_a, job).status_code == 404


def test_build_member_export_needs_no_request(tenant_a, portal_data_dir):
    path = build_member_export(tenant_a.member.pk, include_services=False)

    assert path.parent == Path(portal_data_dir) / "exports" / "A0202"
    assert path.stat().st_mode & 0o777 == 0o600
    recorded = path.with_name(path.name + ".sha256").read_text().split()
    assert recorded == [hashlib.sha256(path.read_bytes()).hexdigest(), path.name]
    assert verify_export(path) == recorded[0]
    with zipfile.ZipFile(path) as archive:
        assert not [n for n in archive.namelist() if n.startswith("services/")]
    # No temporary file or work directory is left beside it.
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".sha256"]
