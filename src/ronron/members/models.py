from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from ronron.core.validators import reject_control_characters, validate_email
from ronron.members.identifiers import validate_rna, validate_siren

MEMBER_NUMBER = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$",
    _("A member number is 1 to 20 letters, digits, '-' or '_' (for example A0202)."),
)


class Theme(models.Model):
    """What members work on (culture, éducation, ESS…): an editable list."""

    slug = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100, validators=[reject_control_characters])

    class Meta:
        ordering = ["name"]
        verbose_name = _("theme")
        verbose_name_plural = _("themes")

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    class Kind(models.TextChoices):
        ASSOCIATION = "association", _("Association")
        COLLECTIVE = "collective", _("Collective")
        INDIVIDUAL = "individual", _("Individual")

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        APPROVED = "approved", _("Approved by the board")
        MEMBER = "member", _("Member")
        LEAVING = "leaving", _("Leaving")
        LEFT = "left", _("Left")

    number = models.CharField(
        _("member number"), max_length=20, unique=True, validators=[MEMBER_NUMBER]
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200, validators=[reject_control_characters])
    legal_form = models.CharField(
        _("legal form"), max_length=100, blank=True, validators=[reject_control_characters]
    )
    rna = models.CharField(
        _("RNA number"),
        max_length=10,
        blank=True,
        validators=[validate_rna],
        help_text=_("Répertoire national des associations, for example W313012345."),
    )
    siren = models.CharField(_("SIREN"), max_length=9, blank=True, validators=[validate_siren])
    address = models.CharField(
        _("street address"), max_length=255, blank=True, validators=[reject_control_characters]
    )
    postal_code = models.CharField(
        _("postal code"), max_length=10, blank=True, validators=[reject_control_characters]
    )
    city = models.CharField(
        _("city"), max_length=100, blank=True, validators=[reject_control_characters]
    )
    country = models.CharField(
        _("country"),
        max_length=2,
        default="FR",
        validators=[RegexValidator(r"^[A-Z]{2}$", _("Use a two-letter ISO country code."))],
    )
    # Derived from the postal code (and the city where the code is shared) by the actions.
    departement = models.CharField(_("département"), max_length=3, blank=True, db_index=True)
    region = models.CharField(_("région"), max_length=100, blank=True, db_index=True)
    themes = models.ManyToManyField(Theme, verbose_name=_("themes"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.APPLIED, db_index=True
    )
    applied_on = models.DateField(_("applied on"), null=True, blank=True)
    approved_on = models.DateField(_("approved by the board on"), null=True, blank=True)
    joined_on = models.DateField(_("joined on"), null=True, blank=True)
    left_on = models.DateField(_("left on"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Onboarding: when the welcome message (with its credentials links) went out.
    welcomed_at = models.DateTimeField(_("welcomed on"), null=True, blank=True)
    # Offboarding: when the personal data of a member who left was erased (the row stays, with
    # what the reports count: kind, postal code, région, themes, dates).
    anonymised_at = models.DateTimeField(_("personal data erased on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["number"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(left_on__isnull=True)
                | models.Q(joined_on__isnull=True)
                | models.Q(left_on__gte=models.F("joined_on")),
                name="member_left_after_joined",
                violation_error_code="left_before_joined",
                violation_error_message=_("The leaving date cannot come before the joining date."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    @property
    def is_organisation(self) -> bool:
        return self.kind != self.Kind.INDIVIDUAL

    def is_member_on(self, day: date) -> bool:
        return (
            self.joined_on is not None
            and self.joined_on <= day
            and (self.left_on is None or self.left_on > day)
        )


class Contact(models.Model):
    class Role(models.TextChoices):
        PRESIDENT = "president", _("President")
        TREASURER = "treasurer", _("Treasurer")
        SECRETARY = "secretary", _("Secretary")
        TECH = "tech", _("Technical contact")
        BILLING = "billing", _("Billing contact")

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=200, validators=[reject_control_characters])
    email = models.EmailField(_("e-mail"), max_length=254, validators=[validate_email])
    phone = models.CharField(
        _("phone"), max_length=30, blank=True, validators=[reject_control_characters]
    )
    # Comma-separated Role values, kept sorted ("president,tech"): role names never contain
    # one another, so "roles contains tech" is an exact test on every database.
    roles = models.CharField(_("roles"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["member", "name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(fields=["member", "email"], name="contact_unique_email")
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]

    def role_labels(self) -> list[str]:
        labels = dict(self.Role.choices)
        return [str(labels.get(r, r)) for r in self.role_list]


class Membership(models.Model):
    """One year of adhesion, with its dues."""

    class PaymentMethod(models.TextChoices):
        TRANSFER = "transfer", _("Bank transfer")
        CHEQUE = "cheque", _("Cheque")
        CASH = "cash", _("Cash")
        CARD = "card", _("Card")
        ONLINE = "online", _("Online payment")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        NOT_CALLED = "not_called", _("Not called yet")
        CALLED = "called", _("Called")
        PAID = "paid", _("Paid")
        OVERDUE = "overdue", _("Overdue")
        CUT_OFF = "cut_off", _("Cut off")

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="memberships"
    )
    # Bounded so that the calendar's dates for the year exist (Python dates stop at 9999).
    year = models.PositiveSmallIntegerField(
        _("year"), validators=[MinValueValidator(1901), MaxValueValidator(9999)]
    )
    amount = models.DecimalField(
        _("amount"),
        max_digits=9,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    called_on = models.DateField(_("called on"), null=True, blank=True)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    payment_method = models.CharField(
        _("payment method"), max_length=20, choices=PaymentMethod.choices, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["member", "-year"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["member", "year"], name="membership_one_per_year")
        ]

    def __str__(self) -> str:
        return f"{self.member.number} {self.year}"

    def status_on(self, day: date) -> str:
        from ronron.members.dues import membership_status

        return membership_status(self, day, settings.RONRON.dues)

    @property
    def status(self) -> str:
        return self.status_on(date.today())

    @property
    def status_label(self) -> str:
        return str(dict(self.Status.choices)[self.status])


class Application(models.Model):
    """An application to join, from the public form, until the board decides. Approving it
    creates the member (with its number), its contact and its service requests."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the board")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")

    kind = models.CharField(_("kind"), max_length=20, choices=Member.Kind.choices)
    name = models.CharField(_("name"), max_length=200, validators=[reject_control_characters])
    rna = models.CharField(_("RNA number"), max_length=10, blank=True, validators=[validate_rna])
    siren = models.CharField(_("SIREN"), max_length=9, blank=True, validators=[validate_siren])
    address = models.CharField(
        _("street address"), max_length=255, blank=True, validators=[reject_control_characters]
    )
    postal_code = models.CharField(
        _("postal code"), max_length=10, blank=True, validators=[reject_control_characters]
    )
    city = models.CharField(
        _("city"), max_length=100, blank=True, validators=[reject_control_characters]
    )
    country = models.CharField(_("country"), max_length=2, default="FR")
    themes = models.ManyToManyField(Theme, verbose_name=_("themes"), blank=True)
    contact_name = models.CharField(
        _("contact's name"), max_length=200, validators=[reject_control_characters]
    )
    contact_email = models.EmailField(_("contact's e-mail"), validators=[validate_email])
    contact_phone = models.CharField(
        _("contact's phone"), max_length=30, blank=True, validators=[reject_control_characters]
    )
    # The services asked for: [{"kind": …, "domain": …, "details": {…}}], checked by the form.
    requested_services = models.JSONField(_("services asked for"), default=list, blank=True)
    message = models.TextField(_("message"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    decided_on = models.DateField(_("board's decision on"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(_("reason"), blank=True)
    member = models.OneToOneField(
        Member,
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="application",
    )
    created_at = models.DateTimeField(_("received"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("application")
        verbose_name_plural = _("applications")

    def __str__(self) -> str:
        return self.name


# Split out for length; imported here so that Django finds them with the app's models.
from ronron.members.models_lifecycle import DepartureExport, DuesNotice  # noqa: E402, F401
