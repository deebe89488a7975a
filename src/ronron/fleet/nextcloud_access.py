"""How Ronron logs into a server's Nextcloud: its address, an administrator and a password.

The password (an app password is best: it can be revoked alone) is stored encrypted on the
server with the other credentials Ronron uses there. When Nextcloud refuses it, the refusal is
recorded and every later call fails at once, before any request: each refused login feeds
Nextcloud's brute-force protection, which ends up answering 500 to every request from Ronron's
address, good credentials included. Setting the credentials again lifts the stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ronron.core import audit
from ronron.core.validators import reject_control_characters
from ronron.fleet.models import Server

APP = "nextcloud"


@dataclass(frozen=True)
class NextcloudAccess:
    url: str
    user: str
    password: str
    refused_at: str  # ISO date of the refusal, "" if none


def access_of(server: Server) -> NextcloudAccess | None:
    """What is stored, read afresh (another process may have recorded a refusal)."""
    row = Server.objects.filter(pk=server.pk).values_list("app_credentials", "layout").first()
    if row is None:
        return None
    credentials: Any = row[0] or {}
    layout: Any = row[1] or {}
    stored = credentials.get(APP) or {}
    url = str(layout.get("nextcloud_url") or "")
    if not url or not stored.get("user") or not stored.get("password"):
        return None
    return NextcloudAccess(
        url=url,
        user=str(stored["user"]),
        password=str(stored["password"]),
        refused_at=str(stored.get("refused_at") or ""),
    )


def validate_url(url: str) -> str:
    reject_control_characters(url)
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
    ):
        raise ValidationError(
            {
                "url": _(
                    "Give the address of the Nextcloud as its users open it, such as "
                    "https://cloud.example.org (no login in it)."
                )
            }
        )
    return url


def _check_login(value: str, field: str, label: str) -> str:
    try:
        reject_control_characters(value)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None
    if not value.strip() or len(value) > 256:
        raise ValidationError({field: _("Give the %(what)s.") % {"what": label}})
    return value.strip() if field == "user" else value


def set_nextcloud_access(
    server: Server, *, actor: Any, url: str, user: str, password: str, check: bool = True
) -> Server:
    """Record how to reach the server's Nextcloud. With ``check``, Nextcloud is asked once
    first: credentials it refuses are not stored (and the refusal costs one attempt only)."""
    from ronron.drivers.nextcloud.ocs import CredentialsRefused, OcsClient, OcsError

    url = validate_url(url)
    user = _check_login(user, "user", _("administrator's login"))
    password = _check_login(password, "password", _("password"))
    if check:
        client = OcsClient(url, user, password, name=server.name)
        try:
            client.whoami()
        except CredentialsRefused:
            raise ValidationError(
                {"password": _("Nextcloud refused this login and password.")}
            ) from None
        except OcsError as exc:
            raise ValidationError(
                {"url": _("Nextcloud could not be asked: %(error)s") % {"error": exc}}
            ) from None
        finally:
            client.close()
    with transaction.atomic():
        locked = Server.objects.select_for_update().get(pk=server.pk)
        before = {"url": (locked.layout or {}).get("nextcloud_url", "")}
        locked.layout = {**(locked.layout or {}), "nextcloud_url": url}
        credentials = dict(locked.app_credentials or {})
        credentials[APP] = {"user": user, "password": password, "refused_at": ""}
        locked.app_credentials = credentials
        locked.save(update_fields=["layout", "app_credentials", "updated_at"])
        # The password never reaches the audit: that it changed, and who Ronron logs in as.
        audit.record(
            "server.nextcloud_access_set",
            actor=actor,
            obj=locked,
            before=before,
            after={"url": url, "user": user, "password": "<set>"},
        )
    server.layout, server.app_credentials = locked.layout, locked.app_credentials
    return locked


def record_refusal(server: Server) -> None:
    """Nextcloud refused the stored credentials: stop using them (see the module's doc)."""
    with transaction.atomic():
        locked = Server.objects.select_for_update().get(pk=server.pk)
        credentials = dict(locked.app_credentials or {})
        stored = dict(credentials.get(APP) or {})
        if not stored or stored.get("refused_at"):
            return
        stored["refused_at"] = timezone.now().isoformat(timespec="seconds")
        credentials[APP] = stored
        locked.app_credentials = credentials
        locked.save(update_fields=["app_credentials", "updated_at"])
        audit.record(
            "server.nextcloud_access_refused",
            actor=None,
            obj=locked,
            after={"user": stored.get("user", ""), "refused_at": stored["refused_at"]},
        )
