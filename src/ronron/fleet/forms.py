"""Forms of the server pages. They only shape input: the actions validate and save."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ronron.core.forms import ConsoleFormMixin
from ronron.fleet.models import ROLES, Server


class SecretTextarea(forms.Textarea):
    """A textarea that never shows its value: a private key is typed in, never sent back."""

    def format_value(self, value: Any) -> str | None:
        return None


class ServerForm(ConsoleFormMixin, forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=50,
        help_text=_("Lower-case letters, digits and hyphens, such as “web-1”."),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    host_kind = forms.ChoiceField(
        label=_("Reached through"),
        choices=Server.HostKind.choices,
        initial=Server.HostKind.LOCAL,
        help_text=_("“This machine” is the one Ronron runs on; other servers are reached by SSH."),
    )
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        choices=list(ROLES.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What new services this server may receive."),
    )
    memory_mb = forms.IntegerField(
        label=_("Memory (MB)"),
        min_value=0,
        initial=0,
        help_text=_("0: use what the server reports."),
    )
    disk_gb = forms.IntegerField(
        label=_("Disk (GB)"), min_value=0, initial=0, help_text=_("0: use what the server reports.")
    )
    cpus = forms.IntegerField(label=_("CPUs"), min_value=0, max_value=32767, initial=0)
    address = forms.CharField(
        label=_("Address"),
        max_length=255,
        required=False,
        help_text=_("SSH only: the server's name or IP address."),
    )
    port = forms.IntegerField(
        label=_("SSH port"), min_value=1, max_value=65535, initial=22, required=False
    )
    ssh_user = forms.CharField(
        label=_("SSH user"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    private_key = forms.CharField(
        label=_("SSH private key"),
        required=False,
        strip=True,
        widget=SecretTextarea(attrs={"rows": 5, "autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "The whole key, from “-----BEGIN” to “-----END …-----”, without a passphrase. "
            "It is stored encrypted and never shown again."
        ),
    )
    host_key = forms.CharField(
        label=_("Host key of the server"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=_(
            "One line such as “ssh-ed25519 AAAA…”, from /etc/ssh/ssh_host_ed25519_key.pub on "
            "the server. Ronron refuses to talk to a server that answers with another key."
        ),
    )

    def __init__(self, *args: Any, key_recorded: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if key_recorded:
            self.fields["private_key"].help_text = _(
                "A key is recorded. Leave this empty to keep it, or paste a new one to replace it."
            )

    def action_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["roles"] = list(data.get("roles") or [])
        if data.get("port") is None:
            data["port"] = 22
        return data

    @staticmethod
    def initial_for(server: Server) -> dict[str, Any]:
        credentials = server.ssh_credentials or {}
        return {
            "name": server.name,
            "description": server.description,
            "host_kind": server.host_kind,
            "roles": server.role_list,
            "memory_mb": server.memory_mb,
            "disk_gb": server.disk_gb,
            "cpus": server.cpus,
            "address": server.address,
            "port": server.port,
            "ssh_user": server.ssh_user,
            # The host key is public: shown so that it can be checked. The private key never is.
            "host_key": credentials.get("host_key", ""),
        }


class NextcloudAccessForm(ConsoleFormMixin, forms.Form):
    """How Ronron logs into the server's Nextcloud; the password is never shown back."""

    url = forms.CharField(
        label=_("Address of the Nextcloud"),
        max_length=255,
        help_text=_("As its users open it, such as https://cloud.example.org."),
        widget=forms.URLInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )
    user = forms.CharField(
        label=_("Administrator's login"),
        max_length=256,
        help_text=_("A Nextcloud account in the admin group that Ronron uses, such as “ronron”."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )
    password = forms.CharField(
        label=_("App password"),
        max_length=256,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Made in Nextcloud under Personal settings → Security → Devices & sessions: it can "
            "be revoked alone. It is stored encrypted and never shown again."
        ),
    )

    def __init__(self, *args: Any, password_recorded: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.password_recorded = password_recorded
        if password_recorded:
            self.fields["password"].help_text = _(
                "An app password is recorded. Leave this empty to keep it, or give a new one "
                "to replace it."
            )
        else:
            self.fields["password"].required = True
