from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ronron.core.crypto import EncryptedJSONField
from ronron.core.validators import reject_control_characters
from ronron.members.models import Member
from ronron.services.kinds import FAMILIES, KIND_LABELS


class Service(models.Model):
    """One thing a member uses. *Managed* services are made real by Ronron's drivers (coming
    with the reconciler); *external* ones exist elsewhere and are only recorded, which is how a
    hoster adopts Ronron before migrating."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="services"
    )
    kind = models.CharField(
        _("kind"),
        max_length=30,
        blank=True,
        choices=[(k, v) for k, v in KIND_LABELS.items()],
        help_text=_("Empty when an external service is known only by its family."),
    )
    family = models.CharField(
        _("family"), max_length=30, choices=[(k, v) for k, v in FAMILIES.items()], db_index=True
    )
    managed = models.BooleanField(_("managed by Ronron"), default=False)
    name = models.CharField(
        _("name"), max_length=200, blank=True, validators=[reject_control_characters]
    )

    # What follows concerns managed services: the truth the reconciler makes real.
    class Wanted(models.TextChoices):
        PRESENT = "present", _("Present")
        SUSPENDED = "suspended", _("Suspended")
        ABSENT = "absent", _("Removed")

    class Observed(models.TextChoices):
        UNKNOWN = "unknown", _("Not observed yet")
        ABSENT = "absent", _("Absent")
        PARTIAL = "partial", _("Partly made")
        PRESENT = "present", pgettext_lazy("service state", "Running")
        SUSPENDED = "suspended", _("Suspended")

    server = models.ForeignKey(
        "fleet.Server",
        verbose_name=_("server"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="services",
    )
    # The name of the service on its server: system user site-<slug>, database, pool, files.
    slug = models.CharField(_("system name"), max_length=24, blank=True)
    # The main domain name, in its IDNA (ASCII) form; aliases live in the spec.
    domain = models.CharField(_("domain"), max_length=253, blank=True, db_index=True)
    spec = models.JSONField(_("settings"), default=dict, blank=True)
    wanted_state = models.CharField(
        _("wanted state"), max_length=20, choices=Wanted.choices, default=Wanted.PRESENT
    )
    observed_state = models.CharField(
        _("observed state"), max_length=20, choices=Observed.choices, default=Observed.UNKNOWN
    )
    observed = models.JSONField(_("observation"), default=dict, blank=True)
    observed_at = models.DateTimeField(_("observed on"), null=True, blank=True)
    # Credentials Ronron created for the member (admin password, database password…).
    credentials = EncryptedJSONField(_("credentials"), null=True, blank=True)
    # When the administrator's password was shown (once) in the console or the CLI.
    credentials_revealed_at = models.DateTimeField(_("credentials shown on"), null=True, blank=True)
    # Set once the service is removed for good (the row stays for the history and the archive).
    removed_at = models.DateTimeField(_("removed on"), null=True, blank=True)
    archive_path = models.CharField(_("archive"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["member", "family", "kind"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.UniqueConstraint(
                fields=["server", "slug"],
                condition=models.Q(managed=True, removed_at__isnull=True),
                name="service_unique_slug_per_server",
            ),
            models.UniqueConstraint(
                fields=["domain"],
                condition=models.Q(managed=True, removed_at__isnull=True) & ~models.Q(domain=""),
                name="service_unique_live_domain",
            ),
        ]

    def __str__(self) -> str:
        label = self.get_kind_display() if self.kind else self.get_family_display()
        return f"{label} ({self.member.number})" if not self.name else f"{self.name} ({label})"
