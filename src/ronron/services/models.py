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
    # The roster a list or a cloud group follows: its members are the roster's addresses.
    roster = models.ForeignKey(
        "services.Roster",
        verbose_name=_("follows the roster"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="services",
    )
    observed_at = models.DateTimeField(_("observed on"), null=True, blank=True)
    # Credentials Ronron created for the member (admin password, database password…).
    credentials = EncryptedJSONField(_("credentials"), null=True, blank=True)
    # When the credentials Ronron made were last handed to the member's contacts (as one-time
    # links, services/handover.py); the name stays from when the console showed them once.
    credentials_revealed_at = models.DateTimeField(
        _("credentials handed over on"), null=True, blank=True
    )
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


class Roster(models.Model):
    """A named, computed set of e-mail addresses that lists and cloud groups follow.

    Where the addresses come from is the *source* (see ``services/rosters.py``, where sources are
    registered: Ronron's own member file today; a member association's Galette or Dolibarr can
    plug in later). Nothing here stores the computed addresses, except for uploaded ones.
    """

    slug = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200, validators=[reject_control_characters])
    source = models.CharField(_("source"), max_length=30)
    # The member whose contacts make the roster, for sources about one member.
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rosters",
    )
    # Addresses given by an uploaded file: [{"email": "…", "name": "…"}, …].
    uploaded = models.JSONField(_("uploaded addresses"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("roster")
        verbose_name_plural = _("rosters")

    def __str__(self) -> str:
        return self.name


class RosterSync(models.Model):
    """One re-synchronisation of a service that follows a roster, and how it went."""

    class Outcome(models.TextChoices):
        # Asked for (a list reopened, its source rewritten): the next sync takes it.
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        OK = "ok", _("Done")
        FAILED = "failed", _("Failed")

    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.CASCADE, related_name="syncs"
    )
    roster = models.ForeignKey(
        Roster, verbose_name=_("roster"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=20, choices=Outcome.choices, default=Outcome.RUNNING
    )
    # The digest of the addresses the service was brought to: unchanged digest, nothing to do.
    digest = models.CharField(max_length=64, blank=True)
    addresses = models.PositiveIntegerField(_("addresses"), default=0)
    message = models.TextField(_("message"), blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("roster synchronisation")
        verbose_name_plural = _("roster synchronisations")
        indexes = [models.Index(fields=["service", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.service} {self.started_at:%Y-%m-%d %H:%M}"


class AppLicence(models.Model):
    """A cloud app bought for a number of seats (OnlyOffice is sold by concurrent seats): Ronron
    counts the accounts of the cloud spaces that have the app and refuses to go above it."""

    app = models.CharField(_("app"), max_length=40, unique=True)
    seats = models.PositiveIntegerField(_("seats"))
    note = models.CharField(
        _("note"), max_length=200, blank=True, validators=[reject_control_characters]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["app"]
        verbose_name = _("app licence")
        verbose_name_plural = _("app licences")

    def __str__(self) -> str:
        return f"{self.app} ({self.seats})"
