"""What the dues follow-up and the departures remember (members/dues_reminders.py,
members/offboarding.py): which dues message went to whom, which services a missed payment
suspended, and the verified export a departing member is offered.

Imported by ``members/models.py`` so that Django registers them with the app."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ronron.members.models import Member, Membership


class DuesNotice(models.Model):
    """One step of the follow-up of a year's dues for one member, done once: the call, the
    reminder, the cut-off notice, the suspension of its services. The row is written before
    the message goes, so a step is never taken twice; ``sent_at`` stays empty (and ``error``
    says why) until the message went, and the next run tries again."""

    class Step(models.TextChoices):
        CALL = "call", _("Dues called")
        REMINDER = "reminder", _("Reminder")
        CUTOFF = "cutoff", _("Cut-off notice")
        SUSPENDED = "suspended", _("Services suspended for non-payment")

    membership = models.ForeignKey(
        Membership,
        verbose_name=_("membership"),
        on_delete=models.CASCADE,
        related_name="dues_notices",
    )
    step = models.CharField(_("step"), max_length=20, choices=Step.choices)
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    # The suspension step: the services it suspended (primary keys), and when a payment
    # resumed them — only those, never one suspended for another reason.
    services = models.JSONField(_("services"), default=list, blank=True)
    resumed_at = models.DateTimeField(_("resumed"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["membership", "created_at"]
        verbose_name = _("dues notice")
        verbose_name_plural = _("dues notices")
        constraints = [
            models.UniqueConstraint(fields=["membership", "step"], name="dues_notice_once")
        ]

    def __str__(self) -> str:
        return f"{self.membership} {self.step}"


class DepartureExport(models.Model):
    """The export of all of a departing member's data, verified before it is offered through
    a link; only the SHA-256 of the link's token is kept."""

    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="departure_exports",
    )
    job = models.ForeignKey(
        "jobs.Job",
        verbose_name=_("job"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    file = models.CharField(_("file"), max_length=500, blank=True)
    size = models.BigIntegerField(_("size"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    # The services whose archive the export holds: only those may be removed.
    services = models.JSONField(_("services exported"), default=list, blank=True)
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    token_hash = models.CharField(_("link"), max_length=64, blank=True, db_index=True)
    expires_at = models.DateTimeField(_("link valid until"), null=True, blank=True)
    mailed_at = models.DateTimeField(_("link sent"), null=True, blank=True)
    mail_error = models.TextField(_("sending error"), blank=True)
    downloads = models.PositiveIntegerField(_("downloads"), default=0)
    # When the file was deleted with the member's personal data.
    erased_at = models.DateTimeField(_("file deleted"), null=True, blank=True)
    created_at = models.DateTimeField(_("made"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("departure export")
        verbose_name_plural = _("departure exports")

    def __str__(self) -> str:
        return f"{self.member.number} {self.created_at:%Y-%m-%d}"
