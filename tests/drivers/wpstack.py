"""A WordPress server for the driver tests: nginx, PHP-FPM and MariaDB on loopback, and helpers
to converge a site and browse it."""

from __future__ import annotations

import http.client
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client

from ronron.drivers.base import driver_for
from ronron.fleet.hosts import host_for
from ronron.members.actions import create_member
from ronron.secrets import envelope
from ronron.services import actions
from ronron.services.models import Service
from tests.stack.mariadb import MariaDB
from tests.stack.nginx import NginxStack, cleanup_sites, make_server
from tests.stack.phpfpm import PhpFpm

# Test domains and slugs: recognisable, cleaned up by the fixtures (slugs start with "t-").
DOMAIN_SUFFIX = ".ronron-test.example"
CONFIG_DIR = Path("/etc/wordpress")


@dataclass
class WordPressStack:
    server: Any
    port: int
    mariadb: MariaDB
    phpfpm: PhpFpm


def _cleanup(stack: NginxStack, fpm: PhpFpm, db: MariaDB) -> None:
    for path in fpm.pool_dir.glob("ronron-t-*.conf"):
        path.unlink()
    subprocess.run(["kill", "-USR2", str(fpm.pid)], check=False)
    for path in CONFIG_DIR.glob(f"config-*{DOMAIN_SUFFIX}.php"):
        path.unlink()
    names = db.query(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'wp\\_t\\_%';"
    ).split()
    users = db.query("SELECT User FROM mysql.user WHERE User LIKE 'wp\\_t\\_%';").split()
    db.query(
        "".join(f"DROP DATABASE IF EXISTS `{n}`;" for n in names)
        + "".join(f"DROP USER IF EXISTS '{u}'@'localhost';" for u in users)
        + "SELECT 1;"
    )
    cleanup_sites(stack)


@pytest.fixture
def wp_stack(
    nginx_stack: NginxStack,
    phpfpm: PhpFpm,
    mariadb: MariaDB,
    db: None,
) -> Iterator[WordPressStack]:
    fpm_layout = {k: v for k, v in phpfpm.layout_overrides().items() if k != "run_dir"}
    layout = {**nginx_stack.layout, **fpm_layout, **mariadb.layout_overrides()}
    _cleanup(nginx_stack, phpfpm, mariadb)
    server = make_server(nginx_stack)
    server.layout = layout
    server.save(update_fields=["layout"])
    try:
        yield WordPressStack(server, nginx_stack.port, mariadb, phpfpm)
    finally:
        _cleanup(nginx_stack, phpfpm, mariadb)


def converge(service: Service) -> list[str]:
    """Observe, plan and run the steps with the server's host; the keys of the steps run."""
    service.refresh_from_db()
    driver = driver_for(service.kind)
    assert service.server is not None
    host = host_for(service.server)
    steps = driver.plan(service, driver.observe(service, host))
    for step in steps:
        step.run(host)
    return [step.key for step in steps]


def remaining_steps(service: Service) -> list[str]:
    service.refresh_from_db()
    driver = driver_for(service.kind)
    assert service.server is not None
    host = host_for(service.server)
    return [step.key for step in driver.plan(service, driver.observe(service, host))]


def new_member(name: str) -> Any:
    number = "W" + str(abs(hash(name)) % 100000).zfill(5)
    return create_member(
        actor=None,
        number=number,
        kind="association",
        name=f"Les Amis de {name}",
        joined_on=date(2020, 1, 1),
    )


def new_site(stack: WordPressStack, name: str, **spec: Any) -> Service:
    member = new_member(name)
    return actions.request_service(
        member,
        actor=None,
        kind="wordpress",
        domain=f"{name}{DOMAIN_SUFFIX}",
        spec={"title": f"Le site de {name}", "admin_email": f"web@{name}.example", **spec},
        server=stack.server,
        slug=f"t-{name}",
    )


class Browser:
    """Just enough of a browser for WordPress: Host header, cookies, redirects on loopback."""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host, self.cookies = port, host, SimpleCookie()
        self.cookies["wordpress_test_cookie"] = "WP Cookie check"

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Any:
        for _hop in range(5):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            headers = {
                "Host": f"{self.host}:{self.port}",
                "Cookie": "; ".join(f"{k}={m.value}" for k, m in self.cookies.items()),
            }
            body = None
            if form is not None:
                body = urlencode(form)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            text = answer.read().decode(errors="replace")
            for header, value in answer.getheaders():
                if header.lower() == "set-cookie":
                    self.cookies.load(value.split(";", 1)[0])
            conn.close()
            if answer.status in (301, 302, 303) and answer.getheader("Location"):
                location = urlsplit(answer.getheader("Location") or "")
                path = location.path + (f"?{location.query}" if location.query else "")
                method, form = "GET", None
                continue
            return answer.status, text
        raise AssertionError("too many redirects")


def wait_for_page(
    port: int, domain: str, *, status: int, contains: str, timeout: float = 10
) -> tuple[int, str]:
    """nginx and PHP-FPM reload asynchronously: ask until the expected answer comes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = Browser(port, domain).request("GET", "/")
        except (OSError, http.client.HTTPException):
            answer = (0, "")
        if (answer[0] == status and contains in answer[1]) or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


_LINK = re.compile(r"https?://\S+?(/secret/[A-Za-z0-9_-]{22}/)#([A-Za-z0-9_-]+)")


def claim_credentials(body: str) -> dict[str, str]:
    """Follow the one-time link of a credentials mail as its recipient would: reveal the secret
    from Ronron's page (POST), open it with the key of the link's fragment, read its fields
    (the hoster's language is English in these tests)."""
    found = _LINK.search(body)
    assert found, body
    path, key = found.groups()
    response = Client().post(path, content_type="application/json")
    assert response.status_code == 200, response.content
    opened = envelope.open_sealed(envelope.Sealed(**response.json()), key)
    fields = dict(line.split(": ", 1) for line in opened.splitlines() if ": " in line)
    assert Client().post(path, content_type="application/json").status_code == 410
    return {"url": fields["Address"], "login": fields["Login"], "password": fields["Password"]}


def log_in(port: int, domain: str, login: str, password: str) -> Browser:
    browser = Browser(port, domain)
    browser.request(
        "POST",
        "/wp-login.php",
        {"log": login, "pwd": password, "wp-submit": "Log In", "testcookie": "1"},
    )
    return browser


def sees_dashboard(browser: Browser) -> bool:
    status, page = browser.request("GET", "/wp-admin/")
    return status == 200 and 'id="dashboard-widgets' in page


def has_auth_cookie(browser: Browser) -> bool:
    return any(name.startswith("wordpress_logged_in_") for name in browser.cookies)
