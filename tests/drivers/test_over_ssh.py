"""A static site on a server reached over SSH: the same driver, the same engine, only the host
changes. The SSH server is the test sshd on loopback and the web server the test nginx, so
what the drivers do through SSH is checked on this very machine (files, users, HTTP)."""

from __future__ import annotations

import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ronron.drivers.web import archive
from ronron.fleet.actions import create_server
from ronron.fleet.models import Server
from ronron.fleet.ssh import SSHHost
from ronron.members.actions import create_member
from ronron.reconcile.actions import create_run
from ronron.reconcile.engine import apply_plan, compute_plan
from ronron.reconcile.models import Run, RunStep
from ronron.services.actions import (
    remove_service,
    request_service,
    resume_service,
    suspend_service,
)
from ronron.services.models import Service
from tests.stack.nginx import NginxStack, cleanup_sites, fetch_until
from tests.stack.sshd import SSHServer

pytestmark = pytest.mark.django_db

DOMAIN = "t-ssh.example.org"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


@pytest.fixture
def ssh_server(nginx_stack: NginxStack, sshd: SSHServer, db: None) -> Iterator[Server]:
    cleanup_sites(nginx_stack)
    try:
        yield create_server(
            actor=None,
            name="t-ssh-web",
            host_kind="ssh",
            address=sshd.host,
            port=sshd.port,
            ssh_user=sshd.user,
            private_key=sshd.private_key,
            host_key=sshd.host_key,
            roles="web",
            layout=nginx_stack.layout,
        )
    finally:
        cleanup_sites(nginx_stack)


def apply() -> Run:
    run = apply_plan(create_run(actor=None).pk)
    assert run.status == Run.Status.SUCCEEDED, [
        (s.key, s.status, s.output) for s in run.steps.all()
    ]
    return run


def keys(run: Run) -> list[str]:
    return [step.key.rsplit(":", 1)[-1] for step in run.steps.all()]


def test_a_static_site_lives_and_goes_through_ssh(ssh_server, nginx_stack, data_dir):
    member = create_member(actor=None, number="A0303", kind="association", name="Les Randonneurs")
    service = request_service(member, actor=None, kind="static", domain=DOMAIN, server=ssh_server)
    assert service.slug == "t-ssh"
    host = ssh_server.host()
    assert isinstance(host, SSHHost)

    made = apply()
    assert keys(made) == [
        "system-user",
        "directories",
        "welcome-page",
        "nginx-site",
        "nginx-reload",
    ]
    page = fetch_until(nginx_stack.port, DOMAIN, status=200, contains="Bienvenue")
    assert page.status == 200 and DOMAIN in page.text
    root = Path(nginx_stack.layout["sites_root"]) / "t-ssh"
    index = root / "htdocs" / "index.html"
    # Written through SFTP and given to the site's user through the remote `chown`.
    assert index.owner() == "site-t-ssh"
    assert not list(Path(nginx_stack.layout["nginx_sites_dir"]).glob(".ronron-*"))
    plan = compute_plan()
    assert plan.nothing_to_do and not [e for e in plan.errors if e.service is not None]

    (root / "htdocs" / "sentiers.html").write_text("<p>GR 10</p>")
    suspend_service(service, actor=None)
    # The « service suspendu » page is shared by the server's sites: written by the first
    # suspension only (another test may have suspended a site on this server before).
    assert keys(apply()) in (
        ["suspended-page", "nginx-site", "nginx-reload"],
        ["nginx-site", "nginx-reload"],
    )
    suspended = fetch_until(nginx_stack.port, DOMAIN, "/sentiers.html", status=503)
    assert suspended.status == 503
    assert "Service suspendu" in suspended.text and 'lang="fr"' in suspended.text
    assert compute_plan().nothing_to_do

    resume_service(service, actor=None)
    assert keys(apply()) == ["nginx-site", "nginx-reload"]
    back = fetch_until(nginx_stack.port, DOMAIN, "/sentiers.html", status=200)
    assert (back.status, back.text) == (200, "<p>GR 10</p>")
    assert compute_plan().nothing_to_do

    remove_service(service, actor=None)
    removed = apply()
    assert keys(removed) == [
        "export",
        "nginx-remove",
        "nginx-reload",
        "files-remove",
        "system-user-remove",
        "record-removal",
    ]
    assert all(step.status == RunStep.Status.DONE for step in removed.steps.all())
    service.refresh_from_db()
    assert service.removed_at is not None
    # Made on the server, copied into the data directory over SFTP, then read back here.
    saved = Path(service.archive_path)
    assert saved.parent == data_dir / "archives" / "A0303"
    assert archive.verify_recorded(saved) > 0
    with tarfile.open(saved) as tar:
        kept = tar.extractfile("t-ssh/htdocs/sentiers.html")
        assert kept is not None and kept.read() == b"<p>GR 10</p>"
    assert [p.name for p in saved.parent.glob("*.tar.gz")] == [saved.name]
    staging = Path(nginx_stack.layout["sites_root"]) / archive.STAGING
    assert not staging.exists() or list(staging.iterdir()) == []

    assert not root.exists()
    assert not (Path(nginx_stack.layout["nginx_sites_dir"]) / "ronron-t-ssh.conf").exists()
    assert subprocess.run(["getent", "passwd", "site-t-ssh"], capture_output=True).returncode
    assert fetch_until(nginx_stack.port, DOMAIN, status=0).status == 0
    assert compute_plan().nothing_to_do
    assert not Service.objects.filter(removed_at__isnull=True).exists()
    # Nothing of it is left for the orphan listing either.
    names = {o.orphan.name for o in compute_plan(server="t-ssh-web").orphans}
    assert not names & {"t-ssh", "site-t-ssh"}
