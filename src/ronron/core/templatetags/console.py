"""Template helpers of the console: amounts, and the audit trail in plain words."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import formats
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ronron.core.models import AuditEntry

register = template.Library()


@register.filter
def money(value: Any) -> str:
    """30,00 € in French, 30.00 € in English; always two decimals and a group separator."""
    if value in (None, ""):
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"{formats.number_format(amount, 2, use_l10n=True, force_grouping=True)}\u00a0€"


@register.filter
def lookup(mapping: Any, key: Any) -> Any:
    """``mapping[key]`` in a template, or "" when absent."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


ACTIONS: dict[str, Any] = {
    "member.created": gettext_lazy("Member created"),
    "member.updated": gettext_lazy("Details changed"),
    "member.imported": gettext_lazy("Imported"),
    "member.application_approved": gettext_lazy("Application approved by the board"),
    "member.admitted": gettext_lazy("Admitted as a member"),
    "member.departure_notified": gettext_lazy("Notice of departure recorded"),
    "member.left": gettext_lazy("Departure recorded"),
    "contact.added": gettext_lazy("Contact added"),
    "contact.updated": gettext_lazy("Contact changed"),
    "contact.removed": gettext_lazy("Contact removed"),
    "membership.created": gettext_lazy("Membership added"),
    "membership.updated": gettext_lazy("Membership changed"),
    "membership.dues_called": gettext_lazy("Dues called"),
    "membership.payment_recorded": gettext_lazy("Payment recorded"),
    "theme.created": gettext_lazy("Theme added"),
    "theme.renamed": gettext_lazy("Theme renamed"),
    "theme.deleted": gettext_lazy("Theme deleted"),
    "service.external_recorded": gettext_lazy("External service recorded"),
    "service.requested": gettext_lazy("Service requested"),
    "service.roster_changed": gettext_lazy("Roster followed changed"),
    "roster.created": gettext_lazy("Roster created"),
    "roster.updated": gettext_lazy("Roster changed"),
    "roster.deleted": gettext_lazy("Roster deleted"),
    "roster.addresses_replaced": gettext_lazy("Addresses of the roster replaced"),
    "service.suspended": gettext_lazy("Service suspended"),
    "service.resumed": gettext_lazy("Service resumed"),
    "service.removal_requested": gettext_lazy("Removal requested"),
    "service.settings_changed": gettext_lazy("Service settings changed"),
    "service.secret_generated": gettext_lazy("Password generated"),
    "service.adopted": gettext_lazy("Existing site adopted"),
    "service.credentials_revealed": gettext_lazy("Administrator's password shown"),
    "service.credentials_handed_over": gettext_lazy("Credentials sent to the member"),
    "service.credentials_not_delivered": gettext_lazy("Credentials could not be sent"),
    "service.credentials_renewed": gettext_lazy("New administrator password set"),
    "secret.delivered": gettext_lazy("Credentials link sent"),
    "offer.created": gettext_lazy("Catalog entry created"),
    "offer.updated": gettext_lazy("Catalog entry changed"),
    "service_request.created": gettext_lazy("Service asked for"),
    "service_request.approved": gettext_lazy("Service request approved"),
    "service_request.approval_failed": gettext_lazy("Service request could not be set up"),
    "service_request.refused": gettext_lazy("Service request refused"),
    "service_request.cancelled": gettext_lazy("Service request cancelled"),
    "service_request.done": gettext_lazy("Requested service ready"),
    "help.opened": gettext_lazy("Help asked for"),
    "help.member_replied": gettext_lazy("Member replied to a help request"),
    "help.answered": gettext_lazy("Help request answered"),
    "help.taken": gettext_lazy("Help request taken"),
    "help.closed": gettext_lazy("Help request closed"),
    "help.reopened": gettext_lazy("Help request reopened"),
    "mail.not_sent": gettext_lazy("Message not sent"),
    "portal.invitation_sent": gettext_lazy("Invited to the member portal"),
    "portal.invitation_mail_failed": gettext_lazy("Portal invitation not sent"),
    "portal.invitation_accepted": gettext_lazy("Portal invitation accepted"),
    "portal.account_created": gettext_lazy("Portal account created"),
    "portal.invitation_cancelled": gettext_lazy("Portal invitation cancelled"),
    "portal.access_revoked": gettext_lazy("Portal access removed"),
    "portal.helper_changed": gettext_lazy("Volunteer helper changed"),
    "portal.member_exported": gettext_lazy("Member's data exported"),
    "mail.sent": gettext_lazy("Message sent"),
    "mail.failed": gettext_lazy("Message could not be sent"),
    "mail_template.saved": gettext_lazy("Message text changed"),
    "mail_template.reset": gettext_lazy("Message text back to the built-in one"),
    "membership.services_suspended": gettext_lazy("Services suspended for unpaid dues"),
    "membership.services_resumed": gettext_lazy("Services resumed after payment"),
    "offboarding.notice_given": gettext_lazy("Departure notice given"),
    "offboarding.export_verified": gettext_lazy("Departure export made and verified"),
    "offboarding.export_link_made": gettext_lazy("Departure export link sent"),
    "offboarding.export_downloaded": gettext_lazy("Departure export downloaded"),
    "offboarding.services_suspended": gettext_lazy("Services suspended on leaving"),
    "offboarding.services_removal_requested": gettext_lazy("Services to be removed"),
    "offboarding.removal_held": gettext_lazy("Removal held back"),
    "member.personal_data_erased": gettext_lazy("Personal data erased"),
    "application.received": gettext_lazy("Application received"),
    "application.approved": gettext_lazy("Application approved, member created"),
    "application.refused": gettext_lazy("Application refused"),
    "member.welcomed": gettext_lazy("Welcome message sent"),
    "onboarding.mail_failed": gettext_lazy("A message could not be sent"),
    "onboarding.invitation_failed": gettext_lazy("Portal invitation not sent"),
    "onboarding.welcome_failed": gettext_lazy("Welcome message not sent"),
    "server.created": gettext_lazy("Server added"),
    "server.updated": gettext_lazy("Server changed"),
    "server.usage_observed": gettext_lazy("Usage measured"),
    "run.requested": gettext_lazy("Changes applied"),
    "account.totp_reset": gettext_lazy("Two-step login reset by an administrator"),
    "service.created": gettext_lazy("Service added"),
    "service.updated": gettext_lazy("Service changed"),
    "service.removed": gettext_lazy("Service removed"),
    "account.totp_confirmed": gettext_lazy("Two-step login turned on"),
    "account.totp_removed": gettext_lazy("Two-step login turned off"),
    "check.created": gettext_lazy("Check created"),
    "check.updated": gettext_lazy("Check changed"),
    "check.deleted": gettext_lazy("Check deleted"),
    "maintenance.created": gettext_lazy("Maintenance planned"),
    "maintenance.updated": gettext_lazy("Maintenance changed"),
    "maintenance.deleted": gettext_lazy("Maintenance deleted"),
    "incident.opened": gettext_lazy("Incident opened"),
    "incident.updated": gettext_lazy("Incident update published"),
    "incident.resolved": gettext_lazy("Incident resolved"),
    "status_page.published": gettext_lazy("Status page made public"),
    "status_page.made_private": gettext_lazy("Status page made private"),
    "status_page.link_created": gettext_lazy("Private link of the status page made"),
    "status_page.link_replaced": gettext_lazy("Private link of the status page replaced"),
}


