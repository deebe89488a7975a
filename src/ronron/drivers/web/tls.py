"""TLS certificates through ACME (RFC 8555, HTTP-01), with certbot's ``acme`` library.

Ronron is the ACME client; the server only receives files through its host: the challenge
answer under ``<acme_root>/.well-known/acme-challenge/`` (nginx serves that path on the HTTP
port for every managed site, suspended or redirected to HTTPS alike), then the certificate and
its key under ``<certs_dir>/<slug>/``.

A site's key (ECDSA P-256) is made once and kept across renewals: a renewal then replaces a
single file, atomically, so nginx never meets a certificate with a key that does not match.
The ACME account key is made once per certificate authority and kept in the data directory,
encrypted with the credentials key (``ronron.core.crypto``), like every other secret.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ronron.drivers.web import nginx
from ronron.drivers.web.site import Site
from ronron.fleet.hosts import HostError

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.fleet.layout import Layout

# Renewed when fewer days than this remain (Let's Encrypt certificates last 90 days).
RENEW_BEFORE = datetime.timedelta(days=30)
# How long one order may take, challenges and issuance included.
ORDER_TIMEOUT = datetime.timedelta(seconds=90)
CHALLENGE_DIR = ".well-known/acme-challenge"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
# What ``observe`` reports in parts["certificate"]; all but "valid" and "off" need an order.
NEEDS_ORDER = ("missing", "names", "expiring")


# --- spec and settings --------------------------------------------------------------------------


def validate_tls(value: Any) -> bool:
    """The spec's ``tls`` flag (absent: on)."""
    if value in (None, ""):
        return True
    if not isinstance(value, bool):
        raise ValidationError(_("HTTPS is either on (true) or off (false)."), code="tls")
    return value


def acme_settings() -> dict[str, str]:
    config = settings.RONRON
    return {
        "directory": config.acme_directory,
        "email": config.acme_email,
        "ca_bundle": config.acme_ca_bundle,
    }


def acme_enabled(layout: Layout, spec: dict[str, Any]) -> bool:
    """Whether Ronron should obtain a certificate for this site: the site wants HTTPS, its
    server takes part in ACME and a certificate authority is configured."""
    return spec.get("tls", True) is not False and layout.acme and bool(acme_settings()["directory"])


# --- on the server ------------------------------------------------------------------------------


def paths(layout: Layout, slug: str) -> tuple[str, str, str]:
    """(directory, fullchain.pem, privkey.pem) of a site."""
    directory = nginx.check_path(f"{layout.certs_dir}/{nginx.check_slug(slug)}")
    return directory, f"{directory}/fullchain.pem", f"{directory}/privkey.pem"


