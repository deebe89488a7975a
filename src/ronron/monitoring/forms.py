"""Forms of the monitoring console. They only shape input; the actions validate (a manual check
through ``specs.validate_check``, the prober's own rules; names without line breaks) and save,
so that every problem shows at once. A setting's form field has
the setting's name, so an error the validator keys by setting shows next to its field."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ronron.core.forms import ConsoleFormMixin
from ronron.members.models import Member
from ronron.monitoring.models import Check, Incident

DNS_RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS")
# Which settings each kind of check takes, in the order of the form.
KIND_SETTINGS: dict[str, tuple[str, ...]] = {
    Check.Kind.HTTP: (
        "expected_status",
        "keyword",
        "keyword_absent",
        "method",
        "verify_tls",
        "latency_warn_ms",
        "latency_max_ms",
    ),
    Check.Kind.TCP: (),
    Check.Kind.DNS: ("record_type", "expected_values", "nameserver"),
    Check.Kind.CERTIFICATE: ("min_days", "verify_tls"),
}
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _datetime_widget() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)


def split_lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def parse_statuses(text: str) -> list[int | str]:
    """ "200, 301-308" → [200, "301-308"]: numbers as numbers, ranges as written."""
    items: list[int | str] = []
    for item in re.split(r"[\s,;]+", text or ""):
        if item:
            items.append(int(item) if item.isdigit() else item)
    return items


class CheckLabelMixin:
    def label_from_instance(self, obj: Check) -> str:
        owner = obj.member.number if obj.member is not None else _("hoster")
        return f"{obj.name} ({owner})"


class CheckMultipleChoiceField(CheckLabelMixin, forms.ModelMultipleChoiceField):
    pass


def check_choices() -> Any:
    return Check.objects.select_related("member").order_by("member__number", "name", "pk")


class CheckForm(ConsoleFormMixin, forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        help_text=_("As people will read it on the status page, for example “Forum”."),
    )
    kind = forms.ChoiceField(label=_("What to check"), choices=Check.Kind.choices)
    target = forms.CharField(
        label=_("Target"),
        max_length=500,
        help_text=_(
            "HTTP(S): the full address (https://example.org/). TCP port: host:port. "
            "DNS record: a domain name. Certificate: host or host:port."
        ),
    )
    member = forms.ModelChoiceField(
        label=_("Member"),
        queryset=Member.objects.order_by("number"),
        required=False,
        empty_label=_("The hoster (no member)"),
    )
    public = forms.BooleanField(
        label=_("Shown on the public status pages"), required=False, initial=True
    )
    notify_member = forms.BooleanField(
        label=_("Alert the member's technical contact too"), required=False
    )
    enabled = forms.BooleanField(label=_("Checked (not paused)"), required=False, initial=True)
    interval_s = forms.IntegerField(
        label=_("Every (seconds)"),
        initial=60,
        min_value=1,
        help_text=_("From 20 seconds to one day (86 400 seconds)."),
    )
    timeout_s = forms.IntegerField(
        label=_("Give up after (seconds)"),
        initial=10,
        min_value=1,
        help_text=_("From 1 to 60 seconds, shorter than the interval."),
    )
    # HTTP(S)
    expected_status = forms.CharField(
        label=_("Expected HTTP status codes"),
        required=False,
        max_length=200,
        help_text=_("Codes or ranges, for example “200, 301-308”. Empty: 200 to 399."),
    )
    keyword = forms.CharField(
        label=_("Text to look for in the page"), required=False, max_length=200
    )
    keyword_absent = forms.BooleanField(
        label=_("Down when this text is present (instead of absent)"), required=False
    )
    method = forms.ChoiceField(
        label=_("HTTP method"),
        choices=[("GET", "GET"), ("HEAD", "HEAD")],
        initial="GET",
        required=False,
    )
    verify_tls = forms.BooleanField(
        label=_("Verify the HTTPS certificate"), required=False, initial=True
    )
    latency_warn_ms = forms.IntegerField(
        label=_("Slow above (ms)"), required=False, min_value=1, max_value=600_000
    )
    latency_max_ms = forms.IntegerField(
        label=_("Down above (ms)"), required=False, min_value=1, max_value=600_000
    )
    # DNS
    record_type = forms.ChoiceField(
        label=_("DNS record type"),
        choices=[(t, t) for t in DNS_RECORD_TYPES],
        initial="A",
        required=False,
    )
    expected_values = forms.CharField(
        label=_("Expected values"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line. Empty: any answer will do."),
    )
    nameserver = forms.CharField(
        label=_("Ask this name server"),
        required=False,
        max_length=100,
        help_text=_("Its IP address. Empty: the machine's usual resolver."),
    )
    # Certificate
    min_days = forms.IntegerField(
        label=_("Down when the certificate expires within (days)"),
        required=False,
        min_value=1,
        max_value=365,
        help_text=_("Empty: 14 days."),
    )

    MAIN_FIELDS = (
        "name",
        "kind",
        "target",
        "member",
        "public",
        "notify_member",
        "enabled",
        "interval_s",
        "timeout_s",
    )

    @classmethod
    def initial_for(cls, check: Check) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(check, name) for name in cls.MAIN_FIELDS}
        data["member"] = check.member_id
        settings = dict(check.settings or {})
        data.update({k: v for k, v in settings.items() if k in cls.base_fields})
        if isinstance(settings.get("expected_status"), list):
            data["expected_status"] = ", ".join(map(str, settings["expected_status"]))
        if isinstance(settings.get("expected_values"), list):
            data["expected_values"] = "\n".join(map(str, settings["expected_values"]))
        data.setdefault("verify_tls", True)
        return data

    def settings_for(self, kind: str) -> dict[str, Any]:
        """The settings of ``kind`` as the validator takes them; what was left empty is left out
        (the validator's defaults apply)."""
        data = self.cleaned_data
        settings: dict[str, Any] = {}
        for name in KIND_SETTINGS.get(kind, ()):
            value = data.get(name)
            if name == "expected_status":
                value = parse_statuses(value or "")
            elif name == "expected_values":
                value = split_lines(value or "")
            elif name == "keyword_absent":
                value = True if value else None
            elif name == "verify_tls":
                value = None if value else False
            elif isinstance(value, str):
                value = value.strip()
            if value not in (None, "", []):
                settings[name] = value
        return settings

    def action_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in self.MAIN_FIELDS}
        data["settings"] = self.settings_for(data["kind"])
        return data


