"""Forms of the onboarding: the public application, and the board's decision in the console.

The application checks each service asked for exactly as a member's request from the portal
is checked (``portal.actions_requests.validate_request``: the kind's driver for the address and
the settings, names already used), so that the board's approval does not stumble on it later.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ronron.core.forms import ConsoleFormMixin
from ronron.core.validators import reject_control_characters, validate_email
from ronron.members.actions import french_postal_code_error
from ronron.members.forms import DateInput
from ronron.members.identifiers import normalize_rna, normalize_siren, validate_rna, validate_siren
from ronron.members.models import Member, Theme
from ronron.portal.models import Offer

MAX_MESSAGE = 5000
HONEYPOT = "reference"
SINGLE_LINE = [reject_control_characters]


def available_offers() -> list[Offer]:
    from ronron.portal.actions_requests import offer_is_available

    return [o for o in Offer.objects.filter(available=True) if offer_is_available(o)]


def details_for(kind: str, *, name: str, email: str) -> dict[str, Any]:
    """The settings of a service asked for in an application: the applicant is its
    administrator (a site) or its owner (a list); the rest keeps the kind's defaults."""
    if kind == "wordpress":
        return {"title": name, "admin_email": email}
    if kind == "list":
        return {"subject": name, "type": "discussion_list", "owners": [email]}
    return {}


def _address_field(offer: Offer) -> forms.CharField:
    if offer.kind == "list":
        label = _("Address of the list")
        help_text = _(
            "The e-mail address people will write to, such as adherents@listes.monasso.fr."
        )
    else:
        label = _("Address of the site")
        help_text = _(
            "Its domain name, such as monasso.fr (accented names are accepted). Not sure? "
            "Write the name you would like and tell us in your message."
        )
    return forms.CharField(
        label=label,
        max_length=253,
        required=False,
        help_text=help_text,
        validators=SINGLE_LINE,
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )


def _check_address(offer: Offer, address: str) -> None:
    from ronron.core.domains import normalize_domain
    from ronron.drivers.base import driver_for

    # A driver may give "domain" its own meaning (a list's address).
    getattr(driver_for(offer.kind), "normalize_domain", normalize_domain)(address)