def _public(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(str(name).lower() for name in san.value.get_values_for_type(x509.DNSName))


def observe_certificate(
    host: Host, site: Site
) -> tuple[bool, datetime.datetime | None, tuple[str, ...]]:
    """(exists, expiry, names) of the site's certificate. A certificate counts only with its
    key beside it, and only if they match: nginx would refuse anything else."""
    _directory, chain, key = paths(host.layout, site.slug)
    if not (host.exists(chain) and host.exists(key)):
        return False, None, ()
    try:
        cert = x509.load_pem_x509_certificate(host.read_file(chain))
        private = serialization.load_pem_private_key(host.read_file(key), password=None)
    except (ValueError, TypeError):
        return False, None, ()
    if _public(cert.public_key()) != _public(private.public_key()):
        return False, None, ()
    return True, cert.not_valid_after_utc, _names(cert)


def certificate_status(
    host: Host, site: Site, now: datetime.datetime | None = None
) -> tuple[str, datetime.datetime | None]:
    """("missing" | "names" | "expiring" | "valid", expiry)."""
    exists, not_after, names = observe_certificate(host, site)
    if not exists or not_after is None:
        return "missing", None
    if not set(site.server_names) <= set(names):
        return "names", not_after
    now = now or datetime.datetime.now(datetime.UTC)
    if not_after - now < RENEW_BEFORE:
        return "expiring", not_after
    return "valid", not_after


def observe(host: Host, site: Site, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(parts, facts) for a driver's observation.

    ``tls``: serve HTTPS (a usable certificate is in place and the site does not refuse HTTPS);
    ``certificate``: its status, or "off" when Ronron is not to obtain one."""
    status, not_after = certificate_status(host, site)
    serve = status != "missing" and spec.get("tls", True) is not False
    if not acme_enabled(host.layout, spec):
        status = "off"
    facts: dict[str, Any] = {"tls": serve}
    if not_after is not None:
        facts["certificate_expires"] = not_after.isoformat()
    return {"tls": serve, "certificate": status}, facts


def steps(
    site: Site, parts: dict[str, Any], site_at: Callable[[Host], Site]
) -> list[tuple[str, str, Callable[[Host], str]]]:
    """(key, description, run) of the steps that get, renew or start using a certificate.

    They come after the driver's own nginx steps: by then nginx serves the challenge path for
    every name of the site (``site_at`` gives the site as the driver builds it on a host)."""
    if parts.get("certificate") not in NEEDS_ORDER:
        return []
    found: list[tuple[str, str, Callable[[Host], str]]] = [
        (
            "tls-certificate",
            _("obtain a TLS certificate for %(domain)s") % {"domain": site.domain},
            lambda host: obtain_certificate(host, site_at(host), **acme_settings()),
        )
    ]
    if not parts.get("tls"):
        found += [
            (
                "nginx-site-tls",
                _("serve %(domain)s over HTTPS") % {"domain": site.domain},
                lambda host: nginx.write_server_block(host, replace(site_at(host), tls=True)),
            ),
            ("nginx-reload-tls", _("reload nginx"), lambda host: nginx.reload(host, site.slug)),
        ]
    return found


def remove_certificate(host: Host, slug: str) -> str:
    directory, _chain, _key = paths(host.layout, slug)
    if not host.exists(directory):
        return "no certificate to remove"
    host.run(["rm", "-rf", "--one-file-system", "--", directory])
    return f"removed {directory}"


# --- ACME ------------------------------------------------------------------------------------


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def account_key(directory: str) -> ec.EllipticCurvePrivateKey:
    """This certificate authority's account key: made the first time, kept encrypted in
    ``DATA_DIR/acme/`` (one file per directory URL, mode 0600)."""
    from ronron.core import crypto

    digest = hashlib.sha256(directory.encode()).hexdigest()[:16]
    path = Path(settings.DATA_DIR) / "acme" / f"account-{digest}.key"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        with os.fdopen(fd, "w") as handle:
            handle.write(crypto.encrypt(_pem(ec.generate_private_key(ec.SECP256R1())).decode()))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # A link, not a rename: a key another worker made meanwhile is never replaced.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    key = serialization.load_pem_private_key(
        crypto.decrypt(path.read_text().strip()).encode(), password=None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _site_key(host: Host, site: Site) -> bytes:
    """The site's private key, made and written (root only) the first time."""
    directory, _chain, key_path = paths(host.layout, site.slug)
    if host.exists(key_path):
        pem = host.read_file(key_path)
        try:
            serialization.load_pem_private_key(pem, password=None)
            return pem
        except (ValueError, TypeError):
            pass  # unreadable: replaced below, nothing can use it
    host.run(["mkdir", "-p", "-m", "0755", nginx.check_path(host.layout.certs_dir), directory])
    pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    # nginx reads keys in its master process, as root: nobody else needs to.
    host.write_file(key_path, pem, 0o600, "root", "root")
    return pem


def _explain(exc: BaseException, directory: str, names: str) -> str:
    import requests
    from acme import errors

    if isinstance(exc, requests.exceptions.SSLError):
        return (
            f"the certificate authority at {directory} is not trusted (check acme_ca_bundle): {exc}"
        )
    if isinstance(exc, requests.RequestException):
        return f"cannot reach the certificate authority at {directory}: {exc}"
    if isinstance(exc, errors.ValidationError):
        return (
            f"the certificate authority could not check that {names} lead to this server "
            f"(DNS, firewall or HTTP port): {exc}"
        )
    if isinstance(exc, errors.TimeoutError):
        return f"the certificate authority did not answer in time for {names}"
    return f"the certificate authority refused a certificate for {names}: {exc}"


def obtain_certificate(
    host: Host, site: Site, *, directory: str, email: str = "", ca_bundle: str = ""
) -> str:
    """Order a certificate for the site's names, answer HTTP-01 through the host, install the
    certificate, then test and reload nginx. Returns a journal line (never a key)."""
    import requests
    from acme import challenges, client, crypto_util, errors, messages
    from josepy import ES256, JWKEC

    if not directory:
        raise HostError("no certificate authority is configured (acme_directory)")
    layout = host.layout
    names = [nginx.check_domain(name) for name in site.server_names]
    shown = ", ".join(names)
    _directory, chain_path, _key_path = paths(layout, site.slug)
    key_pem = _site_key(host, site)
    csr = crypto_util.make_csr(key_pem, names)
    challenge_dir = nginx.check_path(f"{layout.acme_root}/{CHALLENGE_DIR}")
    written: list[str] = []
    try:
        net = client.ClientNetwork(
            JWKEC(key=account_key(directory)),
            alg=ES256,
            # requests takes a CA file where it takes True: pebble's own certificate in tests.
            verify_ssl=ca_bundle or True,  # type: ignore[arg-type]
            user_agent="ronron",
            timeout=30,
        )
        acme = client.ClientV2(client.ClientV2.get_directory(directory, net), net)
        registration = messages.NewRegistration.from_data(
            email=email or None, terms_of_service_agreed=True
        )
        try:
            acme.new_account(registration)
        except errors.ConflictError as exc:
            # The key already has an account: use it.
            net.account = messages.RegistrationResource(
                uri=exc.location, body=messages.Registration()
            )
        order = acme.new_order(csr)
        answers = []
        for authz in order.authorizations:
            if authz.body.status == messages.STATUS_VALID:
                continue
            challenge = next(
                (c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)),
                None,
            )
            if challenge is None:
                raise HostError(f"the certificate authority offers no HTTP-01 check for {shown}")
            response, validation = challenge.response_and_validation(net.key)
            token = challenge.chall.encode("token")
            if not _TOKEN.fullmatch(token):
                raise HostError("the certificate authority sent an unexpected token")
            if not written:
                host.run(["mkdir", "-p", "-m", "0755", challenge_dir])
            path = f"{challenge_dir}/{token}"
            host.write_file(path, validation, 0o644)
            written.append(path)
            answers.append((challenge, response))
        for challenge, response in answers:
            acme.answer_challenge(challenge, response)
        # The library compares this deadline with naive local time.
        deadline = datetime.datetime.now() + ORDER_TIMEOUT
        order = acme.poll_and_finalize(order, deadline)
    except (errors.Error, requests.RequestException, OSError) as exc:
        raise HostError(_explain(exc, directory, shown)) from None
    finally:
        if written:
            host.run(["rm", "-f", "--", *written], check=False)

    fullchain = order.fullchain_pem.encode()
    leaf = x509.load_pem_x509_certificate(fullchain)
    key = serialization.load_pem_private_key(key_pem, password=None)
    if _public(leaf.public_key()) != _public(key.public_key()) or not set(names) <= set(
        _names(leaf)
    ):
        raise HostError(f"the certificate received for {shown} does not match what was asked")
    host.write_file(chain_path, fullchain, 0o644, "root", "root")
    reloaded = nginx.reload(host, site.slug)
    issuer = leaf.issuer.rfc4514_string()
    expires = leaf.not_valid_after_utc.strftime("%Y-%m-%d")
    return f"certificate for {shown} from {issuer}, valid until {expires}; {reloaded}"