class DerivedCheckForm(ConsoleFormMixin, forms.Form):
    """What may change on a check that follows its service."""

    public = forms.BooleanField(label=_("Shown on the public status pages"), required=False)
    notify_member = forms.BooleanField(
        label=_("Alert the member's technical contact too"), required=False
    )
    keyword = forms.CharField(
        label=_("Text the page must show"),
        required=False,
        max_length=200,
        help_text=_(
            "Web pages only: a text always on the site's home page, such as its name. "
            "Without it, an error page that answers “200” would count as working."
        ),
    )
    keyword_absent = forms.BooleanField(
        label=_("Down when this text is present (instead of absent)"), required=False
    )

    def __init__(self, *args: Any, check: Any, **kwargs: Any) -> None:
        settings = check.settings or {}
        kwargs.setdefault(
            "initial",
            {
                "public": check.public,
                "notify_member": check.notify_member,
                "keyword": settings.get("keyword", ""),
                "keyword_absent": bool(settings.get("keyword_absent")),
            },
        )
        super().__init__(*args, **kwargs)
        self.check = check
        if check.kind != "http":
            del self.fields["keyword"]
            del self.fields["keyword_absent"]

    def action_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        changes: dict[str, Any] = {
            "public": data["public"],
            "notify_member": data["notify_member"],
        }
        if self.check.kind == "http":
            settings = {
                k: v
                for k, v in (self.check.settings or {}).items()
                if k not in {"keyword", "keyword_absent"}
            }
            if data.get("keyword", "").strip():
                settings["keyword"] = data["keyword"].strip()
                if data.get("keyword_absent"):
                    settings["keyword_absent"] = True
            changes["settings"] = settings
        return changes


