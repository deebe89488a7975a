"""Forms of the service pages. They only shape input; the actions (and the kind's driver,
through them) validate and save. ``locate_spec_errors`` asks the driver part by part so that an
error in the settings shows next to the field it is about."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from ronron.core.forms import ConsoleFormMixin
from ronron.drivers.base import Driver, drivers
from ronron.drivers.web.site import LIMIT_RANGES, NGINX_LIMITS, Limits
from ronron.fleet.models import ROLES, Server
from ronron.fleet.placement import room
from ronron.members.models import Member
from ronron.services.forms_cloud import CLOUD_KINDS, CloudFieldsMixin
from ronron.services.kinds import KIND_LABELS

LIMIT_LABELS: dict[str, Any] = {
    "requests_per_second": _("Requests per second from one visitor"),
    "burst": _("Extra requests accepted in a burst"),
    "connections_per_client": _("Connections at once from one visitor"),
    "client_max_body_mb": _("Largest upload (MB)"),
    "php_workers": _("PHP workers (pages prepared at the same time)"),
    "php_memory_limit_mb": _("PHP memory per page (MB)"),
    "php_request_timeout_s": _("Longest time to prepare a page (seconds)"),
    "php_upload_max_mb": _("Largest file sent to PHP (MB)"),
}
# The limits the console offers (the others stay reachable through the spec, kept as they are).
LIMIT_FIELDS: dict[str, Any] = {
    name: LIMIT_LABELS[name]
    for name in ("requests_per_second", "client_max_body_mb", "php_workers", "php_memory_limit_mb")
}
WORDPRESS_FIELDS = ("title", "admin_email", "admin_user")
LIST_FIELDS = ("subject", "list_type", "owners")
# Where a setting of the spec is shown in the form, when the names differ.
SPEC_FIELD_NAMES = {"type": "list_type"}
LIST_TYPE_LABELS: dict[str, Any] = {
    "discussion_list": _("Discussion: every subscriber may write"),
    "hotline": _("Hotline: anyone may write, subscribers answer"),
    "news-letter": _("Newsletter: only moderators send"),
    "html-news-letter": _("HTML newsletter: only moderators send"),
    "private_working_group": _("Private working group: subscribers only, private archives"),
    "public_web_forum": _("Public forum: web archives open to all"),
    "confidential": _("Confidential: subscribers hidden from one another"),
}


def kind_choices() -> list[tuple[str, Any]]:
    return sorted(
        ((d.kind, KIND_LABELS.get(d.kind, d.kind)) for d in drivers()), key=lambda c: str(c[1])
    )


def split_lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _messages(error: ValidationError) -> list[str]:
    return list(error.messages)


def locate_spec_errors(driver: Driver, spec: dict[str, Any]) -> dict[str, list[str]]:
    """The driver's complaints about ``spec``, keyed by form field (``limit_<name>`` for each
    limit, None for what belongs to no single field); empty when the driver accepts it."""
    try:
        driver.validate_spec(dict(spec))
    except ValidationError as whole:
        problems = whole
    else:
        return {}
    if hasattr(problems, "error_dict"):
        # The driver said which setting each problem is about.
        return {
            SPEC_FIELD_NAMES.get(key, key): [m for e in errors for m in e.messages]
            for key, errors in problems.error_dict.items()
        }
    located: dict[str, list[str]] = {}
    for key, value in spec.items():
        if key == "limits" and isinstance(value, dict):
            for name, number in value.items():
                try:
                    driver.validate_spec({"limits": {name: number}})
                except ValidationError as exc:
                    located.setdefault(f"limit_{name}", []).extend(_messages(exc))
            continue
        try:
            driver.validate_spec({key: value})
        except ValidationError as exc:
            located.setdefault(key, []).extend(_messages(exc))
    if not located:
        located["__all__"] = _messages(problems)
    return located


class LimitsMixin:
    """Optional number fields for a few limits; empty means the default."""

    def add_limit_fields(self, names: tuple[str, ...]) -> None:
        defaults = Limits()
        for name in names:
            low, high = LIMIT_RANGES[name]
            self.fields[f"limit_{name}"] = forms.IntegerField(  # type: ignore[attr-defined]
                label=LIMIT_FIELDS[name],
                required=False,
                min_value=low,
                max_value=high,
                help_text=format_lazy(
                    _("Empty: the default, {default}. From {low} to {high}."),
                    default=getattr(defaults, name),
                    low=low,
                    high=high,
                ),
            )

    def limits(self, existing: dict[str, Any] | None = None) -> dict[str, int]:
        """The limits to keep: those set before outside the form, then those filled in."""
        shown = {
            n.removeprefix("limit_")
            for n in self.fields  # type: ignore[attr-defined]
            if n.startswith("limit_")
        }
        kept = {k: v for k, v in (existing or {}).items() if k not in shown}
        for name in shown:
            value = self.cleaned_data.get(f"limit_{name}")  # type: ignore[attr-defined]
            if value is not None:
                kept[name] = value
        return kept

    def attach_spec_errors(self, located: dict[str, list[str]]) -> None:
        for field, messages in located.items():
            target = field if field in self.fields else None  # type: ignore[attr-defined]
            for message in messages:
                self.add_error(target, message)  # type: ignore[attr-defined]


class ServerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        roles = ", ".join(str(ROLES.get(r, r)) for r in obj.role_list) or str(_("no role"))
        free = room(obj)
        if free.memory_mb:
            return str(
                format_lazy(
                    _("{name} ({roles}) — free: {memory} MB of memory, {disk} GB of disk"),
                    name=obj.name,
                    roles=roles,
                    memory=free.free_memory_mb,
                    disk=f"{free.free_disk_gb:g}",
                )
            )
        return str(
            format_lazy(_("{name} ({roles}) — free room unknown"), name=obj.name, roles=roles)
        )


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.number} — {obj.name}"


class ServiceRequestForm(ConsoleFormMixin, LimitsMixin, CloudFieldsMixin, forms.Form):
    member = MemberChoiceField(label=_("Member"), queryset=Member.objects.order_by("number"))
    kind = forms.ChoiceField(label=_("Kind of service"), choices=())
    # Required for every kind but the cloud ones (``clean``).
    domain = forms.CharField(
        label=_("Address"),
        max_length=253,
        required=False,
        help_text=_(
            "A site's domain name, such as monasso.fr (accented names are accepted); a list's "
            "e-mail address, such as adherents@listes.monasso.fr. Not needed for a cloud space "
            "or a work group."
        ),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )
    aliases = forms.CharField(
        label=_("Other names of the site"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("One per line, such as www.monasso.fr. They show the same site."),
    )
    server = ServerChoiceField(
        label=_("Server"),
        queryset=Server.objects.order_by("name"),
        to_field_name="name",
        required=False,
        empty_label=_("Automatic — the server with the most room"),
        help_text=_("Leave it automatic unless you have a reason to choose."),
    )
    title = forms.CharField(
        label=_("Site title"),
        max_length=200,
        required=False,
        help_text=_("WordPress only. It can be changed later in WordPress."),
    )
    admin_email = forms.CharField(
        label=_("Administrator's e-mail"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(),
        help_text=_("WordPress only. Empty: the member's technical contact."),
    )
    admin_user = forms.CharField(
        label=_("Administrator's login"),
        max_length=60,
        required=False,
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
        help_text=_("WordPress only. Empty: “webmestre”."),
    )

    subject = forms.CharField(
        label=_("Subject of the list"),
        max_length=200,
        required=False,
        help_text=_("Lists only: its title, such as “Adhérents de Mon Asso”."),
    )
    list_type = forms.ChoiceField(
        label=_("Type of list"),
        choices=list(LIST_TYPE_LABELS.items()),
        initial="discussion_list",
        required=False,
    )
    owners = forms.CharField(
        label=_("Owners of the list"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=_("One e-mail address per line. Empty: the member's technical contact."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kind_choices()  # type: ignore[attr-defined]
        self.add_limit_fields(tuple(LIMIT_FIELDS))
        self.add_cloud_fields()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The portal's form is for one kind, given when it is made rather than as a field.
        kind = data.get("kind") or getattr(self, "service_kind", "")
        if kind in CLOUD_KINDS:
            self.clean_cloud(kind)
        elif "domain" in self.fields and not data.get("domain") and "domain" not in self.errors:
            self.add_error("domain", self.fields["domain"].error_messages["required"])
        return data

    def spec(self, member: Member | None = None) -> dict[str, Any]:
        data = self.cleaned_data
        if data.get("kind") in CLOUD_KINDS:
            return self.cloud_spec(data["kind"])
        if data.get("kind") == "list":
            owners = split_lines(data.get("owners", ""))
            if not owners and member is not None and tech_email(member):
                owners = [tech_email(member)]
            return {
                "subject": data.get("subject", ""),
                "type": data.get("list_type") or "discussion_list",
                "owners": owners,
            }
        spec: dict[str, Any] = {}
        aliases = split_lines(data.get("aliases", ""))
        if aliases:
            spec["aliases"] = aliases
        if data.get("kind") == "wordpress":
            for key in WORDPRESS_FIELDS:
                if data.get(key):
                    spec[key] = data[key]
            if "admin_email" not in spec and member is not None:
                email = tech_email(member)
                if email:
                    spec["admin_email"] = email
        limits = self.limits()
        if limits:
            spec["limits"] = limits
        return spec


def tech_email(member: Member) -> str:
    contact = member.contacts.filter(roles__contains="tech").order_by("pk").first()
    return contact.email if contact else ""


class ServiceSettingsForm(ConsoleFormMixin, LimitsMixin, forms.Form):
    aliases = forms.CharField(
        label=_("Other names of the site"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("One per line, such as www.monasso.fr. They show the same site."),
    )

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offered = tuple(n for n in LIMIT_FIELDS if kind == "wordpress" or n in NGINX_LIMITS)
        self.add_limit_fields(offered)

    @staticmethod
    def initial_for(spec: dict[str, Any]) -> dict[str, Any]:
        initial: dict[str, Any] = {"aliases": "\n".join(spec.get("aliases", []))}
        for name, value in (spec.get("limits") or {}).items():
            initial[f"limit_{name}"] = value
        return initial

    def spec(self, current: dict[str, Any]) -> dict[str, Any]:
        """The whole new spec: what the form shows, replaced; everything else, kept."""
        spec = {k: v for k, v in current.items() if k not in {"aliases", "limits"}}
        aliases = split_lines(self.cleaned_data.get("aliases", ""))
        if aliases:
            spec["aliases"] = aliases
        limits = self.limits(current.get("limits"))
        if limits:
            spec["limits"] = limits
        return spec


class SendCredentialsForm(ConsoleFormMixin, forms.Form):
    """To whom new credentials go: one of the member's contacts, those who receive them by
    default first chosen."""

    contact = forms.ChoiceField(label=_("Send them to"))

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        from ronron.services.handover import credentials_recipients

        super().__init__(*args, **kwargs)
        self.contacts = {
            str(c.pk): c for c in member.contacts.exclude(email="").order_by("name", "pk")
        }
        choice = self.fields["contact"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [
            (pk, f"{c.name} <{c.email}>" + (f" ({', '.join(c.role_labels())})" if c.roles else ""))
            for pk, c in self.contacts.items()
        ]
        default = credentials_recipients(member)
        if default:
            self.initial.setdefault("contact", str(default[0].pk))

    def recipient(self) -> str:
        return str(self.contacts[self.cleaned_data["contact"]].email)
