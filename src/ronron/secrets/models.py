"""One-time secrets: only ciphertext is stored, under a hash of the link's identifier.

The key that opens a secret lives in the link's fragment (``#…``), which browsers never send
to a server, so neither this table nor the server's logs can open what it holds.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Secret(models.Model):
    class Origin(models.TextChoices):
        PAGE = "page", _("public page")
        RONRON = "ronron", _("Ronron")

    # SHA-256 of the identifier in the link: reading this table does not give working links.
    lookup = models.CharField(_("lookup"), max_length=64, primary_key=True)
    # AES-256-GCM ciphertext and its nonce, base64url; see secrets/envelope.py for the format.
    ciphertext = models.TextField(_("ciphertext"))
    iv = models.CharField(_("nonce"), max_length=16)
    # Set only when a passphrase protects the secret: the PBKDF2 salt and its iterations.
    salt = models.CharField(_("salt"), max_length=24, blank=True)
    iterations = models.PositiveIntegerField(_("iterations"), default=0)
    size = models.PositiveIntegerField(_("size in bytes"))
    origin = models.CharField(_("origin"), max_length=10, choices=Origin.choices)
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("expires"), db_index=True)

    class Meta:
        verbose_name = _("secret")
        verbose_name_plural = _("secrets")

    def __str__(self) -> str:
        return f"secret {self.lookup[:8]}"

    @property
    def has_passphrase(self) -> bool:
        return bool(self.salt)


class Delivery(models.Model):
    """A link Ronron made for credentials it created, and to whom it went. Never the link
    itself: its key was not kept. Tells the console whether the link was opened."""

    lookup = models.CharField(_("lookup"), max_length=64, unique=True)
    purpose = models.CharField(_("purpose"), max_length=200)
    recipient = models.EmailField(_("recipient"))
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="secret_deliveries",
    )
    service = models.ForeignKey(
        "services.Service",
        verbose_name=_("service"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="secret_deliveries",
    )
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    revealed_at = models.DateTimeField(_("opened"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("credentials delivery")
        verbose_name_plural = _("credentials deliveries")

    def __str__(self) -> str:
        return f"{self.purpose} → {self.recipient}"