class CheckFilterForm(ConsoleFormMixin, forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        help_text=_("Name or target."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *Check.Status.choices]
    )
    kind = forms.ChoiceField(
        label=_("What is checked"), required=False, choices=[("", _("All")), *Check.Kind.choices]
    )
    member = forms.ModelChoiceField(
        label=_("Member"),
        queryset=Member.objects.order_by("number"),
        required=False,
        empty_label=_("All"),
    )
    origin = forms.ChoiceField(
        label=_("Made"),
        required=False,
        choices=[
            ("", _("All")),
            ("derived", _("From a service")),
            ("manual", _("By hand")),
        ],
    )

    def is_filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)


class MaintenanceForm(ConsoleFormMixin, forms.Form):
    title = forms.CharField(
        label=_("Title"),
        max_length=200,
        help_text=_("Shown to admins, for example “Debian updates”."),
    )
    starts_at = forms.DateTimeField(label=_("Starts"), widget=_datetime_widget())
    ends_at = forms.DateTimeField(
        label=_("Ends"),
        required=False,
        widget=_datetime_widget(),
        help_text=_("For a recurring maintenance: no occurrence after this date (optional)."),
    )
    recurrence = forms.CharField(
        label=_("Repeats (RRULE)"),
        required=False,
        max_length=200,
        help_text=_(
            "Empty for a one-off maintenance. For example FREQ=WEEKLY;BYDAY=SU;BYHOUR=3"
            ";BYMINUTE=0: every Sunday at 3:00."
        ),
    )
    duration_minutes = forms.IntegerField(
        label=_("Each occurrence lasts (minutes)"),
        required=False,
        min_value=0,
        help_text=_("Required for a recurring maintenance; for a one-off one, instead of an end."),
    )
    member = forms.ModelChoiceField(
        label=_("Member"),
        queryset=Member.objects.order_by("number"),
        required=False,
        empty_label=_("—"),
        help_text=_("Every check of this member."),
    )
    checks = CheckMultipleChoiceField(
        label=_("Checks"),
        queryset=Check.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("And these checks. No member and no check: every check."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["checks"].queryset = check_choices()  # type: ignore[attr-defined]

    def action_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["duration_minutes"] = data.get("duration_minutes") or 0
        data["checks"] = list(data.get("checks") or [])
        return data


class IncidentForm(ConsoleFormMixin, forms.Form):
    title = forms.CharField(
        label=_("Title"),
        max_length=200,
        help_text=_("For example “Web sites slow to answer”."),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[c for c in Incident.Status.choices if c[0] != Incident.Status.RESOLVED],
        initial=Incident.Status.INVESTIGATING,
    )
    message = forms.CharField(
        label=_("What people should know"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
    )
    member = forms.ModelChoiceField(
        label=_("Member concerned"),
        queryset=Member.objects.order_by("number"),
        required=False,
        empty_label=_("Everyone"),
    )
    checks = CheckMultipleChoiceField(
        label=_("Checks concerned"),
        queryset=Check.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    public = forms.BooleanField(
        label=_("Shown on the public status pages"), required=False, initial=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["checks"].queryset = check_choices()  # type: ignore[attr-defined]

    def action_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["checks"] = list(data.get("checks") or [])
        return data


class IncidentUpdateForm(ConsoleFormMixin, forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Incident.Status.choices)
    message = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )


class StatusPageForm(ConsoleFormMixin, forms.Form):
    public = forms.BooleanField(
        label=_("Anyone may see this member's status page"),
        required=False,
        help_text=_("Otherwise only people who have its private link."),
    )
