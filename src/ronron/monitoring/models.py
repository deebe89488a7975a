"""What is watched, what was seen, and what is shown.

Storage stays bounded: a check's history is its *state changes* (one row each time it goes up,
down or back), plus latency *buckets* per minute (kept ``MINUTE_RETENTION``) rolled up per hour
(kept ``HOUR_RETENTION``). Nothing stores one row per probe. The current state, the alert state and
the precomputed availability live on the check itself, so that status pages read one table.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _

from ronron.core.validators import reject_control_characters
from ronron.members.models import Member

# The console's per-minute chart shows 24 hours; hours serve the longer latency history.
# Availability does not need either: it comes from state changes, kept 400 days.
MINUTE_RETENTION = timedelta(days=1)
HOUR_RETENTION = timedelta(days=90)
# Availability windows shown everywhere (key → length).
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
           "365d": timedelta(days=365)}  # fmt: skip


class Check(models.Model):
    """One monitored endpoint. *Derived* checks are made and kept in step from services (a web
    site's HTTPS answer and certificate, a list's or a cloud's web interface); *manual* ones are
    written by admins."""

    class Kind(models.TextChoices):
        HTTP = "http", _("HTTP(S)")
        TCP = "tcp", _("TCP port")
        DNS = "dns", _("DNS record")
        CERTIFICATE = "certificate", _("Certificate expiry")

    class Status(models.TextChoices):
        UNKNOWN = "unknown", _("Not checked yet")
        UP = "up", _("Up")
        DEGRADED = "degraded", _("Slow")
        DOWN = "down", _("Down")

    name = models.CharField(_("name"), max_length=200, validators=[reject_control_characters])
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # http(s)://… for HTTP, host:port for TCP, a domain name for DNS, host[:port] for certificates.
    target = models.CharField(_("target"), max_length=500, validators=[reject_control_characters])
    # Kind-specific: expected_status, keyword, keyword_absent, latency_warn_ms, latency_max_ms,
    # record_type, expected_values, min_days… validated by ronron.monitoring.specs.
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    interval_s = models.PositiveIntegerField(_("interval (seconds)"), default=60)
    timeout_s = models.PositiveIntegerField(_("timeout (seconds)"), default=10)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Shown on the public status pages (the hoster's, and the member's when that one is public).
    public = models.BooleanField(_("public"), default=True)
    # Whose it is: a member's (its status page, its technical contact) or the hoster's (None).
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="checks",
    )
    # Derived checks: the service they watch and what about it ("https", "certificate"…).
    service = models.ForeignKey(
        "services.Service",
        verbose_name=_("service"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="checks",
    )
    purpose = models.CharField(max_length=30, blank=True)
    notify_member = models.BooleanField(_("alert the member's technical contact"), default=False)

    # Current state, written by the prober on each change (never once per probe).
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.UNKNOWN
    )
    status_since = models.DateTimeField(_("since"), null=True, blank=True)
    last_checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_message = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    consecutive_successes = models.PositiveIntegerField(default=0)
    # Alerting: open once N failures in a row were seen, closed after M successes.
    alert_open = models.BooleanField(default=False)
    alert_opened_at = models.DateTimeField(null=True, blank=True)
    alert_reminded_at = models.DateTimeField(null=True, blank=True)
    # Precomputed for the pages: {"24h": 99.95, "7d": …} (percent, None when nothing is known).
    availability = models.JSONField(default=dict, blank=True)
    availability_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["member", "name", "pk"]
        verbose_name = _("check")
        verbose_name_plural = _("checks")
        constraints = [
            models.UniqueConstraint(
                fields=["service", "purpose"],
                condition=models.Q(service__isnull=False),
                name="check_one_per_service_purpose",
            )
        ]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["enabled", "id"])]

    def __str__(self) -> str:
        return self.name


class StateChange(models.Model):
    """From ``at`` on, the check was in ``status`` (until its next state change)."""

    # The check (a monitored endpoint); a field named "check" would hide Model.check().
    endpoint = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Check.Status.choices)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["endpoint", "at", "pk"]
        indexes = [models.Index(fields=["endpoint", "at"]), models.Index(fields=["at"])]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.status} {self.at:%Y-%m-%d %H:%M:%S}"


class Bucket(models.Model):
    """Probes of one check over one minute (``resolution`` m) or hour (h): how many, how many
    failed, and their latency."""

    class Resolution(models.TextChoices):
        MINUTE = "m", _("minute")
        HOUR = "h", _("hour")

    endpoint = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="buckets")
    resolution = models.CharField(max_length=1, choices=Resolution.choices)
    start = models.DateTimeField()
    probes = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.PositiveBigIntegerField(default=0)
    latency_max_ms = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "resolution", "start"], name="bucket_one_per_period"
            )
        ]
        indexes = [models.Index(fields=["resolution", "start"])]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.resolution} {self.start:%Y-%m-%d %H:%M}"


class Maintenance(models.Model):
    """A planned window during which failures neither count against availability nor alert.

    One-off (``starts_at``/``ends_at``) or recurring (``recurrence``, an RFC 5545 RRULE such as
    ``FREQ=WEEKLY;BYDAY=SU;BYHOUR=3``, each occurrence lasting ``duration_minutes``, from
    ``starts_at``). Its scope: every check (no member, no check), a member's checks, or the
    checks listed."""

    title = models.CharField(_("title"), max_length=200, validators=[reject_control_characters])
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    recurrence = models.CharField(
        _("recurrence"), max_length=200, blank=True, validators=[reject_control_characters]
    )
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), default=0)
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="maintenances",
    )
    checks = models.ManyToManyField(
        Check, verbose_name=_("checks"), blank=True, related_name="maintenances"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("maintenance")
        verbose_name_plural = _("maintenances")

    def __str__(self) -> str:
        return self.title


class StatusPage(models.Model):
    """A member's status page: public (anyone with the address) or private (only with its
    secret link). The hoster's own page is always public and needs no row."""

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="status_page"
    )
    public = models.BooleanField(_("public"), default=False)
    # Part of the private link (/status/m/<token>/): long, random, replaceable.
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("status page")
        verbose_name_plural = _("status pages")

    def __str__(self) -> str:
        return f"{self.member}"


class Incident(models.Model):
    """What admins tell the public about a problem, with its updates."""

    class Status(models.TextChoices):
        INVESTIGATING = "investigating", _("Investigating")
        IDENTIFIED = "identified", _("Identified")
        MONITORING = "monitoring", _("Monitoring")
        RESOLVED = "resolved", _("Resolved")

    title = models.CharField(_("title"), max_length=200, validators=[reject_control_characters])
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.INVESTIGATING
    )
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="incidents",
    )
    checks = models.ManyToManyField(
        Check, verbose_name=_("checks"), blank=True, related_name="incidents"
    )
    started_at = models.DateTimeField(_("started"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    public = models.BooleanField(_("public"), default=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")

    def __str__(self) -> str:
        return self.title


class IncidentUpdate(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Incident.Status.choices)
    message = models.TextField(_("message"))
    author = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.status} {self.at:%Y-%m-%d %H:%M}"


class AlertEvent(models.Model):
    """An alert sent (or that failed to send): opened, reminded, resolved. Several checks that
    failed together go out in one message: they share ``group``."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("Down")
        REMINDER = "reminder", _("Still down")
        RESOLVED = "resolved", _("Back up")

    endpoint = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField()
    group = models.CharField(max_length=40, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    delivered = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        # "group" empty = waiting to be sent (alerts.flush looks for those).
        indexes = [
            models.Index(fields=["endpoint", "-at"]),
            models.Index(fields=["group"], name="alertevent_group"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"
