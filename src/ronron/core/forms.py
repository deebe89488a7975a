from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class ConsoleFormMixin:
    """Marks fields in error for assistive technology: ``aria-invalid`` and a link to the
    message shown next to the field (see ``ronron/field.html``)."""

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)  # type: ignore[misc]
        for name in self.errors:  # type: ignore[attr-defined]
            if name in self.fields:  # type: ignore[attr-defined]
                bound = self[name]  # type: ignore[index]
                attrs = self.fields[name].widget.attrs  # type: ignore[attr-defined]
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = f"{bound.auto_id}_error"


def attach_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show an action's ValidationError on the form: next to a field the form has, or on top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields else None
            for item in errors:
                form.add_error(target, item)
    else:
        form.add_error(None, error)


class LoginForm(ConsoleFormMixin, AuthenticationForm):
    error_messages = {
        "invalid_login": _(
            "This user name and password do not match. Check them and try again "
            "(the password is case-sensitive)."
        ),
        "inactive": _("This account is disabled."),
        "not_staff": _("This account cannot use the console. Ask another admin."),
    }

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        # Member managers log in here too; they land on the portal (core.views.LoginView).
        if not user.is_staff and not user.manager_accesses.exists():
            raise ValidationError(self.error_messages["not_staff"], code="not_staff")


class TokenForm(ConsoleFormMixin, forms.Form):
    token = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=10,
        help_text=_("Six digits; a new code appears every 30 seconds."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        token = self.cleaned_data["token"].strip().replace(" ", "")
        if not token.isdigit():
            raise ValidationError(_("Type only the digits of the code."), code="not_digits")
        return token


class PasswordConfirmForm(ConsoleFormMixin, forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("To make sure it is really you."),
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError(_("This is not your password."), code="wrong_password")
        return password
