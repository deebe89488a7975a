"""The member portal: who manages which member, the hoster's catalog, what members ask for
(services and help)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ronron.core.validators import reject_control_characters


class ManagerAccess(models.Model):
    """A person's account manages one member's space in the portal. Every portal query is
    scoped through these rows (``core.scoping.scope``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="manager_accesses",
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="manager_accesses",
    )
    # A volunteer member who offered to help: also sees and answers the help queue.
    is_helper = models.BooleanField(_("volunteer helper"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("member manager")
        verbose_name_plural = _("member managers")
        constraints = [
            models.UniqueConstraint(fields=["user", "member"], name="portal_one_access_per_member")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.member}"


class Invitation(models.Model):
    """An e-mail invitation to manage a member: the link holds a token whose SHA-256 only is
    kept; accepting it creates (or links) the account."""

    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="invitations",
    )
    email = models.EmailField(_("e-mail"))
    token_hash = models.CharField(_("token"), max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("accepted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.email} → {self.member}"


class Offer(models.Model):
    """One entry of the hoster's catalog: a kind Ronron provisions, described for members."""

    kind = models.CharField(_("kind"), max_length=30, unique=True)
    title = models.CharField(_("title"), max_length=100, validators=[reject_control_characters])
    description = models.TextField(_("description"))
    needs_approval = models.BooleanField(_("needs an admin's approval"), default=True)
    available = models.BooleanField(_("offered"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "title"]
        verbose_name = _("catalog entry")
        verbose_name_plural = _("catalog")

    def __str__(self) -> str:
        return self.title


class ServiceRequest(models.Model):
    """A member asks for a service from the catalog (from the portal or its application)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for an admin")
        APPROVED = "approved", _("Approved, being set up")
        REFUSED = "refused", _("Refused")
        DONE = "done", _("Ready")
        CANCELLED = "cancelled", _("Cancelled")

    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="service_requests",
    )
    offer = models.ForeignKey(
        Offer, verbose_name=_("service"), on_delete=models.PROTECT, related_name="requests"
    )
    # What the member gave: the address (domain or list address) and the kind's settings.
    domain = models.CharField(_("address"), max_length=253, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    message = models.TextField(_("message"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    service = models.ForeignKey(
        "services.Service",
        verbose_name=_("service created"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
    )
    created_at = models.DateTimeField(_("asked"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("service request")
        verbose_name_plural = _("service requests")

    def __str__(self) -> str:
        return f"{self.offer} ({self.member})"


class HelpRequest(models.Model):
    """A question from a member, answered by admins or volunteer helpers."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for an answer")
        ANSWERED = "answered", _("Answered, waiting for the member")
        CLOSED = "closed", _("Closed")

    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="help_requests",
    )
    subject = models.CharField(_("subject"), max_length=200, validators=[reject_control_characters])
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    service = models.ForeignKey(
        "services.Service",
        verbose_name=_("service concerned"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="help_requests",
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("asked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("taken by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("asked"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last change"), auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("help request")
        verbose_name_plural = _("help requests")

    def __str__(self) -> str:
        return self.subject


class HelpMessage(models.Model):
    request = models.ForeignKey(
        HelpRequest, verbose_name=_("request"), on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text: the account may be deleted, the conversation stays readable.
    author_name = models.CharField(_("author's name"), max_length=150, blank=True)
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(_("written"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("help message")
        verbose_name_plural = _("help messages")

    def __str__(self) -> str:
        return f"{self.author_name}: {self.body[:40]}"
