"""Debian's ``pebble`` ACME test CA on loopback, with ``pebble-challtestsrv`` as its DNS server
(every name resolves to 127.0.0.1), so that pebble validates HTTP-01 challenges against the
test nginx. Started by their own binaries and stopped at the end of the session.

pebble's own HTTPS uses a self-signed certificate made here (Debian ships none); Ronron trusts
it through ``acme_ca_bundle``. The certificates pebble issues chain to a root it makes at
start-up, fetched from its management interface (``/roots/0``).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.stack.nginx import NginxStack, free_port

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"


@dataclass(frozen=True)
class Pebble:
    base: Path
    port: int
    management_port: int
    ca_bundle: Path  # pebble's own HTTPS certificate (self-signed)
    root_pem: str  # the root its certificates chain to

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def trust(self) -> ssl.SSLContext:
        """A TLS client context that trusts what pebble issues, and only that."""
        context = ssl.create_default_context(cadata=self.root_pem)
        return context


def self_signed(names: list[str], ips: list[str], days: int) -> tuple[bytes, bytes]:
    """(certificate, key) in PEM, ECDSA P-256, valid from one hour ago for ``days`` days."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (names or ips)[0])])
    now = datetime.datetime.now(datetime.UTC)
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _wait_for_port(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"{name} stopped: {err[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{name} did not answer on port {port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_pebble(http_port: int) -> tuple[Pebble, list[subprocess.Popen[bytes]]]:
    """pebble validating HTTP-01 on ``http_port`` of 127.0.0.1, and its DNS server."""
    base = Path(tempfile.mkdtemp(prefix="ronron-pebble-", dir="/tmp"))
    cert, key = self_signed(["localhost"], ["127.0.0.1"], days=30)
    (base / "cert.pem").write_bytes(cert)
    (base / "key.pem").write_bytes(key)
    dns_port, management, port, pebble_management = (free_port() for _ in range(4))
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{pebble_management}",
            "certificate": str(base / "cert.pem"),
            "privateKey": str(base / "key.pem"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (base / "pebble.json").write_text(json.dumps(config))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # Only its DNS server: A 127.0.0.1 for every name, no AAAA.
        flags = {
            "-defaultIPv4": "127.0.0.1",
            "-defaultIPv6": "",
            "-dns01": f"127.0.0.1:{dns_port}",
            "-http01": "",
            "-https01": "",
            "-tlsalpn01": "",
            "-management": f"127.0.0.1:{management}",
        }
        dns = subprocess.Popen(
            [CHALLTESTSRV, *(part for flag in flags.items() for part in flag)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        processes.append(dns)
        _wait_for_port(dns_port, dns, "pebble-challtestsrv")
        env = {
            **os.environ,
            # No random sleep before validating, no random nonce rejection: fast and certain.
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": "0",
        }
        ca = subprocess.Popen(
            [PEBBLE, "-config", str(base / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns_port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=base,
        )
        processes.append(ca)
        _wait_for_port(port, ca, "pebble")
        _wait_for_port(pebble_management, ca, "pebble")
        context = ssl.create_default_context(cafile=str(base / "cert.pem"))
        url = f"https://127.0.0.1:{pebble_management}/roots/0"
        with urllib.request.urlopen(url, context=context, timeout=10) as answer:
            root = answer.read().decode()
    except BaseException:
        for process in reversed(processes):
            _stop(process)
        shutil.rmtree(base, ignore_errors=True)
        raise
    return Pebble(base, port, pebble_management, base / "cert.pem", root), processes


def stop_pebble(pebble: Pebble, processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        _stop(process)
    shutil.rmtree(pebble.base, ignore_errors=True)


@pytest.fixture(scope="session")
def pebble(nginx_stack: NginxStack) -> Iterator[Pebble]:
    for binary in (PEBBLE, CHALLTESTSRV):
        if not os.path.exists(binary):
            pytest.skip("pebble is not installed (scripts/install-test-deps)")
    stack, processes = start_pebble(nginx_stack.port)
    try:
        yield stack
    finally:
        stop_pebble(stack, processes)
