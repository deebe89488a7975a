"""Each kind of probe against real servers on loopback: HTTP (aiohttp), TCP, TLS with a
self-signed certificate, and DNS from a small UDP responder built with dnspython."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rrset
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ronron.monitoring.probes import Outcome, Probe, new_session, run_probe


def _probe(kind: str, target: str, settings: dict[str, Any] | None = None, timeout: int = 5):
    return Probe(1, kind, target, settings or {}, 60, timeout)


def _run(probe: Probe) -> Outcome:
    async def go() -> Outcome:
        async with new_session() as session:
            return await run_probe(probe, session)

    return asyncio.run(go())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- HTTP ---------------------------------------------------------------------------------------


@asynccontextmanager
async def _web_app(routes: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]):
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_route("*", path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _page(request: web.Request) -> web.Response:
    return web.Response(text="<h1>Bienvenue chez Mon Asso</h1>", content_type="text/html")


async def _broken(request: web.Request) -> web.Response:
    return web.Response(status=503, text="maintenance")


async def _moved(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/elsewhere")


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("s", "0.3")))
    return web.Response(text="slow but fine")


def _http_outcomes(cases: list[tuple[str, dict[str, Any], int]]) -> list[Outcome]:
    async def go() -> list[Outcome]:
        routes = {"/": _page, "/broken": _broken, "/moved": _moved, "/slow": _slow}
        async with _web_app(routes) as base, new_session() as session:
            return [
                await run_probe(Probe(1, "http", base + path, settings, 60, timeout), session)
                for path, settings, timeout in cases
            ]

    return asyncio.run(go())


def test_http_status_keyword_and_method() -> None:
    ok, head, missing, absent, present_absent, broken, accepted, moved, moved_strict = (
        _http_outcomes(
            [
                ("/", {"keyword": "Bienvenue"}, 5),
                ("/", {"method": "HEAD"}, 5),
                ("/", {"keyword": "Welcome"}, 5),
                ("/", {"keyword": "Erreur", "keyword_absent": True}, 5),
                ("/", {"keyword": "Bienvenue", "keyword_absent": True}, 5),
                ("/broken", {}, 5),
                ("/broken", {"expected_status": [200, "500-503"]}, 5),
                ("/moved", {}, 5),
                ("/moved", {"expected_status": [200]}, 5),
            ]
        )
    )
    assert (ok.status, ok.message.startswith("HTTP 200")) == ("up", True)
    assert ok.latency_ms is not None and ok.latency_ms < 1000
    assert head.status == "up"
    assert missing.status == "down" and "does not contain “Welcome”" in missing.message
    assert absent.status == "up"
    assert present_absent.status == "down" and "contains “Bienvenue”" in present_absent.message
    assert broken.status == "down" and "HTTP 503 (expected 200-399)" in broken.message
    assert accepted.status == "up"
    # Redirects are answers, not followed: a 301 is up by default, down when only 200 will do.
    assert moved.status == "up"
    assert moved_strict.status == "down" and "HTTP 301" in moved_strict.message


def test_http_latency_thresholds_and_timeout() -> None:
    fast, warned, too_slow, timed_out = _http_outcomes(
        [
            ("/slow?s=0", {"latency_warn_ms": 200, "latency_max_ms": 2000}, 5),
            ("/slow?s=0.3", {"latency_warn_ms": 200, "latency_max_ms": 2000}, 5),
            ("/slow?s=0.3", {"latency_max_ms": 150}, 5),
            ("/slow?s=3", {}, 1),
        ]
    )
    assert fast.status == "up"
    assert warned.status == "degraded" and warned.latency_ms is not None
    assert 300 <= warned.latency_ms < 2000
    assert "slower than 200 ms" in warned.message
    assert too_slow.status == "down" and "slower than the 150 ms allowed" in too_slow.message
    assert timed_out.status == "down" and timed_out.latency_ms is None
    assert timed_out.message == "No answer within 1 s."


def test_http_refused_and_unresolvable() -> None:
    refused = _run(_probe("http", f"http://127.0.0.1:{_free_port()}/"))
    assert refused.status == "down" and refused.message == "Connection refused."
    unknown = _run(_probe("http", "http://nothing-here.invalid/"))
    assert unknown.status == "down"


# -- TCP ----------------------------------------------------------------------------------------


def test_tcp_open_and_closed_port() -> None:
    async def go() -> tuple[int, Outcome, Outcome]:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with new_session() as session:
            opened = await run_probe(_probe("tcp", f"127.0.0.1:{port}"), session)
            server.close()
            await server.wait_closed()
            closed = await run_probe(_probe("tcp", f"127.0.0.1:{port}"), session)
        return port, opened, closed

    port, opened, closed = asyncio.run(go())
    assert opened.status == "up" and opened.latency_ms is not None
    assert f"Port {port} open" in opened.message
    assert closed.status == "down" and closed.message == "Connection refused."


# -- certificates -------------------------------------------------------------------------------


def _self_signed(tmp_path: Path, name: str, valid_for: dt.timedelta) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "monasso.test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + valid_for)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


def _certificate_outcomes(
    tmp_path: Path, cases: list[tuple[dt.timedelta, dict[str, Any]]]
) -> list[Outcome]:
    async def go() -> list[Outcome]:
        results = []
        async with new_session() as session:
            for index, (valid_for, settings) in enumerate(cases):
                context = _self_signed(tmp_path, f"c{index}", valid_for)

                async def accept(
                    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                ) -> None:
                    await reader.read(1)
                    writer.close()

                server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=context)
                port = server.sockets[0].getsockname()[1]
                probe = _probe("certificate", f"127.0.0.1:{port}", settings)
                results.append(await run_probe(probe, session))
                server.close()
                await server.wait_closed()
        return results

    return asyncio.run(go())


def test_certificate_expiry(tmp_path: Path) -> None:
    unverified = {"verify_tls": False}
    fine, soon, very_soon, expired, custom, untrusted = _certificate_outcomes(
        tmp_path,
        [
            (dt.timedelta(days=90), unverified),
            (dt.timedelta(days=20, hours=1), unverified),
            (dt.timedelta(days=5, hours=1), unverified),
            (dt.timedelta(days=-1), unverified),
            (dt.timedelta(days=40, hours=1), {"verify_tls": False, "min_days": 30}),
            (dt.timedelta(days=90), {}),
        ],
    )
    assert fine.status == "up" and "expires in 89 days" in fine.message
    # Below twice the minimum (14 days by default): degraded; below the minimum: down.
    assert soon.status == "degraded" and "expires in 20 days" in soon.message
    assert very_soon.status == "down" and "expires in 5 days" in very_soon.message
    assert expired.status == "down" and "expired on" in expired.message
    assert custom.status == "degraded"
    # Verified by default: a self-signed certificate is not trusted.
    assert untrusted.status == "down" and "not trusted" in untrusted.message


# -- DNS ----------------------------------------------------------------------------------------

ZONE = {
    ("monasso.test.", "A"): ["192.0.2.10", "192.0.2.11"],
    ("monasso.test.", "MX"): ["10 mail.monasso.test."],
    ("monasso.test.", "TXT"): ['"v=spf1 mx -all"'],
}


class _DnsResponder(asyncio.DatagramProtocol):
    """Answers from ZONE; NXDOMAIN for names it does not know; no answer for other types."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        if not any(known == name for known, _type in ZONE):
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif (name, rdtype) in ZONE:
            response.answer.append(
                dns.rrset.from_text_list(name, 300, "IN", rdtype, ZONE[(name, rdtype)])
            )
        self.transport.sendto(response.to_wire(), addr)  # type: ignore[attr-defined]


