"""The cloud parts of the service forms: a cloud space's allowance, apps and accounts (typed as
one account per line), a work group's name and roster, and the licences of apps bought by the
seat. They shape input; the Nextcloud driver (through the actions) validates and decides."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from ronron.core.forms import ConsoleFormMixin
from ronron.core.validators import reject_control_characters, validate_email
from ronron.drivers.nextcloud.licences import licence_use
from ronron.drivers.nextcloud.spec import APPS, parse_size, validate_user_id
from ronron.services.actions_cloud import MAX_SEATS
from ronron.services.models import Roster

CLOUD_KINDS = ("cloud", "cloudgroup")
CLOUD_FIELDS = ("allowance", "apps", "accounts")
WORK_GROUP_FIELDS = ("group_name", "roster")
# Where the driver's complaints about a setting are shown, when the form names it otherwise.
CLOUD_FIELD_NAMES = {"name": "group_name", "retired": "accounts"}

# Separators a volunteer uses: a semicolon, or a tab when columns are pasted from a spreadsheet.
_SEPARATOR = re.compile(r"[;\t]")
_UNITS = (
    (1024**4, pgettext_lazy("size unit", "TB")),
    (1024**3, pgettext_lazy("size unit", "GB")),
    (1024**2, pgettext_lazy("size unit", "MB")),
    (1024, pgettext_lazy("size unit", "KB")),
)

ALLOWANCE_HELP = gettext_lazy(
    "The storage the member's accounts share, such as “50 GB” (“50 Go” is understood too)."
)
ACCOUNTS_HELP = gettext_lazy(
    "One account per line: login; name; e-mail; quota — separated by “;” or a tab (columns "
    "pasted from a spreadsheet). The name and the quota may be left out: “camille; "
    "camille@monasso.fr” is enough. An account without a quota shares what the others leave of "
    "the allowance. Each person receives a one-time link to their password by e-mail."
)


def size_text(size: int | None) -> str:
    """A number of bytes as a volunteer writes it back ("50 GB", "1.5 TB"), exactly: what
    ``parse_size`` reads again gives the same number."""
    if not size:
        return ""
    for factor, unit in _UNITS:
        if size >= factor and (size * 100) % factor == 0:
            # Never a thousands separator: "1,024" would read back as 1.024.
            value = format((Decimal(size) / factor).normalize(), "f")
            return f"{value.replace('.', formats.get_format('DECIMAL_SEPARATOR'))} {unit}"
    return str(size)


def _account_fields(parts: list[str]) -> tuple[str, str, str, str]:
    """(login, name, e-mail, quota) from a line's parts; the name and the quota may be absent."""
    if len(parts) < 2:
        raise ValidationError(_("give at least a login and an e-mail address, separated by “;”."))
    if len(parts) > 4:
        raise ValidationError(
            _("too many parts: write login; name; e-mail; quota (name and quota optional).")
        )
    if len(parts) == 2:
        return parts[0], "", parts[1], ""
    if len(parts) == 3:
        # "login; e-mail; quota" or "login; name; e-mail": the e-mail is the part with an "@".
        if "@" in parts[1] and "@" not in parts[2]:
            return parts[0], "", parts[1], parts[2]
        return parts[0], parts[1], parts[2], ""
    return parts[0], parts[1], parts[2], parts[3]


def _account(line: str) -> dict[str, Any]:
    reject_control_characters(line)
    parts = [part.strip() for part in _SEPARATOR.split(line)]
    while parts and not parts[-1]:
        parts.pop()
    login, name, email, quota = _account_fields(parts)
    validate_user_id(login)
    if not email:
        raise ValidationError(
            _("the e-mail address is missing: the account's password is sent there.")
        )
    validate_email(email)
    account: dict[str, Any] = {"id": login, "email": email}
    if name:
        account["name"] = name
    if quota:
        parse_size(quota)
        account["quota"] = quota
    return account


def parse_accounts(text: str) -> list[dict[str, Any]]:
    """The accounts typed one per line; a ValidationError naming each line that is wrong."""
    accounts: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            accounts.append(_account(line))
        except ValidationError as exc:
            problems.append(
                _("Line %(number)d: %(problem)s")
                % {"number": number, "problem": " ".join(exc.messages)}
            )
    if problems:
        raise ValidationError(problems)
    return accounts


def accounts_text(accounts: list[dict[str, Any]]) -> str:
    """The accounts of a spec, one per line, as the form reads them back."""
    lines = []
    for account in accounts:
        parts = [account["id"]]
        if account.get("name") and account["name"] != account["id"]:
            parts.append(account["name"])
        parts.append(account.get("email", ""))
        if account.get("quota"):
            parts.append(size_text(account["quota"]))
        lines.append("; ".join(parts))
    return "\n".join(lines)


def app_choices() -> list[tuple[str, Any]]:
    """The apps, with the free seats of those bought by the seat (OnlyOffice)."""
    seats = {use.app: use for use in licence_use()}
    choices: list[tuple[str, Any]] = []
    for app, label in APPS.items():
        use = seats.get(app)
        if use is None:
            choices.append((app, label))
        else:
            choices.append(
                (
                    app,
                    format_lazy(
                        gettext_lazy("{label} — licence: {free} of {seats} seats free"),
                        label=label,
                        free=use.free,
                        seats=use.seats,
                    ),
                )
            )
    return choices


class RosterChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.member.number})" if obj.member_id else str(obj.name)


class CloudFieldsMixin:
    """The fields of a cloud space and of a work group, added to a service form."""

    def add_cloud_fields(self, *, space: bool = True, group: bool = True) -> None:
        fields: dict[str, forms.Field] = self.fields  # type: ignore[attr-defined]
        if space:
            fields["allowance"] = forms.CharField(
                label=gettext_lazy("Storage allowance"),
                max_length=40,
                required=False,
                help_text=ALLOWANCE_HELP,
                widget=forms.TextInput(attrs={"spellcheck": "false"}),
            )
            fields["apps"] = forms.MultipleChoiceField(
                label=gettext_lazy("Apps"),
                choices=app_choices(),
                required=False,
                widget=forms.CheckboxSelectMultiple,
                help_text=gettext_lazy(
                    "Enabled for the member's accounts only. Each app must be installed on the "
                    "Nextcloud server first."
                ),
            )
            fields["accounts"] = forms.CharField(
                label=gettext_lazy("Accounts"),
                required=False,
                widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
                help_text=ACCOUNTS_HELP,
            )
        if group:
            fields["group_name"] = forms.CharField(
                label=gettext_lazy("Name of the work group"),
                max_length=64,
                required=False,
                help_text=gettext_lazy(
                    "As people see it in Nextcloud, such as “Conseil d'administration”. Empty: "
                    "the member's name."
                ),
            )
            fields["roster"] = RosterChoiceField(
                label=gettext_lazy("Roster to follow"),
                queryset=Roster.objects.select_related("member").order_by("name"),
                required=False,
                empty_label=gettext_lazy("Choose a roster"),
                help_text=gettext_lazy(
                    "The group's members are the cloud accounts whose e-mail address is in this "
                    "roster; they join and leave with it."
                ),
            )

    def clean_cloud(self, kind: str) -> None:
        """Check what only the form can see (a line of the accounts, a missing field)."""
        data = self.cleaned_data  # type: ignore[attr-defined]
        shown = self.fields  # type: ignore[attr-defined]
        if kind == "cloud":
            if "allowance" in shown and not (data.get("allowance") or "").strip():
                self.add_error(  # type: ignore[attr-defined]
                    "allowance",
                    _("Give the storage the space may use, such as “50 GB”."),
                )
            if "accounts" in shown:
                try:
                    data["account_list"] = parse_accounts(data.get("accounts", ""))
                except ValidationError as exc:
                    for message in exc.messages:
                        self.add_error("accounts", message)  # type: ignore[attr-defined]
        elif kind == "cloudgroup" and data.get("roster") is None and "roster" in data:
            self.add_error(  # type: ignore[attr-defined]
                "roster", _("Choose the roster whose people are the group's members.")
            )

    def cloud_spec(self, kind: str, current: dict[str, Any] | None = None) -> dict[str, Any]:
        """The spec the form describes; what it does not show of ``current`` is kept."""
        data = self.cleaned_data  # type: ignore[attr-defined]
        spec = dict(current or {})
        if kind == "cloud":
            spec.update(
                {
                    "allowance": (data.get("allowance") or "").strip(),
                    "apps": list(data.get("apps") or []),
                    "accounts": data.get("account_list", []),
                }
            )
        elif kind == "cloudgroup":
            spec.pop("name", None)
            name = (data.get("group_name") or "").strip()
            if name:
                spec["name"] = name
        return spec

    @staticmethod
    def cloud_initial(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        if kind == "cloud":
            return {
                "allowance": size_text(spec.get("allowance")),
                "apps": list(spec.get("apps", [])),
                "accounts": accounts_text(spec.get("accounts", [])),
            }
        return {"group_name": spec.get("name", "")}


class CloudSettingsForm(ConsoleFormMixin, CloudFieldsMixin, forms.Form):
    """The settings of a cloud space or of a work group (its roster is chosen on its page)."""

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.add_cloud_fields(space=kind == "cloud", group=kind == "cloudgroup")
        self.fields.pop("roster", None)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.clean_cloud(self.kind)
        return data

    def spec(self, current: dict[str, Any]) -> dict[str, Any]:
        return self.cloud_spec(self.kind, current)


class LicenceForm(ConsoleFormMixin, forms.Form):
    app = forms.ChoiceField(label=gettext_lazy("App"), choices=())
    seats = forms.IntegerField(
        label=gettext_lazy("Seats bought"),
        min_value=1,
        max_value=MAX_SEATS,
        help_text=gettext_lazy(
            "How many accounts may have the app. Ronron refuses a space or a change that "
            "would go above it."
        ),
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Optional: the contract, its end date, who to ask."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app = self.fields["app"]
        assert isinstance(app, forms.ChoiceField)
        app.choices = list(APPS.items())


class LicenceRemoveForm(forms.Form):
    app = forms.ChoiceField(choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app = self.fields["app"]
        assert isinstance(app, forms.ChoiceField)
        app.choices = list(APPS.items())
