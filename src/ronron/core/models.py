from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """One state change: who did what to which object, with the values before and after.

    Written only by :func:`ronron.core.audit.record`, inside the action's transaction, so that a
    change and its audit row are committed together or not at all.
    """

    action = models.CharField(_("action"), max_length=100, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The actor's name is kept as text too: the account may be deleted, the history stays.
    # Empty when Ronron acted on its own.
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    object_type = models.CharField(_("object type"), max_length=100)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=255, blank=True)
    # The member an entry concerns, so that a member's page shows the history of the member,
    # its contacts and its memberships together. Not a foreign key: the history outlives the row.
    member_id = models.BigIntegerField(_("member"), null=True, blank=True, db_index=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"

    @property
    def actor_label(self) -> str:
        """Who did it, for people: an account name, or Ronron itself (demo, imports by CLI)."""
        return self.actor_name or str(_("Ronron (automatic)"))

    def changes(self) -> list[tuple[str, object, object]]:
        """The fields that differ between before and after, as (field, old, new)."""
        before = self.before or {}
        after = self.after or {}
        keys = sorted(set(before) | set(after))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


class RateLimitWindow(models.Model):
    """How many times one client did one thing in one window of time (see core.ratelimit).

    The client is a keyed hash of its address, never the address itself; rows older than a day
    are purged by the housekeeping.
    """

    scope = models.CharField(_("scope"), max_length=40)
    client = models.CharField(_("client"), max_length=64)
    # The window's number: seconds since the epoch divided by the window's length.
    period = models.BigIntegerField(_("period"))
    hits = models.PositiveIntegerField(_("hits"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("rate limit window")
        verbose_name_plural = _("rate limit windows")
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "client", "period"], name="core_ratelimit_one_row_per_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.client[:8]} {self.period}: {self.hits}"


class MailTemplate(models.Model):
    """An admin's version of one of Ronron's messages (see core.mail): it replaces the built-in
    text for that language until it is deleted."""

    key = models.CharField(_("message"), max_length=60)
    language = models.CharField(_("language"), max_length=5)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        ordering = ["key", "language"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [
            models.UniqueConstraint(
                fields=["key", "language"], name="core_one_template_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.language})"


class Chore(models.Model):
    """When a periodic chore (core.chores) last ran, so that a daily one runs once a day
    whichever process and however often the housekeeping wakes up."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_result = models.JSONField(_("last result"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("chore")
        verbose_name_plural = _("chores")

    def __str__(self) -> str:
        return self.name
