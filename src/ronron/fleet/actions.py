"""Every change to the fleet: validate, write, audit — one function per verb.

Each action takes the acting user as ``actor``, runs in one transaction and writes one audit
entry. SSH credentials never reach the audit log (``audit.snapshot`` masks encrypted fields).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ronron.core import audit
from ronron.fleet.layout import Layout
from ronron.fleet.models import ROLES, Server
from ronron.fleet.ssh import load_private_key, parse_host_key
from ronron.fleet.usage import observe_usage

SERVER_FIELDS = {
    "name",
    "description",
    "host_kind",
    "address",
    "port",
    "ssh_user",
    "ssh_credentials",
    "roles",
    "memory_mb",
    "disk_gb",
    "cpus",
    "layout",
}
# Convenience for forms: merged into ssh_credentials; an empty private key keeps the one stored.
CREDENTIAL_FIELDS = {"private_key", "host_key"}

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def normalize_roles(value: str | list[str] | tuple[str, ...] | None) -> str:
    """Known roles, sorted and comma-separated ("lists,web")."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    roles = {str(r).strip().lower() for r in items if str(r).strip()}
    unknown = roles - set(ROLES)
    if unknown:
        raise ValidationError(
            {"roles": _("Unknown role: %(roles)s.") % {"roles": ", ".join(sorted(unknown))}}
        )
    return ",".join(sorted(roles))


def _valid_address(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return bool(_HOSTNAME.fullmatch(address)) and ".." not in address
    return True


def _apply(server: Server, data: dict[str, Any]) -> None:
    unknown = set(data) - SERVER_FIELDS - CREDENTIAL_FIELDS
    if unknown:
        raise ValidationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)))
    for key in SERVER_FIELDS & set(data):
        value = data[key]
        if key == "roles":
            value = normalize_roles(value)
        elif key == "layout":
            value = value or {}
        elif isinstance(value, str):
            value = value.strip()
        setattr(server, key, value)
    if CREDENTIAL_FIELDS & set(data):
        credentials = dict(server.ssh_credentials or {})
        private_key = (data.get("private_key") or "").strip()
        if private_key:
            credentials["private_key"] = private_key + "\n"
        if "host_key" in data:
            credentials["host_key"] = " ".join((data["host_key"] or "").split())
        server.ssh_credentials = {k: v for k, v in credentials.items() if v} or None


def _validate(server: Server) -> None:
    errors: dict[str, list[Any]] = {}
    try:
        server.full_clean()
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        Layout.from_overrides(server.layout or {})
    except (ValueError, TypeError) as exc:
        errors.setdefault("layout", []).append(
            _("These layout settings are not understood: %(error)s") % {"error": exc}
        )
    if server.host_kind == Server.HostKind.SSH:
        credentials = server.ssh_credentials or {}
        if not server.address:
            errors.setdefault("address", []).append(
                _("Give the address of the server (a name or an IP address).")
            )
        elif not _valid_address(server.address):
            errors.setdefault("address", []).append(
                _("This is not a server name or an IP address.")
            )
        if not server.ssh_user:
            errors.setdefault("ssh_user", []).append(_("Give the user Ronron logs in as."))
        elif not _USER.fullmatch(server.ssh_user):
            errors.setdefault("ssh_user", []).append(_("This is not a valid user name."))
        if not credentials.get("private_key"):
            errors.setdefault("private_key", []).append(
                _("Paste the private key Ronron logs in with.")
            )
        else:
            try:
                load_private_key(credentials["private_key"])
            except ValueError:
                errors.setdefault("private_key", []).append(
                    _(
                        "This private key cannot be read. Paste the whole key, from "
                        "“-----BEGIN” to “-----END …-----”, without a passphrase."
                    )
                )
        if not credentials.get("host_key"):
            errors.setdefault("host_key", []).append(
                _(
                    "Paste the server's host key, so that Ronron can check it talks to the "
                    "right machine."
                )
            )
        else:
            try:
                parse_host_key(credentials["host_key"])
            except ValueError:
                errors.setdefault("host_key", []).append(
                    _(
                        "This host key cannot be read. It is one line such as "
                        "“ssh-ed25519 AAAA…”, found in /etc/ssh/ssh_host_ed25519_key.pub "
                        "on the server."
                    )
                )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_server(*, actor: Any, **fields: Any) -> Server:
    server = Server()
    _apply(server, fields)
    _validate(server)
    server.save()
    audit.record("server.created", actor=actor, obj=server, after=audit.snapshot(server))
    return server


@transaction.atomic
def update_server(server: Server, *, actor: Any, **changes: Any) -> Server:
    server = Server.objects.select_for_update().get(pk=server.pk)
    before = audit.snapshot(server)
    _apply(server, changes)
    _validate(server)
    server.save()
    after = audit.snapshot(server)
    if before.get("ssh_credentials") == after.get("ssh_credentials") and (
        changes.get("private_key") or "host_key" in changes or "ssh_credentials" in changes
    ):
        # The mask says "<set>" before and after: say that the secret itself may have changed.
        after["ssh_credentials_updated"] = True
    audit.record("server.updated", actor=actor, obj=server, before=before, after=after)
    return server


def record_usage(server: Server, *, actor: Any = None) -> Server:
    """Observe the server now (through its host), then store what was seen.

    Raises HostError when the server cannot be reached; nothing is stored then."""
    host = server.host()
    try:
        usage = observe_usage(host)
    finally:
        close = getattr(host, "close", None)
        if close is not None:
            close()
    # The observation talks to the server: outside the transaction, so no row stays locked.
    with transaction.atomic():
        server = Server.objects.select_for_update().get(pk=server.pk)
        server.usage = usage
        server.usage_at = timezone.now()
        server.save(update_fields=["usage", "usage_at", "updated_at"])
        audit.record("server.usage_observed", actor=actor, obj=server, after=usage)
    return server
