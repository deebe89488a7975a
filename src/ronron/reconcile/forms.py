from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ronron.core.forms import ConsoleFormMixin


class AdoptForm(ConsoleFormMixin, forms.Form):
    server = forms.CharField(widget=forms.HiddenInput, max_length=50)
    kind = forms.CharField(widget=forms.HiddenInput, max_length=30)
    name = forms.CharField(widget=forms.HiddenInput, max_length=100)
    member = forms.CharField(
        label=_("Member number"), max_length=20, help_text=_("The member it belongs to.")
    )
    domain = forms.CharField(
        label=_("Domain name"),
        max_length=253,
        required=False,
        help_text=_("Its main address, for example amis-du-velo.fr (optional)."),
    )
