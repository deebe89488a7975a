"""HTTPS through ACME: certificates from Debian's pebble test CA, validated over HTTP-01 against
the test nginx, served with a redirect from HTTP, renewed before they expire."""

from __future__ import annotations

import dataclasses
import datetime
import http.client
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from ronron.drivers.base import driver_for
from ronron.fleet.hosts import host_for
from ronron.members.actions import create_member
from ronron.reconcile.actions import create_run
from ronron.reconcile.engine import apply_plan
from ronron.reconcile.models import Run, RunStep
from ronron.services.actions import request_service, suspend_service, update_service_spec
from ronron.services.models import Service
from tests.drivers.wpstack import new_site
from tests.stack.nginx import fetch, fetch_until, free_port, wait_for_reload, workers
from tests.stack.pebble import Pebble, self_signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(settings, pebble: Pebble, tmp_path: Path) -> Pebble:
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.RONRON = dataclasses.replace(
        settings.RONRON,
        acme_directory=pebble.directory,
        acme_email="tls@ronron-test.example",
        acme_ca_bundle=str(pebble.ca_bundle),
    )
    return pebble


def with_acme(server: Any) -> Any:
    server.layout = {**server.layout, "acme": True}
    server.save(update_fields=["layout"])
    return server


@pytest.fixture
def server(web_server: Any) -> Any:
    return with_acme(web_server)


@pytest.fixture
def member() -> Any:
    return create_member(actor=None, number="A0443", kind="association", name="Les Amis du Soleil")


def static_site(member: Any, server: Any, domain: str, **spec: Any) -> Service:
    return request_service(
        member, actor=None, kind="static", domain=domain, server=server, spec=spec
    )


def plan(service: Service) -> list[str]:
    service.refresh_from_db()
    driver = driver_for(service.kind)
    assert service.server is not None
    steps = driver.plan(service, driver.observe(service, host_for(service.server)))
    return [step.key.rsplit(":", 1)[-1] for step in steps]


def apply(service: Service) -> list[str]:
    """Run the plan one step at a time; after each nginx reload, wait until the new workers
    answer (``nginx -s reload`` only sends a signal) before the CA knocks on port 80."""
    service.refresh_from_db()
    driver = driver_for(service.kind)
    assert service.server is not None
    host = host_for(service.server)
    base = Path(host.layout.nginx_sites_dir).parent
    steps = driver.plan(service, driver.observe(service, host))
    for step in steps:
        before = workers(base)
        step.run(host)
        if step.key.rsplit(":", 1)[-1] in ("nginx-reload", "nginx-reload-tls", "tls-certificate"):
            wait_for_reload(base, before)
    return [step.key.rsplit(":", 1)[-1] for step in steps]


