"""WordPress sites made real: Debian's shared core, a real nginx, PHP-FPM and MariaDB on
loopback; provision, hand the administrator's credentials over as a one-time link and log in
with them, send new ones, suspend, resume, remove with a verified archive."""

from __future__ import annotations

import dataclasses
import io
import socket
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.drivers.base import driver_for
from ronron.drivers.web.site import Site
from ronron.drivers.wordpress import config_path
from ronron.fleet.hosts import host_for
from ronron.jobs.models import Job
from ronron.members.actions import add_contact
from ronron.reconcile.actions import create_run
from ronron.reconcile.engine import apply_plan
from ronron.reconcile.models import Run
from ronron.secrets.models import Delivery
from ronron.services import actions
from ronron.services.handover import NOT_DELIVERED
from ronron.services.models import Service
from tests.drivers.wpstack import (
    CONFIG_DIR,
    Browser,
    WordPressStack,
    claim_credentials,
    converge,
    has_auth_cookie,
    log_in,
    new_member,
    new_site,
    remaining_steps,
    sees_dashboard,
    wait_for_page,
)
from tests.stack.nginx import fetch_until

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
TECH = "tech@moulin.example"
PRESIDENT = "presidente@moulin.example"


def apply_for(service: Service) -> Run:
    run = apply_plan(create_run(actor=None, member=service.member.number).pk)
    assert run.status == Run.Status.SUCCEEDED, run.error
    return run


def test_wordpress_site_lifecycle(
    wp_stack: WordPressStack, client: Any, staff_user: Any, settings: Any
) -> None:
    settings.RONRON = dataclasses.replace(settings.RONRON, language="en")
    service = new_site(wp_stack, "moulin")
    domain = service.domain
    tech = add_contact(service.member, actor=None, name="Tech", email=TECH, roles="tech")
    add_contact(service.member, actor=None, name="Présidente", email=PRESIDENT, roles="president")
    run = apply_for(service)
    assert any(step.key.endswith("wordpress-install") for step in run.steps.all())
    # Applying again changes nothing.
    assert remaining_steps(service) == []

    status, home = wait_for_page(wp_stack.port, domain, status=200, contains="Le site de moulin")
    assert status == 200, home[:500]
    assert "Le site de moulin" in home
    # The theme's stylesheet comes from the site's own wp-content, served by nginx.
    status, _css = Browser(wp_stack.port, domain).request(
        "GET", "/wp-content/themes/twentytwentythree/style.css"
    )
    assert status == 200

    # The administrator's credentials went to the technical contact, as a one-time link, and
    # Ronron kept no readable copy.
    assert [message.to for message in mail.outbox] == [[TECH]]
    creds = claim_credentials(mail.outbox[0].body)
    assert creds["login"] == "webmestre" and len(creds["password"]) >= 20
    assert creds["url"] == f"http://{domain}/wp-admin/"
    assert creds["password"] not in mail.outbox[0].body
    service.refresh_from_db()
    assert "admin_password" not in service.credentials
    assert service.credentials_revealed_at is not None
    assert Delivery.objects.get(service=service).revealed_at is not None

    # With them, the administrator logs in to the real WordPress.
    browser = log_in(wp_stack.port, domain, creds["login"], creds["password"])
    assert has_auth_cookie(browser) and sees_dashboard(browser)
    # A wrong password does not open the dashboard.
    intruder = log_in(wp_stack.port, domain, creds["login"], "pas-le-bon")
    assert not has_auth_cookie(intruder) and not sees_dashboard(intruder)

    # Staff send new credentials from the console (the job runs at once here).
    settings.TASKS = IMMEDIATE
    client.force_login(staff_user)
    response = client.post(
        reverse("services:send_credentials", args=[service.pk]), {"contact": str(tech.pk)}
    )
    job = Job.objects.get(kind="services.credentials")
    assert response.url == reverse("jobs:detail", args=[job.pk])
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert [message.to for message in mail.outbox[1:]] == [[TECH]]
    renewed = claim_credentials(mail.outbox[1].body)
    assert renewed["password"] != creds["password"]
    assert sees_dashboard(log_in(wp_stack.port, domain, "webmestre", renewed["password"]))
    # The old password no longer opens the site, and its session is closed.
    assert not sees_dashboard(log_in(wp_stack.port, domain, "webmestre", creds["password"]))
    assert not sees_dashboard(browser)
    service.refresh_from_db()
    assert "admin_password" not in service.credentials

    # The same from the command line, to another contact: never the password nor the link.
    out = io.StringIO()
    call_command("services", "credentials", str(service.pk), "--to", PRESIDENT, stdout=out)
    assert PRESIDENT in out.getvalue() and "valid until" in out.getvalue()
    assert [message.to for message in mail.outbox[2:]] == [[PRESIDENT]]
    last = claim_credentials(mail.outbox[2].body)
    assert last["password"] not in out.getvalue() and "/secret/" not in out.getvalue()
    assert sees_dashboard(log_in(wp_stack.port, domain, "webmestre", last["password"]))
    assert not sees_dashboard(log_in(wp_stack.port, domain, "webmestre", renewed["password"]))
    for entry in AuditEntry.objects.all():
        written = str(entry.before) + str(entry.after)
        for password in (creds["password"], renewed["password"], last["password"]):
            assert password not in written

    # A new name rewrites the configuration, and the install step comes back in the plan:
    # it must not make a password that would be handed over but is not the site's.
    actions.update_service_spec(
        service, actor=None, spec={**service.spec, "aliases": [f"www.{domain}"]}
    )
    assert "wordpress-install" in remaining_steps(service)
    apply_for(service)
    service.refresh_from_db()
    assert "admin_password" not in service.credentials
    assert len(mail.outbox) == 3
    assert sees_dashboard(log_in(wp_stack.port, domain, "webmestre", last["password"]))
    actions.update_service_spec(service, actor=None, spec={**service.spec, "aliases": []})
    converge(service)

    # The configuration holds the database password: only root and the site's group read it.
    config = Path(config_path(host_for(wp_stack.server).layout, domain))
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    assert config.group() == "site-t-moulin"

    # Suspend: the French page with a 503; the data stays.
    actions.suspend_service(service, actor=None)
    converge(service)
    suspended = fetch_until(wp_stack.port, domain, "/", status=503, contains="Service suspendu")
    assert suspended.status == 503 and "Service suspendu" in suspended.text
    assert remaining_steps(service) == []

    # Resume: the same site is back.
    actions.resume_service(service, actor=None)
    converge(service)
    status, back = wait_for_page(wp_stack.port, domain, status=200, contains="Le site de moulin")
    assert status == 200 and "Le site de moulin" in back

    # Remove: a verified archive with the files and the SQL dump, then nothing left.
    actions.remove_service(service, actor=None)
    converge(service)
    service.refresh_from_db()
    driver = driver_for("wordpress")
    host = host_for(wp_stack.server)
    observed = driver.observe(service, host)
    assert observed.state == "absent"
    archive = Path(observed.facts["archive"])
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        dump = tar.extractfile("database.sql")
        assert dump is not None
        sql = dump.read().decode()
    assert "t-moulin/wp-content/themes" in names
    assert "CREATE TABLE `wp_options`" in sql and "Le site de moulin" in sql
    layout = host.layout
    site = Site(slug="t-moulin", domain=domain)
    assert not config.exists()
    assert not Path(site.php_pool_conf(layout)).exists()
    assert not Path(site.root(layout)).exists()
    assert "wp_t_moulin" not in wp_stack.mariadb.query("SHOW DATABASES;").split()
    assert "wp_t_moulin" not in wp_stack.mariadb.query("SELECT User FROM mysql.user;").split()
    assert subprocess.run(["id", "site-t-moulin"], capture_output=True).returncode != 0
    assert fetch_until(wp_stack.port, domain, "/", status=444).status != 200


