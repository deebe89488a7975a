"""Storing, finding and claiming secrets. The claim is one statement: ``DELETE … RETURNING``
(SQLite 3.35+, PostgreSQL) removes the row and hands back its ciphertext at once, so of any
number of concurrent reveals exactly one gets it, and a revealed secret is gone from storage."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from ronron.secrets import envelope
from ronron.secrets.envelope import Sealed
from ronron.secrets.models import Delivery, Secret

SHORTEST = timedelta(hours=1)
LONGEST = timedelta(days=30)
# 16 random bytes, unpadded base64url.
ID_PATTERN = r"[A-Za-z0-9_-]{22}"
_ID = re.compile(ID_PATTERN)


def new_id() -> str:
    return secrets.token_urlsafe(16)


def lookup_of(secret_id: str) -> str:
    return hashlib.sha256(secret_id.encode("ascii")).hexdigest()


def largest_ciphertext() -> int:
    return int(settings.RONRON.secrets.max_bytes) + envelope.TAG_BYTES


def check_sealed(data: Any) -> Sealed:
    """What a browser sent, checked field by field; ValidationError with a plain message."""
    if not isinstance(data, dict):
        raise ValidationError(_("The request is not understood."), code="invalid")
    ciphertext, iv = data.get("ciphertext"), data.get("iv")
    salt, iterations = data.get("salt") or "", data.get("iterations") or 0
    if (
        not isinstance(ciphertext, str)
        or not isinstance(iv, str)
        or not isinstance(salt, str)
        or not isinstance(iterations, int)
        or isinstance(iterations, bool)
    ):
        raise ValidationError(_("The request is not understood."), code="invalid")
    try:
        raw = envelope.b64decode(ciphertext)
        raw_iv = envelope.b64decode(iv)
        raw_salt = envelope.b64decode(salt) if salt else b""
    except ValueError:
        raise ValidationError(_("The encrypted secret is damaged."), code="invalid") from None
    if len(raw) > largest_ciphertext():
        raise ValidationError(too_big_message(), code="too_big")
    if len(raw) <= envelope.TAG_BYTES:
        raise ValidationError(_("The secret is empty."), code="empty")
    if len(raw_iv) != envelope.IV_BYTES:
        raise ValidationError(_("The encrypted secret is damaged."), code="invalid")
    if raw_salt and (
        len(raw_salt) != envelope.SALT_BYTES
        or not envelope.MIN_ITERATIONS <= iterations <= envelope.MAX_ITERATIONS
    ):
        raise ValidationError(_("The passphrase settings are not accepted."), code="invalid")
    if not raw_salt and iterations:
        raise ValidationError(_("The passphrase settings are not accepted."), code="invalid")
    return Sealed(ciphertext=ciphertext, iv=iv, salt=salt, iterations=iterations)


def too_big_message() -> str:
    return _("The secret is too long: at most %(size)s bytes.") % {
        "size": settings.RONRON.secrets.max_bytes
    }


def check_lifetime(seconds: Any) -> timedelta:
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise ValidationError(_("Choose how long the link stays valid."), code="invalid")
    lifetime = timedelta(seconds=seconds)
    if not SHORTEST <= lifetime <= LONGEST:
        raise ValidationError(
            _("A link stays valid from 1 hour to 30 days."), code="lifetime_out_of_range"
        )
    return lifetime


def store(sealed: Sealed, *, lifetime: timedelta, origin: str) -> tuple[str, Secret]:
    """Keep a sealed secret; returns the identifier for the link (only its hash is stored)."""
    purge_expired()
    now = timezone.now()
    secret_id = new_id()
    row = Secret.objects.create(
        lookup=lookup_of(secret_id),
        ciphertext=sealed.ciphertext,
        iv=sealed.iv,
        salt=sealed.salt,
        iterations=sealed.iterations,
        size=len(envelope.b64decode(sealed.ciphertext)),
        origin=origin,
        created_at=now,
        expires_at=now + lifetime,
    )
    return secret_id, row


def peek(secret_id: str) -> Secret | None:
    """The secret, if it can still be revealed; reads only (opening a link changes nothing)."""
    if not _ID.fullmatch(secret_id):
        return None
    return (
        Secret.objects.filter(lookup=lookup_of(secret_id), expires_at__gt=timezone.now())
        .only("lookup", "salt", "iterations", "expires_at", "size")
        .first()
    )


def claim(secret_id: str) -> Sealed | None:
    """Remove the secret and return it, or None if it is gone, expired or never was."""
    if not _ID.fullmatch(secret_id):
        return None
    lookup = lookup_of(secret_id)
    table = connection.ops.quote_name(Secret._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE lookup = %s AND expires_at > %s "  # noqa: S608 - table name from the model
            "RETURNING ciphertext, iv, salt, iterations",
            [lookup, now],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    Delivery.objects.filter(lookup=lookup, revealed_at__isnull=True).update(
        revealed_at=timezone.now()
    )
    return Sealed(ciphertext=row[0], iv=row[1], salt=row[2] or "", iterations=int(row[3]))


def purge_expired(now: datetime | None = None) -> int:
    """Remove expired secrets; run by the housekeeping and before each new secret."""
    deleted, _by_model = Secret.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
