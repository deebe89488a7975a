"""Forms of the member pages, and the member list's filters (run in SQL)."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from ronron.core.forms import ConsoleFormMixin
from ronron.members import geography
from ronron.members.dues import annotate_dues_status
from ronron.members.models import Contact, Member, Membership, Theme
from ronron.services.kinds import FAMILIES
from ronron.services.models import Service

NO_MEMBERSHIP = "none"


def region_choices() -> list[tuple[str, str]]:
    # Members abroad or recorded before the table existed may carry other names: keep them.
    found = Member.objects.exclude(region="").values_list("region", flat=True).distinct()
    names = list(geography.REGIONS) + sorted(set(found) - set(geography.REGIONS))
    return [(n, n) for n in names]


def _blank(label: Any) -> list[tuple[str, Any]]:
    return [("", label)]


class MemberFilterForm(ConsoleFormMixin, forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        help_text=_("Number, name, city, or a contact's name or e-mail."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    theme = forms.ChoiceField(label=_("Theme"), required=False)
    region = forms.ChoiceField(label=_("Région"), required=False)
    family = forms.ChoiceField(label=_("Service"), required=False)
    dues_status = forms.ChoiceField(label=_("Dues"), required=False)
    dues_year = forms.IntegerField(
        label=_("Dues year"), required=False, min_value=1901, max_value=2999
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        every = _blank(_("All"))
        choices: dict[str, list[tuple[str, Any]]] = {
            "kind": list(Member.Kind.choices),
            "status": list(Member.Status.choices),
            "theme": list(Theme.objects.values_list("slug", "name")),
            "region": region_choices(),
            "family": list(FAMILIES.items()),
            "dues_status": [
                *Membership.Status.choices,
                (NO_MEMBERSHIP, _("No membership that year")),
            ],
        }
        for name, options in choices.items():
            cast(forms.ChoiceField, self.fields[name]).choices = every + options
        self.fields["dues_year"].widget.attrs["placeholder"] = str(date.today().year)

    def is_filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)

    def filter(self, members: QuerySet[Member], today: date | None = None) -> QuerySet[Member]:
        if not self.is_valid():
            return members
        data = self.cleaned_data
        today = today or date.today()
        if data["q"]:
            q = data["q"].strip()
            contacts = Contact.objects.filter(member=OuterRef("pk")).filter(
                Q(name__icontains=q) | Q(email__icontains=q)
            )
            members = members.filter(
                Q(number__icontains=q)
                | Q(name__icontains=q)
                | Q(city__icontains=q)
                | Q(Exists(contacts))
            )
        for name in ("kind", "status", "region"):
            if data[name]:
                members = members.filter(**{name: data[name]})
        if data["theme"]:
            members = members.filter(
                Exists(
                    Member.themes.through.objects.filter(
                        member=OuterRef("pk"), theme__slug=data["theme"]
                    )
                )
            )
        if data["family"]:
            members = members.filter(
                Exists(Service.objects.filter(member=OuterRef("pk"), family=data["family"]))
            )
        if data["dues_status"]:
            year = data["dues_year"] or today.year
            of_year = Membership.objects.filter(member=OuterRef("pk"), year=year)
            if data["dues_status"] == NO_MEMBERSHIP:
                members = members.filter(~Exists(of_year))
            else:
                members = members.filter(
                    Exists(
                        annotate_dues_status(of_year, year, today).filter(
                            dues_status=data["dues_status"]
                        )
                    )
                )
        return members


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        # The browser's date picker wants ISO dates; typed dates in French format still parse.
        super().__init__(attrs=attrs, format="%Y-%m-%d")


MEMBER_FIELDS = [
    "number",
    "kind",
    "name",
    "legal_form",
    "rna",
    "siren",
    "address",
    "postal_code",
    "city",
    "country",
    "themes",
    "applied_on",
    "joined_on",
    "notes",
]


class MemberForm(ConsoleFormMixin, forms.ModelForm):
    # Themes by code, the same code imports and links use (?theme=velo).
    themes = forms.ModelMultipleChoiceField(
        Theme.objects.all(),
        to_field_name="slug",
        required=False,
        label=_("Themes"),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Member
        fields = MEMBER_FIELDS
        widgets = {
            "applied_on": DateInput,
            "approved_on": DateInput,
            "joined_on": DateInput,
            "left_on": DateInput,
            "notes": forms.Textarea(attrs={"rows": 4}),
            "postal_code": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "address": forms.TextInput(attrs={"autocomplete": "street-address"}),
        }
        help_texts = {
            "joined_on": _("Leave empty for an application not yet approved."),
            "country": _("Two letters: FR for France, BE for Belgium…"),
        }

    def action_data(self) -> dict[str, Any]:
        """The cleaned values as keyword arguments of the member actions."""
        data = {k: v for k, v in self.cleaned_data.items() if k != "themes"}
        data["themes"] = list(self.cleaned_data.get("themes") or [])
        return data


class MemberEditForm(MemberForm):
    class Meta(MemberForm.Meta):
        fields = [*MEMBER_FIELDS[:-1], "approved_on", "left_on", "notes"]
        help_texts = {
            "country": _("Two letters: FR for France, BE for Belgium…"),
            "left_on": _("To record a departure, use the buttons on the member's page."),
        }


class ContactForm(ConsoleFormMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.EmailField(
        label=_("E-mail"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        choices=Contact.Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class MembershipForm(ConsoleFormMixin, forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=1901, max_value=2999)
    amount = forms.DecimalField(
        label=_("Amount (€)"), min_value=0, max_digits=9, decimal_places=2, localize=True
    )
    called_on = forms.DateField(label=_("Dues called on"), required=False, widget=DateInput)
    paid_on = forms.DateField(label=_("Paid on"), required=False, widget=DateInput)
    payment_method = forms.ChoiceField(
        label=_("Payment method"),
        required=False,
        choices=_blank("—") + list(Membership.PaymentMethod.choices),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("payment_method") and not data.get("paid_on"):
            self.add_error("paid_on", _("Give the date of the payment too."))
        return data


class PaymentForm(ConsoleFormMixin, forms.Form):
    paid_on = forms.DateField(label=_("Paid on"), widget=DateInput)
    method = forms.ChoiceField(
        label=_("Payment method"), choices=_blank("—") + list(Membership.PaymentMethod.choices)
    )
    amount = forms.DecimalField(
        label=_("Amount received (€)"),
        required=False,
        min_value=0,
        max_digits=9,
        decimal_places=2,
        localize=True,
        help_text=_("Leave empty if it is the amount called."),
    )


class CallDuesForm(forms.Form):
    # The model's bounds: the calendar's dates of the year must exist.
    year = forms.IntegerField(label=_("Year"), min_value=1901, max_value=9999)


class DateForm(ConsoleFormMixin, forms.Form):
    on = forms.DateField(label=_("Date"), widget=DateInput)


class ThemeForm(ConsoleFormMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    slug = forms.SlugField(
        label=_("Code"),
        max_length=50,
        required=False,
        help_text=_("Used in imports and reports. Leave empty to make one from the name."),
    )


class ThemeRenameForm(ConsoleFormMixin, forms.Form):
    name = forms.CharField(label=_("New name"), max_length=100)