def test_credentials_wait_for_a_contact_and_for_mail(
    wp_stack: WordPressStack, settings: Any
) -> None:
    settings.RONRON = dataclasses.replace(settings.RONRON, language="en")
    service = new_site(wp_stack, "grenier")
    apply_for(service)
    # Nobody to send them to: the run succeeds, the password waits (encrypted), the service
    # says why.
    assert mail.outbox == []
    service.refresh_from_db()
    waiting = service.credentials["admin_password"]
    failure = AuditEntry.objects.filter(action=NOT_DELIVERED, object_id=str(service.pk)).get()
    assert "no contact to send the credentials to" in str(failure.after)

    # A contact, but the mail server is down: still waiting, nothing half-sent.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    add_contact(service.member, actor=None, name="Tech", email="tech@grenier.example", roles="tech")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", closed, False
    apply_for(service)
    service.refresh_from_db()
    assert service.credentials["admin_password"] == waiting
    assert not Delivery.objects.exists()

    # The next apply, with nothing else to change, hands them over.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert remaining_steps(service) == []
    apply_for(service)
    assert [message.to for message in mail.outbox] == [["tech@grenier.example"]]
    creds = claim_credentials(mail.outbox[0].body)
    assert creds["password"] == waiting
    service.refresh_from_db()
    assert "admin_password" not in service.credentials
    browser = log_in(wp_stack.port, service.domain, creds["login"], creds["password"])
    assert has_auth_cookie(browser) and sees_dashboard(browser)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "spec",
    [
        {"title": "Mon site\r\nX-Injected: 1"},
        {"admin_email": "web@example.org\n"},
        {"admin_email": "pas-une-adresse"},
        {"aliases": ["www.example.org\x00"]},
        {"aliases": ["exa mple.org"]},
        {"aliases": ["127.0.0.1"]},
        {"admin_user": "Robert'); DROP TABLE"},
        {"language": "fr_FR;"},
        {"limits": {"php_workers": 0}},
        {"limits": {"php_workers": 51}},
        {"limits": {"php_memory_limit_mb": 4096}},
        {"limits": {"php_request_timeout_s": 1}},
        {"limits": {"php_workers": True}},
        {"limits": {"unknown": 3}},
        {"document_root": "/etc"},
    ],
)
def test_bad_settings_are_refused(spec: dict[str, Any]) -> None:
    driver = driver_for("wordpress")
    with pytest.raises(ValidationError):
        driver.validate_spec(spec)


@pytest.mark.django_db
def test_settings_are_normalised() -> None:
    clean = driver_for("wordpress").validate_spec(
        {"aliases": ["WWW.Café.example"], "limits": {"php_workers": 3}, "title": " Asso "}
    )
    assert clean == {
        "aliases": ["www.xn--caf-dma.example"],
        "limits": {"php_workers": 3},
        "title": "Asso",
        "language": "fr_FR",
        "admin_user": "webmestre",
    }


def test_bad_domain_writes_nothing(wp_stack: WordPressStack) -> None:
    member = new_member("lavoir")
    with pytest.raises(ValidationError):
        actions.request_service(
            member,
            actor=None,
            kind="wordpress",
            domain="lavoir.example\r\nserver_name evil",
            server=wp_stack.server,
        )
    assert not Service.objects.filter(member=member).exists()
    assert not list(CONFIG_DIR.glob("config-lavoir*"))
