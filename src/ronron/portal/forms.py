"""Forms of the portal and of the managers' panel in the console."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ronron.core.forms import ConsoleFormMixin
from ronron.core.validators import reject_control_characters
from ronron.members.models import Contact


class InviteForm(ConsoleFormMixin, forms.Form):
    email = forms.EmailField(
        label=_("E-mail of the person to invite"),
        max_length=254,
        help_text=_("They receive a personal link to create their account."),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )


class AcceptForm(forms.Form):
    """The one button of a logged-in account; no field."""


class NewAccountForm(ConsoleFormMixin, forms.Form):
    password1 = forms.CharField(
        label=_("Choose a password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters, not too common, not only digits."),
    )
    password2 = forms.CharField(
        label=_("The same password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ: type the same one twice."))
        return data


class ExistingAccountForm(ConsoleFormMixin, AuthenticationForm):
    """Log in to an account one already has, to accept an invitation with it."""

    error_messages = {
        "invalid_login": _(
            "This user name and password do not match. Check them and try again "
            "(the password is case-sensitive)."
        ),
        "inactive": _("This account is disabled."),
        "staff": _(
            "This is an admin's account: it cannot become a member manager. Create a separate "
            "account with the form above instead."
        ),
    }

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if user.is_staff:
            raise ValidationError(self.error_messages["staff"], code="staff")


def _single_line(value: str) -> str:
    reject_control_characters(value)
    return value.strip()


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
        help_text=_("The technical contact receives the passwords of new services and the alerts."),
    )

    def clean_name(self) -> str:
        return _single_line(self.cleaned_data["name"])

    def clean_phone(self) -> str:
        return _single_line(self.cleaned_data.get("phone") or "")


class ExportForm(forms.Form):
    """The button that starts an export of all the member's data."""
