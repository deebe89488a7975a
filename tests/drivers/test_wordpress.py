"""WordPress sites made real: Debian's shared core, a real nginx, PHP-FPM and MariaDB on
loopback; provision, fetch, log in, suspend, resume, remove with a verified archive."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from ronron.drivers.base import driver_for
from ronron.drivers.web.site import Site
from ronron.drivers.wordpress import config_path
from ronron.drivers.wordpress_admin import admin_credentials
from ronron.fleet.hosts import host_for
from ronron.services import actions
from ronron.services.models import Service
from tests.drivers.wpstack import (
    CONFIG_DIR,
    Browser,
    WordPressStack,
    converge,
    new_member,
    new_site,
    remaining_steps,
    wait_for_page,
)
from tests.stack.nginx import fetch_until


def test_wordpress_site_lifecycle(wp_stack: WordPressStack) -> None:
    service = new_site(wp_stack, "moulin")
    domain = service.domain
    keys = converge(service)
    assert "wordpress-install" in keys
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

    # The administrator logs in with the credentials Ronron stored (encrypted) for them.
    service.refresh_from_db()
    creds = admin_credentials(service)
    assert creds["login"] == "webmestre" and len(creds["password"]) >= 20
    browser = Browser(wp_stack.port, domain)
    status, _page = browser.request(
        "POST",
        "/wp-login.php",
        {"log": creds["login"], "pwd": creds["password"], "wp-submit": "Log In", "testcookie": "1"},
    )
    status, page = browser.request("GET", "/wp-admin/")
    assert status == 200
    assert 'id="dashboard-widgets' in page
    # A wrong password does not open the dashboard.
    intruder = Browser(wp_stack.port, domain)
    intruder.request("POST", "/wp-login.php", {"log": creds["login"], "pwd": "pas-le-bon"})
    _status, page = intruder.request("GET", "/wp-admin/")
    assert 'id="dashboard-widgets' not in page

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
