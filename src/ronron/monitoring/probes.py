"""One probe of one check: HTTP(S), TCP, DNS or certificate expiry, asynchronously.

:func:`run_probe` never raises: whatever goes wrong (refused, timed out, wrong answer) becomes an
:class:`Outcome` "down" with a message a volunteer can act on. Messages never include the
response body, and targets cannot hold credentials (see specs), so nothing secret is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import dns.asyncresolver
import dns.exception
import dns.resolver
from cryptography import x509
from django.utils.translation import gettext as _

from ronron.monitoring.specs import (
    DEFAULT_MIN_DAYS,
    expected_status_ranges,
    normalize_answer,
    split_target,
)

MESSAGE_LENGTH = 500
# A keyword is looked for in the first MiB of the body: enough for any home page.
BODY_LIMIT = 1 << 20
USER_AGENT = "Ronron-monitoring/1 (+status checks of a community hoster)"
UP, DEGRADED, DOWN = "up", "degraded", "down"


@dataclass(frozen=True)
class Probe:
    """What the prober holds of a check: enough to probe it, nothing to write back."""

    pk: int
    kind: str
    target: str
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    interval_s: int = 60
    timeout_s: int = 10


@dataclass(frozen=True)
class Outcome:
    pk: int
    at: datetime
    status: str
    latency_ms: int | None
    message: str

    def __post_init__(self) -> None:
        if len(self.message) > MESSAGE_LENGTH:
            object.__setattr__(self, "message", self.message[: MESSAGE_LENGTH - 1] + "…")


class _Failed(Exception):
    """A probe's answer was wrong; its message says how."""


def new_session(concurrency: int = 200) -> aiohttp.ClientSession:
    """The HTTP session the prober shares between its probes.

    A new connection for each probe: it is what a visitor's first request meets (connect, TLS
    handshake), and with one probe a minute per site a kept-alive connection would be closed by
    the server long before the next one anyway."""
    connector = aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=300, force_close=True)
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=True,
    )


async def run_probe(probe: Probe, session: aiohttp.ClientSession) -> Outcome:
    at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(probe.timeout_s):
            status, latency_ms, message = await _RUNNERS[probe.kind](probe, session)
    except TimeoutError:
        return Outcome(
            probe.pk,
            at,
            DOWN,
            None,
            _("No answer within %(seconds)d s.") % {"seconds": probe.timeout_s},
        )
    except _Failed as exc:
        return Outcome(probe.pk, at, DOWN, _elapsed_ms(started), str(exc))
    except Exception as exc:  # a probe reports; it never stops the prober
        return Outcome(probe.pk, at, DOWN, None, _describe(exc))
    return Outcome(probe.pk, at, status, latency_ms, message)


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))


