"""Limits per client address, counted in the database so that every gunicorn process and both
database engines share one count.

A fixed window per scope: one upsert (``INSERT … ON CONFLICT … DO UPDATE … RETURNING``, SQLite
3.35+ and PostgreSQL) counts the hit and returns the total in one statement, so that concurrent
requests cannot both read "one left". django-ratelimit would need a shared cache with atomic
increments (Redis, Memcached), which a small hoster's embedded Ronron does not run.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from ronron.core.models import RateLimitWindow

KEEP = timedelta(days=1)


def client_address(request: HttpRequest) -> str:
    """The client's address. Behind a trusted reverse proxy, the last address that proxy saw
    (the rightmost entry of X-Forwarded-For not itself a trusted proxy); anyone can write the
    other entries."""
    trusted = set(settings.RONRON.trusted_proxies)
    address = str(request.META.get("REMOTE_ADDR") or "")
    if address not in trusted:
        return address
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        if hop not in trusted:
            return hop
    return address


def client_key(address: str) -> str:
    """A keyed hash of the address, so that the table holds no address. An IPv6 client holds a
    whole /64, so that is what is counted."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        normalised = address
    else:
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            normalised = str(parsed.ipv4_mapped)
        elif isinstance(parsed, ipaddress.IPv6Address):
            normalised = str(ipaddress.ip_network(f"{parsed}/64", strict=False))
        else:
            normalised = str(parsed)
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    hits: int
    limit: int
    retry_after: int  # seconds until the window ends


def hit(scope: str, request: HttpRequest, *, limit: int, window_seconds: int = 3600) -> Verdict:
    """Count one hit of ``scope`` by this request's client; allowed while within ``limit``."""
    now = time.time()
    period = int(now // window_seconds)
    table = connection.ops.quote_name(RateLimitWindow._meta.db_table)
    created = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, client, period, hits, created_at) "  # noqa: S608 - table name from the model
            "VALUES (%s, %s, %s, 1, %s) "
            "ON CONFLICT (scope, client, period) DO UPDATE "
            f"SET hits = {table}.hits + 1 RETURNING hits",
            [scope, client_key(client_address(request)), period, created],
        )
        row = cursor.fetchone()
    hits = int(row[0]) if row else limit + 1
    retry_after = max(1, int((period + 1) * window_seconds - now))
    return Verdict(allowed=hits <= limit, hits=hits, limit=limit, retry_after=retry_after)


def purge(now: datetime | None = None) -> int:
    """Forget windows older than a day (run by the housekeeping)."""
    cutoff = (now or timezone.now()) - KEEP
    deleted, _by_model = RateLimitWindow.objects.filter(created_at__lt=cutoff).delete()
    return deleted