@register.filter
def audit_action(action: str) -> str:
    label = ACTIONS.get(action)
    return str(label) if label is not None else action


def _model(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _display(field: models.Field | None, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if field is None:
        return ", ".join(map(_plain, value)) if isinstance(value, list) else _plain(value)
    if isinstance(field, models.BooleanField):
        return _("yes") if value else _("no")
    related: Any = getattr(field, "related_model", None)
    if not isinstance(related, type):
        related = None
    if isinstance(field, models.ForeignKey) and related is not None:
        found = related._default_manager.filter(pk=value).first()
        return str(found) if found is not None else str(value)
    if (
        isinstance(field, models.ManyToManyField)
        and related is not None
        and isinstance(value, list)
    ):
        names = (
            dict(related._default_manager.filter(slug__in=value).values_list("slug", "name"))
            if hasattr(related, "slug")
            else {}
        )
        return ", ".join(str(names.get(v, v)) for v in value)
    if isinstance(field, models.DateField) and isinstance(value, str):
        try:
            return formats.date_format(datetime.date.fromisoformat(value[:10]))
        except ValueError:
            return value
    if isinstance(field, models.DecimalField):
        return money(value)
    if field.choices:
        labels = {str(k): v for k, v in field.flatchoices}
        return str(labels.get(str(value), value))
    if field.name == "roles" and isinstance(value, str):
        return _roles(field.model, value)
    return str(value)


def _plain(value: Any) -> str:
    """A value with no field to describe it: a related row summarised in the snapshot (the
    import records a member's contacts as {name, email, roles})."""
    if isinstance(value, dict):
        name, email = value.get("name"), value.get("email")
        if name and email:
            return f"{name} <{email}>"
        return ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, ""))
    return str(value)


def _roles(model: Any, value: str) -> str:
    labels = dict(getattr(model, "Role", models.TextChoices).choices)
    return ", ".join(str(labels.get(r, r)) for r in value.split(",") if r)


@register.filter
def audit_changes(entry: AuditEntry) -> list[dict[str, str | None]]:
    """The changed fields of an entry, as (field label, before, after) in plain words."""
    model = _model(entry.object_type)
    rows = []
    for name, old, new in entry.changes():
        field: Any = None
        if model is not None:
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                field = None
        label_source: Any = field
        if isinstance(field, models.ForeignObjectRel):
            # Related rows (a member's contacts, services) summarised in the snapshot.
            label_source = None
            related: Any = field.related_model
            name = str(related._meta.verbose_name_plural)
            field = None
        if name == "member" and entry.member_id is not None and new in (None, entry.member_id):
            continue  # the page is that member's: saying so on every line is noise
        before, after = _display(field, old), _display(field, new)
        if before == after:
            continue
        label = capfirst(str(getattr(label_source, "verbose_name", name)))
        # A creation has no "before" and a removal no "after": show only the side that exists.
        rows.append(
            {
                "field": label,
                "before": before if entry.before is not None else None,
                "after": after if entry.after is not None else None,
            }
        )
    return rows