@asynccontextmanager
async def _dns_server() -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, _protocol = await loop.create_datagram_endpoint(
        _DnsResponder, local_addr=("127.0.0.1", 0)
    )
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


def test_dns_records_against_a_local_resolver() -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("monasso.test", {"record_type": "A", "expected_values": ["192.0.2.11"]}),
        ("monasso.test", {"record_type": "A", "expected_values": ["192.0.2.99"]}),
        ("monasso.test", {"record_type": "MX", "expected_values": ["mail.monasso.test"]}),
        ("monasso.test", {"record_type": "TXT", "expected_values": ["v=spf1 mx -all"]}),
        ("monasso.test", {"record_type": "AAAA"}),
        ("absent.test", {"record_type": "A"}),
    ]

    async def go() -> list[Outcome]:
        async with _dns_server() as port, new_session() as session:
            return [
                await run_probe(
                    _probe(
                        "dns",
                        name,
                        {**settings, "nameserver": "127.0.0.1", "nameserver_port": port},
                    ),
                    session,
                )
                for name, settings in cases
            ]

    found, wrong, mx, txt, no_aaaa, nxdomain = asyncio.run(go())
    assert found.status == "up" and "192.0.2.10, 192.0.2.11" in found.message
    assert wrong.status == "down" and "without 192.0.2.99" in wrong.message
    assert mx.status == "up"
    assert txt.status == "up"
    assert no_aaaa.status == "down" and "has no AAAA record" in no_aaaa.message
    assert nxdomain.status == "down" and "does not exist" in nxdomain.message


def test_dns_server_that_does_not_answer() -> None:
    # A UDP port with nobody behind it: the probe times out (or is refused), never hangs.
    outcome = _run(
        _probe(
            "dns", "monasso.test", {"nameserver": "127.0.0.1", "nameserver_port": _free_port()}, 2
        )
    )
    assert outcome.status == "down"


@pytest.mark.parametrize("kind", ["http", "tcp", "certificate", "dns"])
def test_a_probe_never_raises(kind: str) -> None:
    # Nonsense that validation would have refused still comes back as an outcome.
    outcome = _run(_probe(kind, "::::", {}, 1))
    assert outcome.status == "down" and outcome.message