def https_get(
    port: int, domain: str, context: ssl.SSLContext, path: str = "/", host: str = ""
) -> tuple[int, str, x509.Certificate]:
    """GET over TLS to 127.0.0.1 with SNI ``domain``; the context checks the chain and name."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    with context.wrap_socket(raw, server_hostname=domain) as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        request = f"GET {path} HTTP/1.1\r\nHost: {host or domain}\r\nConnection: close\r\n\r\n"
        tls.sendall(request.encode())
        answer = http.client.HTTPResponse(tls)
        answer.begin()
        body = answer.read().decode(errors="replace")
    return answer.status, body, x509.load_der_x509_certificate(der)


def san(cert: x509.Certificate) -> set[str]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return set(ext.value.get_values_for_type(x509.DNSName))


def test_a_static_site_gets_a_certificate_and_redirects_http_to_https(
    server, member, acme, nginx_stack
):
    domain, alias = "t-soleil.example.org", "www.t-soleil.example.org"
    service = static_site(member, server, domain, aliases=[alias])

    steps = plan(service)
    assert steps.index("nginx-reload") < steps.index("tls-certificate")
    assert steps[-3:] == ["tls-certificate", "nginx-site-tls", "nginx-reload-tls"]
    apply(service)

    for name in (domain, alias):
        status, body, cert = https_get(nginx_stack.https_port, name, acme.trust())
        assert status == 200
        assert "Bienvenue" in body
        assert san(cert) == {domain, alias}
        assert cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > datetime.timedelta(
            days=30
        )

    answer = fetch(nginx_stack.port, domain, "/agenda/?mois=mai")
    assert answer.status in (301, 308)
    assert (
        answer.headers["Location"] == f"https://{domain}:{nginx_stack.https_port}/agenda/?mois=mai"
    )
    # Renewals are validated over plain HTTP: the challenge path is never redirected.
    challenges = Path(nginx_stack.layout["acme_root"]) / ".well-known" / "acme-challenge"
    challenges.mkdir(parents=True, exist_ok=True)
    (challenges / "sonde-de-test-0123456789").write_text("réponse")
    probe = fetch(nginx_stack.port, alias, "/.well-known/acme-challenge/sonde-de-test-0123456789")
    assert (probe.status, probe.text) == (200, "réponse")
    # The challenge answers are removed once the certificate is issued.
    assert [p.name for p in challenges.iterdir()] == ["sonde-de-test-0123456789"]

    assert plan(service) == []

    # Only root reads the key; the site's own user (its PHP, its SFTP) cannot.
    key = Path(nginx_stack.layout["certs_dir"]) / service.slug / "privkey.pem"
    assert key.stat().st_mode & 0o077 == 0
    assert key.stat().st_uid == 0
    denied = subprocess.run(
        ["runuser", "-u", f"site-{service.slug}", "--", "cat", str(key)], capture_output=True
    )
    assert denied.returncode != 0 and b"PRIVATE KEY" not in denied.stdout


def test_a_certificate_about_to_expire_is_renewed(server, member, acme, nginx_stack):
    domain = "t-renouveau.example.org"
    service = static_site(member, server, domain)
    apply(service)
    certs = Path(nginx_stack.layout["certs_dir"]) / service.slug
    cert, key = self_signed([domain], [], days=10)
    (certs / "privkey.pem").write_bytes(key)
    (certs / "fullchain.pem").write_bytes(cert)
    before = workers(nginx_stack.base)
    subprocess.run(["nginx", "-c", str(nginx_stack.conf), "-s", "reload"], check=True)
    wait_for_reload(nginx_stack.base, before)
    close_to_expiry = ssl.create_default_context(cadata=cert.decode())
    assert https_get(nginx_stack.https_port, domain, close_to_expiry)[0] == 200

    assert plan(service) == ["tls-certificate"]
    apply(service)

    status, _body, renewed = https_get(nginx_stack.https_port, domain, acme.trust())
    assert status == 200
    assert renewed.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > datetime.timedelta(
        days=30
    )
    assert plan(service) == []


def test_a_site_that_refuses_https_stays_on_http(server, member, acme, nginx_stack):
    service = static_site(member, server, "t-clair.example.org", tls=False)
    assert service.spec == {"tls": False}
    assert "tls-certificate" not in apply(service)
    assert fetch_until(nginx_stack.port, "t-clair.example.org", status=200).status == 200
    assert plan(service) == []


def test_an_unreachable_certificate_authority_fails_the_step_and_http_keeps_working(
    server, member, acme, settings, nginx_stack
):
    nowhere = f"https://127.0.0.1:{free_port()}/dir"
    settings.RONRON = dataclasses.replace(settings.RONRON, acme_directory=nowhere)
    domain = "t-orage.example.org"
    service = static_site(member, server, domain)

    run = apply_plan(create_run(actor=None).pk)

    assert run.status == Run.Status.FAILED
    failed = RunStep.objects.get(run=run, status=RunStep.Status.FAILED)
    assert failed.key.endswith(":tls-certificate")
    assert f"cannot reach the certificate authority at {nowhere}" in failed.output
    assert "PRIVATE KEY" not in failed.output
    # The site is online over plain HTTP, with a configuration nginx accepts.
    assert fetch_until(nginx_stack.port, domain, status=200, contains="Bienvenue").status == 200
    conf = (Path(nginx_stack.layout["nginx_sites_dir"]) / f"ronron-{service.slug}.conf").read_text()
    assert "ssl_certificate" not in conf
    tested = subprocess.run(["nginx", "-t", "-q", "-c", str(nginx_stack.conf)], capture_output=True)
    assert tested.returncode == 0, tested.stderr
    assert plan(service) == ["tls-certificate", "nginx-site-tls", "nginx-reload-tls"]


def test_a_wordpress_site_is_served_over_https_with_https_links(wp_stack, acme, nginx_stack):
    with_acme(wp_stack.server)
    service = new_site(wp_stack, "t-lumiere")
    domain = service.domain
    assert apply(service)[-3:] == ["tls-certificate", "nginx-site-tls", "nginx-reload-tls"]

    port = nginx_stack.https_port
    status, body, cert = https_get(port, domain, acme.trust(), host=f"{domain}:{port}")
    assert status == 200
    assert "Le site de t-lumiere" in body
    assert f"https://{domain}:{port}/" in body
    assert f"http://{domain}" not in body
    assert san(cert) == {domain}
    redirect = fetch(nginx_stack.port, domain, "/wp-login.php")
    assert redirect.status == 301
    assert redirect.headers["Location"] == f"https://{domain}:{port}/wp-login.php"
    assert plan(service) == []


def test_the_account_key_is_kept_encrypted_in_the_data_directory(server, member, acme, settings):
    apply(static_site(member, server, "t-compte.example.org"))
    keys = list((Path(settings.DATA_DIR) / "acme").glob("account-*.key"))
    assert len(keys) == 1
    assert keys[0].stat().st_mode & 0o077 == 0
    assert "PRIVATE KEY" not in keys[0].read_text()


def test_a_new_alias_gets_a_new_certificate_and_a_suspended_site_stays_on_https(
    server, member, acme, nginx_stack
):
    domain, alias = "t-marche.example.org", "www.t-marche.example.org"
    service = static_site(member, server, domain)
    apply(service)
    update_service_spec(service, actor=None, spec={"aliases": [alias]})

    # nginx first answers for the alias (with the old certificate), then the CA checks it.
    assert plan(service) == ["nginx-site", "nginx-reload", "tls-certificate"]
    apply(service)
    status, _body, cert = https_get(nginx_stack.https_port, alias, acme.trust())
    assert (status, san(cert)) == (200, {domain, alias})

    suspend_service(service, actor=None)
    apply(service)
    status, body, _cert = https_get(nginx_stack.https_port, domain, acme.trust())
    assert status == 503 and "Service suspendu" in body
    assert fetch(nginx_stack.port, domain).status == 301
    assert plan(service) == []
