from django.db import models
from django.utils.translation import gettext_lazy as _

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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["member", "family", "kind"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self) -> str:
        label = self.get_kind_display() if self.kind else self.get_family_display()
        return f"{label} ({self.member.number})" if not self.name else f"{self.name} ({label})"
