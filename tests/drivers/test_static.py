"""Static sites on a real nginx: requested through the actions, made real by the driver's
plan, checked over HTTP, suspended, resumed and removed after a verified archive."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from ronron.drivers.base import driver_for
from ronron.drivers.web import archive
from ronron.members.actions import create_member
from ronron.services.actions import (
    remove_service,
    request_service,
    resume_service,
    suspend_service,
)
from ronron.services.models import Service
from tests.stack.nginx import fetch, fetch_until, wait_for_reload, workers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


@pytest.fixture
def member():
    return create_member(actor=None, number="A0202", kind="association", name="Les Amis du Vélo")


def request(member, server, domain, **kwargs):
    return request_service(
        member, actor=None, kind="static", domain=domain, server=server, **kwargs
    )


def apply(service: Service, limit: int | None = None) -> list[str]:
    """Observe, plan and run the steps (only the first ``limit`` ones: a crash after them)."""
    service.refresh_from_db()
    host = service.server.host()
    driver = driver_for(service.kind)
    steps = driver.plan(service, driver.observe(service, host))
    before = workers(nginx_base(service))
    for step in steps[:limit]:
        step.run(host)
    if any(step.key.endswith(":nginx-reload") for step in steps[:limit]):
        wait_for_reload(nginx_base(service), before)
    return [step.key.rsplit(":", 1)[-1] for step in steps]


def nginx_base(service: Service) -> Path:
    return Path(service.server.layout["nginx_sites_dir"]).parent


def plan(service: Service) -> list[str]:
    service.refresh_from_db()
    driver = driver_for(service.kind)
    steps = driver.plan(service, driver.observe(service, service.server.host()))
    return [step.key.rsplit(":", 1)[-1] for step in steps]


def root_of(stack, slug: str) -> Path:
    return Path(stack.layout["sites_root"]) / slug


def as_user(user: str, *argv: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *argv], input=input, capture_output=True)


def getent(name: str) -> bool:
    return subprocess.run(["getent", "passwd", name], capture_output=True).returncode == 0


def test_a_requested_site_answers_and_serves_what_the_member_uploads(
    web_server, nginx_stack, member
):
    service = request(
        member, web_server, "t-velo.example.org", spec={"aliases": ["www.t-velo.example.org"]}
    )
    assert service.slug == "t-velo"
    steps = apply(service)
    assert steps == [
        "system-user",
        "directories",
        "welcome-page",
        "nginx-site",
        "nginx-reload",
    ]
    page = fetch_until(nginx_stack.port, "t-velo.example.org", status=200, contains="Bienvenue")
    assert page.status == 200 and "t-velo.example.org" in page.text

    upload = as_user(
        "site-t-velo",
        "tee",
        str(root_of(nginx_stack, "t-velo") / "htdocs" / "agenda.html"),
        input=b"<p>Balade le 12 mai</p>",
    )
    assert upload.returncode == 0, upload.stderr
    served = fetch(nginx_stack.port, "www.t-velo.example.org", "/agenda.html")
    assert (served.status, served.text) == (200, "<p>Balade le 12 mai</p>")
    assert fetch(nginx_stack.port, "t-velo.example.org", "/.htpasswd").status == 403

    assert plan(service) == []
    service.refresh_from_db()
    assert service.observed_state in ("unknown", "present")
    observed = driver_for("static").observe(service, web_server.host())
    assert observed.state == "present"


def test_a_site_files_are_not_readable_by_another_site(web_server, nginx_stack, member):
    first = request(member, web_server, "t-one.example.org")
    second = request(member, web_server, "t-two.example.org")
    apply(first)
    apply(second)
    index = root_of(nginx_stack, "t-one") / "htdocs" / "index.html"
    assert as_user("site-t-one", "cat", str(index)).returncode == 0
    assert as_user("www-data", "cat", str(index)).returncode == 0
    denied = as_user("site-t-two", "cat", str(index))
    assert denied.returncode != 0 and b"Permission denied" in denied.stderr
    assert as_user("nobody", "ls", str(root_of(nginx_stack, "t-one"))).returncode != 0


def test_suspension_shows_the_french_page_and_resumption_restores_the_site(
    web_server, nginx_stack, member
):
    service = request(member, web_server, "t-pause.example.org")
    apply(service)
    htdocs = root_of(nginx_stack, "t-pause") / "htdocs"
    (htdocs / "index.html").write_text("<h1>Notre site</h1>")
    before = fetch_until(nginx_stack.port, "t-pause.example.org", status=200, contains="Notre")
    conf = Path(nginx_stack.layout["nginx_sites_dir"]) / "ronron-t-pause.conf"
    active_conf = conf.read_text()

    suspend_service(service, actor=None)
    steps = apply(service)
    # The « service suspendu » page is shared by the server's sites: written by the first
    # suspension only (another test may have suspended a site on this server before).
    assert steps in (
        ["suspended-page", "nginx-site", "nginx-reload"],
        ["nginx-site", "nginx-reload"],
    )
    page = fetch_until(nginx_stack.port, "t-pause.example.org", "/agenda", status=503)
    assert page.status == 503
    assert "Service suspendu" in page.text and 'lang="fr"' in page.text
    assert page.headers["Retry-After"].isdigit()
    assert (htdocs / "index.html").read_text() == "<h1>Notre site</h1>"
    assert plan(service) == []
    assert driver_for("static").observe(service, web_server.host()).state == "suspended"

    resume_service(service, actor=None)
    assert apply(service) == ["nginx-site", "nginx-reload"]
    after = fetch_until(nginx_stack.port, "t-pause.example.org", status=200, contains="Notre")
    assert (after.status, after.body) == (before.status, before.body)
    assert conf.read_text() == active_conf
    assert plan(service) == []


def test_removal_exports_a_verified_archive_before_removing_anything(
    web_server, nginx_stack, member, data_dir
):
    service = request(member, web_server, "t-adieu.example.org")
    apply(service)
    htdocs = root_of(nginx_stack, "t-adieu") / "htdocs"
    (htdocs / "souvenirs.txt").write_text("vingt ans de balades")
    fetch_until(nginx_stack.port, "t-adieu.example.org", "/souvenirs.txt", status=200)

    remove_service(service, actor=None)
    assert apply(service) == [
        "export",
        "nginx-remove",
        "nginx-reload",
        "files-remove",
        "system-user-remove",
        "record-removal",
    ]
    service.refresh_from_db()
    assert service.removed_at is not None
    path = Path(service.archive_path)
    assert path.parent == data_dir / "archives" / "A0202"
    assert path.name.startswith("static-t-adieu-") and path.name.endswith(".tar.gz")
    assert archive.verify_recorded(path) > 0
    with tarfile.open(path) as tar:
        content = tar.extractfile("t-adieu/htdocs/souvenirs.txt")
        assert content is not None and content.read() == b"vingt ans de balades"

    assert not root_of(nginx_stack, "t-adieu").exists()
    assert not (Path(nginx_stack.layout["nginx_sites_dir"]) / "ronron-t-adieu.conf").exists()
    assert not getent("site-t-adieu")
    # The catch-all server closes the connection: no site answers for that name any more.
    assert fetch_until(nginx_stack.port, "t-adieu.example.org", status=0).status == 0
    assert archive.expired_archives(service.removed_at) == []


def test_removal_steps_refuse_without_a_verified_archive(web_server, nginx_stack, member):
    service = request(member, web_server, "t-garde.example.org")
    apply(service)
    remove_service(service, actor=None)
    service.refresh_from_db()
    host = web_server.host()
    driver = driver_for("static")
    steps = driver.plan(service, driver.observe(service, host))
    removal = next(step for step in steps if step.key.endswith(":files-remove"))
    with pytest.raises(archive.ArchiveError):
        removal.run(host)
    assert (root_of(nginx_stack, "t-garde") / "htdocs" / "index.html").exists()

    # An archive that no longer reads back does not count either.
    steps[0].run(host)
    exported = Path(archive.recorded_export(f"service-{service.pk}")["archive"])
    exported.write_bytes(exported.read_bytes()[:-40])
    with pytest.raises(archive.ArchiveError):
        removal.run(host)
    assert (root_of(nginx_stack, "t-garde") / "htdocs" / "index.html").exists()


@pytest.mark.parametrize("crash_after", [1, 2, 3, 4])
def test_a_crash_in_the_middle_converges(web_server, nginx_stack, member, crash_after):
    service = request(member, web_server, "t-panne.example.org")
    apply(service, limit=crash_after)
    apply(service)
    assert plan(service) == []
    fetch_until(nginx_stack.port, "t-panne.example.org", status=200, contains="Bienvenue")
    assert fetch(nginx_stack.port, "t-panne.example.org").status == 200


@pytest.mark.parametrize("crash_after", [1, 3, 4])
def test_a_crash_during_removal_converges_and_keeps_the_first_archive(
    web_server, nginx_stack, member, crash_after
):
    service = request(member, web_server, "t-coupure.example.org")
    apply(service)
    remove_service(service, actor=None)
    apply(service, limit=crash_after)
    first = archive.recorded_export(f"service-{service.pk}")["archive"]
    apply(service)
    service.refresh_from_db()
    assert service.removed_at is not None and service.archive_path == first
    assert archive.verify_recorded(first) > 0
    assert not root_of(nginx_stack, "t-coupure").exists()
    assert not getent("site-t-coupure")


def test_what_no_service_claims_is_listed_and_left_alone(web_server, nginx_stack, member):
    stray_conf = Path(nginx_stack.layout["nginx_sites_dir"]) / "ronron-t-stray.conf"
    stray_conf.write_text("# made by hand\n")
    subprocess.run(
        [
            *("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"),
            *("--home-dir", str(root_of(nginx_stack, "t-stray")), "site-t-stray"),
        ],
        check=True,
    )
    stray_dir = root_of(nginx_stack, "t-vieux")
    (stray_dir / "htdocs").mkdir(parents=True)
    service = request(member, web_server, "t-neuf.example.org")
    apply(service)

    host = web_server.host()
    found = {(o.resource, o.name) for o in driver_for("static").orphans(web_server, host, set())}
    # System users are machine-wide: other test sessions' users may show up too.
    assert {
        ("nginx-site", "t-stray"),
        ("system-user", "site-t-stray"),
        ("directory", "t-vieux"),
    } <= found
    assert not {name for _resource, name in found} & {"t-neuf", "site-t-neuf"}
    assert {resource for resource, name in found if "site-" not in name} == {
        "nginx-site",
        "directory",
    }
    apply(service)
    assert stray_conf.read_text() == "# made by hand\n"
    assert getent("site-t-stray") and (stray_dir / "htdocs").is_dir()


@pytest.mark.parametrize(
    "domain",
    [
        "evil.com\nserver_name x",
        "evil.com;\x00",
        "a..b",
        "-a.com",
        "192.168.1.10",
        "[::1]",
        "a" * 300 + ".fr",
        "exa mple.org",
        "t-x.example.org; include /etc/passwd",
    ],
)
def test_a_hostile_domain_is_refused_and_nothing_is_written(
    web_server, nginx_stack, member, domain
):
    with pytest.raises(ValidationError):
        request(member, web_server, domain)
    assert not Service.objects.exists()
    assert list(Path(nginx_stack.layout["nginx_sites_dir"]).iterdir()) == []


@pytest.mark.parametrize(
    "spec",
    [
        {"aliases": ["www.example.org\r\nserver_name evil"]},
        {"aliases": ["www.example.org", "WWW.example.org"]},
        {"aliases": "www.example.org"},
        {"aliases": ["ok.example.org\x00"]},
        {"limits": {"requests_per_second": 0}},
        {"limits": {"burst": 5001}},
        {"limits": {"client_max_body_mb": "64\n"}},
        {"limits": {"connections_per_client": True}},
        {"limits": {"php_workers": 4}},
        {"root": "/etc"},
    ],
)
def test_a_bad_spec_is_refused_and_nothing_is_written(web_server, nginx_stack, member, spec):
    with pytest.raises(ValidationError) as error:
        request(member, web_server, "t-spec.example.org", spec=spec)
    assert "spec" in error.value.message_dict
    assert not Service.objects.exists()
    assert list(Path(nginx_stack.layout["nginx_sites_dir"]).iterdir()) == []


def test_limits_reach_nginx(web_server, nginx_stack, member):
    service = request(
        member,
        web_server,
        "t-flot.example.org",
        spec={"limits": {"requests_per_second": 1, "burst": 0, "client_max_body_mb": 2}},
    )
    assert service.spec == {
        "limits": {"requests_per_second": 1, "burst": 0, "client_max_body_mb": 2}
    }
    apply(service)
    first = fetch_until(nginx_stack.port, "t-flot.example.org", status=200)
    assert first.status == 200
    statuses = [fetch(nginx_stack.port, "t-flot.example.org").status for _ in range(5)]
    assert 429 in statuses
    conf = (Path(nginx_stack.layout["nginx_sites_dir"]) / "ronron-t-flot.conf").read_text()
    assert "client_max_body_size 2m;" in conf and "rate=1r/s" in conf
