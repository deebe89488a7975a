"""Forms of the help queue; ``actions_help`` validates and saves."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ronron.core.forms import ConsoleFormMixin
from ronron.members.models import Member
from ronron.portal.actions_help import MAX_BODY, MAX_SUBJECT
from ronron.services.models import Service


class ServiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        from ronron.portal.actions_requests import shown_domain

        label = obj.get_kind_display() if obj.kind else obj.get_family_display()
        named = shown_domain(obj.domain) or obj.name
        return f"{label} — {named}" if named else str(label)


class HelpRequestForm(ConsoleFormMixin, forms.Form):
    subject = forms.CharField(
        label=_("Subject"),
        max_length=MAX_SUBJECT,
        help_text=_("In a few words, such as “Our site shows an error”."),
    )
    body = forms.CharField(
        label=_("Your question"),
        max_length=MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "Say what you tried and what happened. Never write a password here: we will "
            "never ask you for one."
        ),
    )
    service = ServiceChoiceField(
        label=_("Service concerned"),
        queryset=Service.objects.none(),
        required=False,
        empty_label=_("None in particular"),
    )

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        service = self.fields["service"]
        assert isinstance(service, forms.ModelChoiceField)
        # Only the member's own services can be chosen (and so shown).
        service.queryset = Service.objects.filter(member=member, removed_at__isnull=True).order_by(
            "kind", "domain", "pk"
        )


class HelpMessageForm(ConsoleFormMixin, forms.Form):
    body = forms.CharField(
        label=_("Your message"),
        max_length=MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
