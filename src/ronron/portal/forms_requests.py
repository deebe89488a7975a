"""Forms of the catalog (console) and of service requests (portal and console). They shape
input; ``actions_requests`` validates and saves."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ronron.core.forms import ConsoleFormMixin
from ronron.members.models import Member
from ronron.portal.actions_requests import MAX_MESSAGE, provisioned_kinds
from ronron.portal.models import Offer
from ronron.services.forms import LIST_FIELDS, WORDPRESS_FIELDS, ServiceRequestForm
from ronron.services.forms_cloud import CLOUD_FIELDS
from ronron.services.kinds import KIND_LABELS, KINDS


def offered_kind_choices(exclude: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, Any]]:
    return [(k, KIND_LABELS.get(k, k)) for k in provisioned_kinds() if k not in exclude]


class OfferForm(ConsoleFormMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind of service"),
        choices=(),
        help_text=_("What Ronron creates when the request is approved. It cannot change later."),
    )
    title = forms.CharField(label=_("Title"), max_length=100)
    description = forms.CharField(
        label=_("Description"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What members read in the catalog: what it is for, what they need to give."),
    )
    needs_approval = forms.BooleanField(
        label=_("Needs an admin's approval"),
        required=False,
        help_text=_("Unchecked: a request is accepted and created at once."),
    )
    available = forms.BooleanField(
        label=_("Offered"),
        required=False,
        help_text=_("Unchecked: hidden from the catalog; requests already made go on."),
    )
    position = forms.IntegerField(
        label=_("Position"),
        min_value=0,
        max_value=32767,
        initial=0,
        help_text=_("Entries are listed from the smallest position."),
    )

    def __init__(self, *args: Any, offer: Offer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)
        if offer is None:
            taken = set(Offer.objects.values_list("kind", flat=True))
            kind.choices = offered_kind_choices(taken)
        else:
            del self.fields["kind"]

    def data_for_action(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "kind"}


# The console's help texts say which kind a field is for; here the form is for one kind.
PORTAL_HELP_TEXTS: dict[str, Any] = {
    "title": _("It can be changed later in WordPress."),
    "admin_email": _("Who receives the administrator's login. Empty: your technical contact."),
    "admin_user": _("Empty: “webmestre”."),
    "subject": _("Its title, such as “Adhérents de Mon Asso”."),
}


class PortalRequestForm(ServiceRequestForm):
    """The console's service form, cut down to what a member gives for one kind: the address
    and the kind's settings (the server and the limits stay the admins' choice)."""

    message = forms.CharField(
        label=_("Message for the admins"),
        required=False,
        max_length=MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Optional: anything that helps, such as what the service is for."),
    )

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service_kind = kind
        keep = {"domain", "message"}
        if KINDS.get(kind) == "web":
            keep.add("aliases")
        if kind == "wordpress":
            keep.update(WORDPRESS_FIELDS)
        if kind == "list":
            keep.update(LIST_FIELDS)
            self.fields["domain"].label = _("Address of the list")
            self.fields["domain"].help_text = _(
                "The e-mail address people will write to, such as adherents@listes.monasso.fr."
            )
            self.fields["subject"].required = True
        elif kind == "cloud":
            # A cloud space has no address: the member says who gets an account, and how much
            # room and which apps the space needs.
            keep.update(CLOUD_FIELDS)
            keep.discard("domain")
        else:
            self.fields["domain"].label = _("Address of the site")
            self.fields["domain"].help_text = _(
                "Its domain name, such as monasso.fr (accented names are accepted). The domain "
                "must point to our servers: ask us if you are not sure how."
            )
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if "domain" in self.fields:
            self.fields["domain"].required = True
        for name, text in PORTAL_HELP_TEXTS.items():
            if name in self.fields:
                self.fields[name].help_text = text

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["kind"] = self.service_kind
        return data

    def details(self, member: Member) -> dict[str, Any]:
        """The settings of the service, as the console builds them."""
        return self.spec(member)


class RefuseForm(ConsoleFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Why it is refused"),
        max_length=MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The member reads it in the portal and by mail: be kind and concrete."),
    )