class JoinForm(ConsoleFormMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("You are"),
        choices=Member.Kind.choices,
        widget=forms.RadioSelect,
        initial=Member.Kind.ASSOCIATION,
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        validators=SINGLE_LINE,
        help_text=_("The name of your association or collective, or your own name."),
    )
    rna = forms.CharField(
        label=_("RNA number"),
        max_length=20,
        required=False,
        help_text=_("Optional. For a declared association: W followed by 9 characters."),
    )
    siren = forms.CharField(
        label=_("SIREN"),
        max_length=20,
        required=False,
        help_text=_("Optional. 9 digits, if your organisation has one."),
    )
    address = forms.CharField(
        label=_("Street address"),
        max_length=255,
        required=False,
        validators=SINGLE_LINE,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    postal_code = forms.CharField(
        label=_("Postal code"),
        max_length=10,
        validators=SINGLE_LINE,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "inputmode": "numeric"}),
    )
    city = forms.CharField(
        label=_("City"),
        max_length=100,
        validators=SINGLE_LINE,
        widget=forms.TextInput(attrs={"autocomplete": "address-level2"}),
    )
    country = forms.CharField(
        label=_("Country"),
        max_length=2,
        min_length=2,
        initial="FR",
        help_text=_("Two letters: FR for France, BE for Belgium…"),
    )
    themes = forms.ModelMultipleChoiceField(
        Theme.objects.all(),
        to_field_name="slug",
        required=False,
        label=_("What you work on"),
        widget=forms.CheckboxSelectMultiple,
    )
    contact_name = forms.CharField(
        label=_("Your name"),
        max_length=200,
        validators=SINGLE_LINE,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    contact_email = forms.CharField(
        label=_("Your e-mail address"),
        max_length=254,
        validators=[validate_email],
        help_text=_("We write to you there about your application."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    contact_phone = forms.CharField(
        label=_("Your phone number"),
        max_length=30,
        required=False,
        validators=SINGLE_LINE,
        help_text=_("Optional."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
    )
    message = forms.CharField(
        label=_("Your message"),
        max_length=MAX_MESSAGE,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Optional: tell us about your project, or ask us anything."),
    )
    consent = forms.BooleanField(
        label=_(
            "I agree that these details are kept to handle this application and, if it is "
            "approved, to manage the membership. They are never given to anyone else."
        ),
        error_messages={"required": _("We need your agreement to handle your application.")},
    )
    # Left empty by people (it is hidden); robots fill every field they find.
    reference = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offers = available_offers()
        for offer in self.offers:
            self.fields[f"want_{offer.kind}"] = forms.BooleanField(
                label=offer.title, required=False
            )
            self.fields[f"address_{offer.kind}"] = _address_field(offer)
        self._requested: list[dict[str, Any]] = []

    # --- shaping -------------------------------------------------------------------------------

    def is_bot(self) -> bool:
        return bool(str(self.data.get(HONEYPOT, "")).strip())

    def offer_rows(self) -> list[dict[str, Any]]:
        """For the template: each catalog entry with its two fields."""
        return [
            {
                "offer": offer,
                "want": self[f"want_{offer.kind}"],
                "address": self[f"address_{offer.kind}"],
            }
            for offer in self.offers
        ]

    def main_fields(self, *names: str) -> list[forms.BoundField]:
        return [self[name] for name in names]

    # --- checking ------------------------------------------------------------------------------

    def clean_rna(self) -> str:
        value = normalize_rna(self.cleaned_data.get("rna", ""))
        validate_rna(value)
        return value

    def clean_siren(self) -> str:
        value = normalize_siren(self.cleaned_data.get("siren", ""))
        validate_siren(value)
        return value

    def clean_country(self) -> str:
        value = self.cleaned_data.get("country", "").strip().upper()
        if not (len(value) == 2 and value.isascii() and value.isalpha()):
            raise ValidationError(_("Use a two-letter country code, such as FR."))
        return value

    def clean_contact_email(self) -> str:
        return str(self.cleaned_data.get("contact_email", "")).strip().lower()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        country = data.get("country") or "FR"
        postal_code = (data.get("postal_code") or "").strip()
        if country == "FR":
            postal_code = postal_code.replace(" ", "")  # "31 000" is common
        if "postal_code" in data:
            data["postal_code"] = postal_code
            error = french_postal_code_error(country, postal_code)
            if error:
                self.add_error("postal_code", error)
        self._requested = self._check_services(data)
        return data

    def _check_services(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        from ronron.portal.actions_requests import validate_request

        requested: list[dict[str, Any]] = []
        seen: dict[str, str] = {}
        for offer in self.offers:
            if not data.get(f"want_{offer.kind}"):
                continue
            field = f"address_{offer.kind}"
            if field not in data:
                continue  # already refused by the field itself
            address = data[field]
            if not address:
                self.add_error(field, _("Give the address this service should have."))
                continue
            email = data.get("contact_email")
            try:
                if not email:
                    # The settings name the contact, whose own error is shown: the address alone.
                    _check_address(offer, address)
                    continue
                details = details_for(offer.kind, name=data.get("name") or offer.title, email=email)
                domain, clean = validate_request(offer, address, details)
            except ValidationError as exc:
                for message in exc.messages:
                    self.add_error(field, message)
                continue
            if domain in seen:
                self.add_error(
                    field, _("You already asked for %(address)s above.") % {"address": address}
                )
                continue
            seen[domain] = offer.kind
            requested.append({"kind": offer.kind, "domain": domain, "details": clean})
        return requested

    def action_data(self) -> dict[str, Any]:
        """The keyword arguments of ``onboarding.receive_application``."""
        data = self.cleaned_data
        fields = (
            "kind",
            "name",
            "rna",
            "siren",
            "address",
            "postal_code",
            "city",
            "country",
            "contact_name",
            "contact_email",
            "contact_phone",
            "message",
        )
        return {
            **{name: data.get(name) or "" for name in fields},
            "themes": list(data.get("themes") or []),
            "requested_services": list(self._requested),
            "consent": bool(data.get("consent")),
        }


class ApproveForm(ConsoleFormMixin, forms.Form):
    on = forms.DateField(
        label=_("Approved by the board on"),
        widget=DateInput,
        help_text=_("The date of the board's decision."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"on": timezone.localdate()})
        super().__init__(*args, **kwargs)


class RefuseForm(ConsoleFormMixin, forms.Form):
    on = forms.DateField(label=_("Refused by the board on"), widget=DateInput)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The applicant receives it by e-mail: be kind and concrete."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"on": timezone.localdate()})
        super().__init__(*args, **kwargs)