def _describe(exc: BaseException) -> str:
    """A short, plain reason for a failure to connect or to talk."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _("Certificate not trusted: %(reason)s") % {"reason": exc.verify_message or str(exc)}
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return _("Certificate not trusted: %(reason)s") % {"reason": exc.certificate_error}
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, aiohttp.ClientConnectorError)
        and isinstance(exc.os_error, ConnectionRefusedError)
    ):
        return _("Connection refused.")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return _("The name does not resolve.")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _("Cannot connect: %(reason)s") % {"reason": exc.os_error.strerror or exc}
    if isinstance(exc, ssl.SSLError):
        return _("TLS error: %(reason)s") % {"reason": exc.reason or exc}
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return _("The server closed the connection without answering.")
    if isinstance(exc, OSError) and exc.strerror:
        return _("Cannot connect: %(reason)s") % {"reason": exc.strerror}
    return _("Failed: %(reason)s") % {"reason": str(exc) or type(exc).__name__}


# -- HTTP ---------------------------------------------------------------------------------------


async def _http(probe: Probe, session: aiohttp.ClientSession) -> tuple[str, int, str]:
    settings = probe.settings
    method = settings.get("method", "GET")
    keyword: str | None = settings.get("keyword")
    started = time.perf_counter()
    async with session.request(
        method,
        probe.target,
        allow_redirects=False,
        ssl=bool(settings.get("verify_tls", True)),
    ) as response:
        latency_ms = _elapsed_ms(started)
        code = response.status
        body = b""
        if keyword is not None and method == "GET":
            body = await _read_limited(response)
    ranges = expected_status_ranges(settings)
    if not any(low <= code <= high for low, high in ranges):
        expected = ", ".join(f"{low}" if low == high else f"{low}-{high}" for low, high in ranges)
        raise _Failed(
            _("Answered HTTP %(code)d (expected %(expected)s).")
            % {"code": code, "expected": expected}
        )
    if keyword is not None:
        found = keyword.encode("utf-8") in body
        if settings.get("keyword_absent", False) and found:
            raise _Failed(_("The page contains “%(keyword)s”.") % {"keyword": keyword})
        if not settings.get("keyword_absent", False) and not found:
            raise _Failed(_("The page does not contain “%(keyword)s”.") % {"keyword": keyword})
    return _judge_latency(settings, latency_ms, _("HTTP %(code)d") % {"code": code})


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= BODY_LIMIT:
            break
    return b"".join(chunks)[:BODY_LIMIT]


def _judge_latency(settings: dict[str, Any], latency_ms: int, what: str) -> tuple[str, int, str]:
    most = settings.get("latency_max_ms")
    if most is not None and latency_ms > most:
        raise _Failed(
            _("%(what)s in %(ms)d ms, slower than the %(max)d ms allowed.")
            % {"what": what, "ms": latency_ms, "max": most}
        )
    warn = settings.get("latency_warn_ms")
    if warn is not None and latency_ms > warn:
        return (
            DEGRADED,
            latency_ms,
            _("%(what)s in %(ms)d ms, slower than %(warn)d ms.")
            % {"what": what, "ms": latency_ms, "warn": warn},
        )
    return UP, latency_ms, _("%(what)s in %(ms)d ms.") % {"what": what, "ms": latency_ms}


# -- TCP and certificates -----------------------------------------------------------------------


async def _tcp(probe: Probe, session: aiohttp.ClientSession) -> tuple[str, int, str]:
    host, port = split_target(probe.target, 0)
    started = time.perf_counter()
    _reader, writer = await asyncio.open_connection(host, port)
    latency_ms = _elapsed_ms(started)
    await _close(writer)
    return UP, latency_ms, _("Port %(port)d open in %(ms)d ms.") % {"port": port, "ms": latency_ms}


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


def _tls_context(verify: bool) -> ssl.SSLContext:
    if verify:
        return ssl.create_default_context()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _certificate(probe: Probe, session: aiohttp.ClientSession) -> tuple[str, int, str]:
    host, port = split_target(probe.target, 443)
    started = time.perf_counter()
    _reader, writer = await asyncio.open_connection(
        host,
        port,
        ssl=_tls_context(probe.settings.get("verify_tls", True)),
        server_hostname=host,
    )
    latency_ms = _elapsed_ms(started)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    finally:
        await _close(writer)
    if not der:
        raise _Failed(_("The server sent no certificate."))
    not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
    seconds_left = (not_after - datetime.now(UTC)).total_seconds()
    days = int(seconds_left // 86_400)
    min_days = probe.settings.get("min_days", DEFAULT_MIN_DAYS)
    values = {"date": not_after.strftime("%Y-%m-%d"), "days": days}
    if seconds_left <= 0:
        raise _Failed(_("The certificate expired on %(date)s.") % values)
    if days < min_days:
        raise _Failed(_("The certificate expires in %(days)d days (%(date)s).") % values)
    message = _("The certificate expires in %(days)d days (%(date)s).") % values
    return (DEGRADED if days < 2 * min_days else UP), latency_ms, message


# -- DNS ----------------------------------------------------------------------------------------

_system_resolver: dns.asyncresolver.Resolver | None = None


def _resolver(settings: dict[str, Any]) -> dns.asyncresolver.Resolver:
    global _system_resolver
    nameserver = settings.get("nameserver")
    if nameserver is None:
        if _system_resolver is None:
            _system_resolver = dns.asyncresolver.Resolver()
        return _system_resolver
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [nameserver]
    resolver.port = settings.get("nameserver_port", 53)
    return resolver


async def _dns(probe: Probe, session: aiohttp.ClientSession) -> tuple[str, int, str]:
    settings = probe.settings
    record_type = settings.get("record_type", "A")
    started = time.perf_counter()
    values = {"type": record_type, "name": probe.target}
    try:
        answer = await _resolver(settings).resolve(
            probe.target, record_type, lifetime=probe.timeout_s, search=False
        )
    except dns.resolver.NXDOMAIN as exc:
        raise _Failed(_("%(name)s does not exist.") % values) from exc
    except dns.resolver.NoAnswer as exc:
        raise _Failed(_("%(name)s has no %(type)s record.") % values) from exc
    except dns.resolver.NoNameservers as exc:
        raise _Failed(_("No name server answered for %(name)s.") % values) from exc
    except dns.exception.Timeout as exc:
        raise TimeoutError from exc
    latency_ms = _elapsed_ms(started)
    answers = sorted({normalize_answer(rdata.to_text()) for rdata in answer})
    # MX answers read "10 mail.example.org": the exchange alone is accepted too.
    if record_type == "MX":
        answers_and_hosts = set(answers) | {value.split()[-1] for value in answers}
    else:
        answers_and_hosts = set(answers)
    missing = [
        value for value in settings.get("expected_values", []) if value not in answers_and_hosts
    ]
    shown = ", ".join(answers)[:300]
    if missing:
        raise _Failed(
            _("%(type)s of %(name)s is %(answers)s, without %(missing)s.")
            % {**values, "answers": shown, "missing": ", ".join(missing)[:100]}
        )
    return UP, latency_ms, _("%(type)s: %(answers)s") % {**values, "answers": shown}


_RUNNERS = {"http": _http, "tcp": _tcp, "dns": _dns, "certificate": _certificate}
