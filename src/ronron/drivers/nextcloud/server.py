"""One Nextcloud server as the driver reaches it: the OCS API with the credentials recorded for
the server (``fleet/nextcloud_access.py``), and ``occ`` through the server's host for what the
API lacks (enabling an app for some groups only).

``occ`` facts from the recordings: ``app:enable --groups=G APP`` sets the app's groups to
exactly those given (``--groups`` repeated); a group that does not exist is *silently ignored*
and the app is then enabled for everyone — so the group is checked first, and the result read
back; apps of restricted types refuse groups; an app not installed fails with "Could not
download app X" (the app store is off on Ronron's servers: admins install apps themselves);
``config:app:get APP enabled`` prints ``yes``, ``no`` or the JSON list of groups.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from django.utils.translation import gettext as _

from ronron.drivers.nextcloud.ocs import CredentialsRefused, OcsClient, ServerUnavailable
from ronron.fleet.hosts import HostError
from ronron.fleet.nextcloud_access import access_of, record_refusal

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.fleet.models import Server

_APP_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# What occ last said about each app, per host object (see ``app_groups``).
_APP_STATE: WeakKeyDictionary[Any, dict[str, bool | list[str]]] = WeakKeyDictionary()


class NextcloudUnavailable(HostError):
    """Ronron cannot (or must not) talk to this Nextcloud now; the message says why and what
    an admin can do."""


@contextmanager
def connect(server: Server | None) -> Iterator[OcsClient]:
    """A client for the server's Nextcloud; a refused login is recorded and stops every later
    call until an admin sets the credentials again."""
    if server is None:
        raise NextcloudUnavailable("the service has no server")
    access = access_of(server)
    if access is None:
        raise NextcloudUnavailable(
            _(
                "Ronron does not know how to log into the Nextcloud of %(server)s yet: give its "
                "address, an administrator's login and an app password on the server's page."
            )
            % {"server": server.name}
        )
    if access.refused_at:
        raise NextcloudUnavailable(
            _(
                "The Nextcloud of %(server)s refused Ronron's login on %(date)s. Ronron does not "
                "try again with it, or Nextcloud's brute-force protection would lock it out: "
                "give a new app password on the server's page."
            )
            % {"server": server.name, "date": access.refused_at}
        )
    client = OcsClient(access.url, access.user, access.password, name=server.name)
    try:
        yield client
    except CredentialsRefused:
        record_refusal(server)
        raise NextcloudUnavailable(
            _(
                "The Nextcloud of %(server)s refused Ronron's login. Ronron will not try again "
                "with it (Nextcloud's brute-force protection would lock it out): give a new app "
                "password on the server's page."
            )
            % {"server": server.name}
        ) from None
    except ServerUnavailable as exc:
        if exc.status >= 500:
            raise NextcloudUnavailable(
                _(
                    "The Nextcloud of %(server)s answered with an internal error (%(error)s). "
                    "If Ronron's address had failed logins, Nextcloud's brute-force protection "
                    "answers this way to every request: an administrator can lift it with "
                    "“occ security:bruteforce:reset ADDRESS”."
                )
                % {"server": server.name, "error": exc}
            ) from None
        raise NextcloudUnavailable(str(exc)) from None
    finally:
        client.close()


def check_app_id(app: str) -> str:
    if not _APP_ID.fullmatch(app):
        raise HostError(f"refusing an unsafe app id: {app!r}")
    return app


def _occ(host: Host, *args: str) -> tuple[int, str]:
    result = host.run([*host.layout.nextcloud_occ, *args], check=False, timeout=120)
    return result.returncode, result.output


def app_groups(host: Host, app: str, *, fresh: bool = False) -> bool | list[str]:
    """True if the app is enabled for everyone, False if it is not enabled, else its groups.

    What ``occ`` said is kept for the life of the host object (one plan and its run): observing
    thirty spaces reads each app once, not thirty times (each ``occ`` starts PHP). Steps that
    change an app ask ``fresh``, and every change made here updates what is kept."""
    known = _APP_STATE.setdefault(host, {})
    if not fresh and app in known:
        value = known[app]
        return list(value) if isinstance(value, list) else value
    known[app] = _read_app_groups(host, app)
    value = known[app]
    return list(value) if isinstance(value, list) else value


def _read_app_groups(host: Host, app: str) -> bool | list[str]:
    code, output = _occ(host, "config:app:get", check_app_id(app), "enabled")
    value = output.strip()
    # Exit code 1 with nothing printed: the app was never enabled.
    if code != 0 or value in ("", "no"):
        return False
    if value == "yes":
        return True
    try:
        groups = json.loads(value)
    except ValueError:
        raise HostError(f"occ config:app:get {app} enabled gave {value[:100]!r}") from None
    if not isinstance(groups, list):
        raise HostError(f"occ config:app:get {app} enabled gave {value[:100]!r}")
    return [str(g) for g in groups]


def limit_app_to_groups(host: Host, app: str, groups: list[str]) -> str:
    """Enable the app for exactly these groups (each must exist: see the module's doc)."""
    args = [f"--groups={group}" for group in sorted(set(groups))]
    code, output = _occ(host, "app:enable", *args, check_app_id(app))
    if code != 0:
        if "Could not download app" in output:
            raise HostError(
                _(
                    "The app %(app)s is not installed on the Nextcloud of %(server)s: an "
                    "administrator must install it first (Ronron only enables it)."
                )
                % {"app": app, "server": host.name}
            )
        if "can't be enabled for groups" in output:
            raise HostError(
                _("Nextcloud cannot limit the app %(app)s to some groups.") % {"app": app}
            )
        raise HostError(f"occ app:enable {app} failed on {host.name}: {output[-500:]}")
    found = app_groups(host, app, fresh=True)
    if found is True or (isinstance(found, list) and not set(groups) <= set(found)):
        raise HostError(
            f"{app} should be enabled for {', '.join(sorted(groups))} only, "
            f"but Nextcloud says {found!r}"
        )
    return output


def disable_app(host: Host, app: str) -> str:
    code, output = _occ(host, "app:disable", check_app_id(app))
    _APP_STATE.get(host, {}).pop(app, None)
    if code != 0:
        raise HostError(f"occ app:disable {app} failed on {host.name}: {output[-500:]}")
    return output
