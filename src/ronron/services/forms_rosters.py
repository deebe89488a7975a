"""Forms of the roster and list pages. They shape input; the actions validate and save."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ronron.core.forms import ConsoleFormMixin
from ronron.members.models import Member
from ronron.services import rosters_csv
from ronron.services.models import Roster
from ronron.services.rosters import SOURCES

MAX_PASTED = 1024 * 1024


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.number} {obj.name}"


def source_choices() -> list[tuple[str, Any]]:
    return [(name, source.label) for name, source in SOURCES.items()]


def needing_member() -> list[str]:
    return [name for name, source in SOURCES.items() if source.needs_member]


class RosterForm(ConsoleFormMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    source = forms.ChoiceField(label=_("Addresses"), choices=source_choices)
    member = MemberChoiceField(
        label=_("Member"),
        queryset=Member.objects.order_by("number"),
        required=False,
        help_text=_("Only for a roster made of the contacts of one member."),
    )
    slug = forms.CharField(
        label=_("Code"),
        max_length=50,
        required=False,
        help_text=_(
            "Lower-case letters, digits and hyphens. Left empty, it is made from the name."
        ),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["slug"].required = True
            self.fields["slug"].help_text = _("Lower-case letters, digits and hyphens.")

    @staticmethod
    def initial_for(roster: Roster) -> dict[str, Any]:
        return {
            "name": roster.name,
            "source": roster.source,
            "member": roster.member_id,
            "slug": roster.slug,
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # A member chosen before switching to a source about everyone is simply dropped.
        if data.get("source") and data["source"] not in needing_member():
            data["member"] = None
        return data

    def action_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "source": data["source"],
            "member": data["member"],
            "slug": data["slug"],
        }


class UploadForm(ConsoleFormMixin, forms.Form):
    file = forms.FileField(
        label=_("File of addresses (CSV)"),
        required=False,
        help_text=_(
            "One address a line, with a name after it if you like, separated by a comma or a "
            "semicolon. A first line with the column names (email, name) is optional."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv,text/plain"}),
    )
    text = forms.CharField(
        label=_("Or paste the addresses"),
        required=False,
        max_length=MAX_PASTED,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text=_("Same format as the file: one address a line."),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if upload and upload.size > rosters_csv.MAX_BYTES:
            raise ValidationError(
                _("This file is too large: up to %(size)s MB are accepted.")
                % {"size": rosters_csv.MAX_BYTES // (1024 * 1024)},
                code="too_large",
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload, text = data.get("file"), (data.get("text") or "").strip()
        if self.errors:
            return data
        if upload and text:
            raise ValidationError(_("Send a file or paste addresses, not both."), code="both_given")
        if not upload and not text:
            raise ValidationError(
                _("Choose a file of addresses, or paste the addresses."), code="required"
            )
        field = "file" if upload else "text"
        try:
            if upload:
                entries = rosters_csv.parse_addresses(upload.read())
            else:
                entries = rosters_csv.parse_text(text)
        except ValidationError as exc:
            for message in exc.messages:
                self.add_error(field, message)
            return data
        data["entries"] = entries
        return data


class FollowForm(ConsoleFormMixin, forms.Form):
    roster = forms.ModelChoiceField(
        label=_("Follows the roster"),
        queryset=Roster.objects.order_by("name"),
        required=False,
        empty_label=_("No roster: its members are managed by hand"),
    )


class AddressSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Find an address"),
        required=False,
        max_length=320,
        widget=forms.TextInput(attrs={"type": "search"}),
    )


class ListFilterForm(ConsoleFormMixin, forms.Form):
    domain = forms.ChoiceField(label=_("List domain"), required=False)
    member = MemberChoiceField(
        label=_("Member"), queryset=Member.objects.none(), required=False, empty_label=_("All")
    )
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=254,
        help_text=_("Part of a list's address or subject."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )

    def __init__(self, *args: Any, domains: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        every: list[tuple[str, Any]] = [("", _("All"))]
        cast(forms.ChoiceField, self.fields["domain"]).choices = every + [(d, d) for d in domains]
        # The members that have lists, and the one asked for even if it has none (a link from
        # its page then says "no list" rather than refusing the filter).
        asked = self.data.get("member", "") if self.is_bound else ""
        with_lists = Q(services__kind="list", services__removed_at__isnull=True)
        if isinstance(asked, str) and asked.isdigit():
            with_lists |= Q(pk=int(asked))
        member_field = cast(forms.ModelChoiceField, self.fields["member"])
        member_field.queryset = Member.objects.filter(with_lists).distinct().order_by("number")

    def is_filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)
