"""Credentials encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256, from `cryptography`).

The keys come from the configuration (`credentials_key`); the first one encrypts, all of them
decrypt, so that a key can be rotated without losing what the old one encrypted.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.RONRON.credentials_keys))


def encrypt(text: str) -> str:
    return fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "cannot decrypt a stored credential: the credentials_key is not the one it was "
            "encrypted with"
        ) from exc


class EncryptedJSONField(models.TextField):
    """A JSON value stored encrypted. Never shown in the audit log: snapshot() skips it."""

    encrypted = True

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return None
        return json.loads(decrypt(value))

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, sort_keys=True))

    def value_to_string(self, obj: models.Model) -> str:
        return "<encrypted>"
