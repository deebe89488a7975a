from __future__ import annotations

from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from ronron.core.crypto import EncryptedJSONField
from ronron.core.validators import reject_control_characters, validate_slug

ROLES = {
    "web": _("Web sites"),
    "lists": _("Mailing lists"),
    "cloud": _("Cloud"),
    "apps": _("Applications"),
}


class Server(models.Model):
    """A machine Ronron manages, reached through a host: this machine, or SSH."""

    class HostKind(models.TextChoices):
        LOCAL = "local", _("This machine")
        SSH = "ssh", _("SSH")

    name = models.CharField(_("name"), max_length=50, unique=True, validators=[validate_slug])
    description = models.CharField(
        _("description"), max_length=200, blank=True, validators=[reject_control_characters]
    )
    host_kind = models.CharField(
        _("reached through"), max_length=10, choices=HostKind.choices, default=HostKind.LOCAL
    )
    address = models.CharField(
        _("address"), max_length=255, blank=True, validators=[reject_control_characters]
    )
    port = models.PositiveIntegerField(
        _("SSH port"), default=22, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    ssh_user = models.CharField(
        _("SSH user"), max_length=32, blank=True, validators=[reject_control_characters]
    )
    # {"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----…", "host_key": "ssh-ed25519 AAAA…"}
    ssh_credentials = EncryptedJSONField(_("SSH credentials"), null=True, blank=True)
    # What Ronron logs into the applications of this server with:
    # {"nextcloud": {"user": "ronron", "password": "<app password>", "refused_at": "…"}}.
    # ``refused_at`` is set when the application refused them: nothing asks again with them
    # (Nextcloud's brute-force protection would lock Ronron out) until an admin sets new ones.
    app_credentials = EncryptedJSONField(_("application credentials"), null=True, blank=True)
    # Comma-separated values of ROLES, sorted ("lists,web").
    roles = models.CharField(_("roles"), max_length=100, blank=True)
    memory_mb = models.PositiveIntegerField(_("memory (MB)"), default=0)
    disk_gb = models.PositiveIntegerField(_("disk (GB)"), default=0)
    cpus = models.PositiveSmallIntegerField(_("CPUs"), default=0)
    # Where things live on this server, when it differs from Debian's defaults
    # (see ronron.fleet.layout.Layout): tests and unusual servers override some paths.
    layout = models.JSONField(_("layout"), default=dict, blank=True)
    # Last observation: {"memory_used_mb": …, "disk_used_gb": …, "load": …}
    usage = models.JSONField(_("observed usage"), default=dict, blank=True)
    usage_at = models.DateTimeField(_("observed on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("server")
        verbose_name_plural = _("servers")

    def __str__(self) -> str:
        return self.name

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]

    def host(self) -> Any:
        """The host through which drivers reach this server."""
        from ronron.fleet.hosts import host_for

        return host_for(self)
