"""The one format of a secret, shared by the page's JavaScript (static/secrets/secret.js, with
WebCrypto) and by Ronron when it hands out credentials it created (with ``cryptography``).

- The link key ``K``: 32 random bytes, in the link's fragment as unpadded base64url.
- With a passphrase: a 16-byte random salt, and
  ``P = PBKDF2-HMAC-SHA-256(NFC(passphrase), salt, iterations, 32 bytes)``; the key material is
  ``K ‖ P``. Without: the key material is ``K`` and the salt is empty. The passphrase is thus
  added to the link's key, never used instead of it: a weak passphrase weakens nothing.
- The AES key: ``HKDF-SHA-256(key material, salt, info=INFO, 32 bytes)``.
- ``AES-256-GCM(key, iv = 12 random bytes, UTF-8 text, additional data = INFO)``.

The server stores the ciphertext, the iv, the salt and the iteration count, all base64url.
"""

from __future__ import annotations

import base64
import binascii
import os
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

INFO = b"ronron secret v1"
KEY_BYTES = 32
IV_BYTES = 12
SALT_BYTES = 16
TAG_BYTES = 16
# OWASP's 2023 figure for PBKDF2-HMAC-SHA-256; the bounds are what the server accepts.
ITERATIONS = 600_000
MIN_ITERATIONS = 100_000
MAX_ITERATIONS = 10_000_000


class WrongKey(Exception):
    """The link's key or the passphrase does not open this secret."""


@dataclass(frozen=True)
class Sealed:
    ciphertext: str
    iv: str
    salt: str = ""
    iterations: int = 0


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Unpadded base64url; ValueError on anything else (standard base64's + and / included)."""
    if not text or any(c not in _B64URL for c in text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _aes_key(link_key: bytes, salt: bytes, iterations: int, passphrase: str | None) -> bytes:
    material = link_key
    if salt:
        if not passphrase:
            raise WrongKey("a passphrase is needed")
        stretched = PBKDF2HMAC(
            algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations
        ).derive(unicodedata.normalize("NFC", passphrase).encode("utf-8"))
        material = link_key + stretched
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=INFO).derive(material)


def seal(
    text: str, *, passphrase: str | None = None, iterations: int = ITERATIONS
) -> tuple[str, Sealed]:
    """Encrypt ``text`` under a fresh link key; returns the key (for the link only, never to be
    stored) and what the server stores."""
    link_key = os.urandom(KEY_BYTES)
    salt = os.urandom(SALT_BYTES) if passphrase else b""
    iv = os.urandom(IV_BYTES)
    key = _aes_key(link_key, salt, iterations if salt else 0, passphrase)
    ciphertext = AESGCM(key).encrypt(iv, text.encode("utf-8"), INFO)
    sealed = Sealed(
        ciphertext=b64encode(ciphertext),
        iv=b64encode(iv),
        salt=b64encode(salt) if salt else "",
        iterations=iterations if salt else 0,
    )
    return b64encode(link_key), sealed


def open_sealed(sealed: Sealed, link_key: str, passphrase: str | None = None) -> str:
    try:
        key_bytes = b64decode(link_key)
    except ValueError as exc:
        raise WrongKey("the link's key is damaged") from exc
    if len(key_bytes) != KEY_BYTES:
        raise WrongKey("the link's key is damaged")
    salt = b64decode(sealed.salt) if sealed.salt else b""
    key = _aes_key(key_bytes, salt, sealed.iterations, passphrase)
    try:
        plain = AESGCM(key).decrypt(b64decode(sealed.iv), b64decode(sealed.ciphertext), INFO)
    except InvalidTag as exc:
        raise WrongKey("wrong key or passphrase") from exc
    return plain.decode("utf-8")
