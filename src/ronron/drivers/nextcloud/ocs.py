"""A client of Nextcloud's OCS Provisioning API (v2, JSON), as Nextcloud 27.1 really answers.

What the recordings (``shared/fixtures/nextcloud-27``) taught, and this client relies on:
- every request carries ``OCS-APIRequest: true`` (without it: 412 "CSRF check failed");
- v2 maps an OCS failure to an HTTP status (400 for 1xx codes, 404 for 404/998, 403, 500) and
  always says the OCS code in the body; success is 200/200;
- a wrong password is answered 401 *in XML* whatever the format asked, and Nextcloud's
  brute-force protection then slows that address down and, after about ten failures, answers
  **500** (not 429) to every request from it, good credentials included, until an operator
  resets it. So this client never retries a refused login: ``CredentialsRefused`` is raised at
  the first 401 and the caller records it (``connection.py``) so that nothing asks again with
  the same credentials;
- user ids are matched whatever their case (``GET /users/ALICE`` answers ``alice``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

log = logging.getLogger(__name__)

TIMEOUT = 30.0


class OcsError(Exception):
    """Nextcloud answered, and said no: the OCS status code and message are kept."""

    def __init__(self, what: str, status: int, code: int, message: str) -> None:
        self.status = status
        self.code = code
        self.server_message = message
        detail = f"{message.strip()} " if message.strip() else ""
        super().__init__(f"{what}: Nextcloud answered {detail}(HTTP {status}, OCS {code})")


class CredentialsRefused(OcsError):
    """HTTP 401: Ronron's login or password for this Nextcloud is wrong (or the account is
    disabled). Never retried: each failure feeds the server's brute-force protection."""


class ServerUnavailable(OcsError):
    """HTTP 5xx, or no answer at all."""


@dataclass(frozen=True)
class User:
    """One account as Nextcloud describes it (the fields Ronron uses)."""

    id: str
    enabled: bool
    email: str
    display_name: str
    quota: int | None  # bytes; None = no limit ("none")
    used: int
    groups: tuple[str, ...]
    last_login: int  # milliseconds since the epoch; 0 = never

    @classmethod
    def from_ocs(cls, data: dict[str, Any]) -> User:
        quota = data.get("quota") or {}
        limit = quota.get("quota") if isinstance(quota, dict) else None
        return cls(
            id=str(data.get("id", "")),
            enabled=bool(data.get("enabled", True)),
            email=str(data.get("email") or ""),
            display_name=str(data.get("displayname") or data.get("display-name") or ""),
            quota=int(limit) if isinstance(limit, int | float) and limit >= 0 else None,
            used=max(0, int((quota.get("used") or 0) if isinstance(quota, dict) else 0)),
            groups=tuple(str(g) for g in data.get("groups") or ()),
            last_login=int(data.get("lastLogin") or 0),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "enabled": self.enabled,
            "email": self.email,
            "display_name": self.display_name,
            "quota": self.quota,
            "used": self.used,
            "groups": list(self.groups),
            "last_login": self.last_login,
        }


def _segment(value: str) -> str:
    # Ids may hold spaces, "@" and "'": every one of them is escaped in a path.
    return quote(value, safe="")


class OcsClient:
    """One Nextcloud, as one administrator account (an app password is best)."""

    def __init__(self, base_url: str, user: str, password: str, *, name: str = "") -> None:
        self.base = base_url.rstrip("/") + "/ocs/v2.php/cloud"
        self.name = name or base_url
        self._session = requests.Session()
        self._session.auth = (user, password)
        self._session.headers.update({"OCS-APIRequest": "true", "Accept": "application/json"})

    def close(self) -> None:
        self._session.close()

    # --- the exchange -------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        form: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        try:
            response = self._session.request(
                method,
                self.base + path,
                params={"format": "json", **(params or {})},
                data=form,
                timeout=TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise ServerUnavailable(what, 0, 0, f"no answer from {self.name} ({exc})") from None
        status = response.status_code
        if status == 401:
            raise CredentialsRefused(what, 401, 997, "Unauthorised")
        meta: dict[str, Any] = {}
        data: Any = None
        try:
            body = response.json()
            meta = body["ocs"]["meta"]
            data = body["ocs"].get("data")
        except (ValueError, KeyError, TypeError):
            if status >= 500:
                raise ServerUnavailable(what, status, 0, response.text[:200]) from None
            raise OcsError(
                what, status, 0, f"an unexpected answer: {response.text[:200]!r}"
            ) from None
        code = int(meta.get("statuscode") or 0)
        message = str(meta.get("message") or "")
        if status == 200 and code in (100, 200):
            return data
        if missing_ok and code in (404, 998):
            return None
        if status >= 500 or code in (500, 996):
            raise ServerUnavailable(what, status, code, message)
        raise OcsError(what, status, code, message)

    # --- users ---------------------------------------------------------------------------------

    def whoami(self) -> str:
        data = self._call("GET", "/user", "read Ronron's own account")
        return str((data or {}).get("id", ""))

    def user(self, user_id: str) -> User | None:
        data = self._call(
            "GET", f"/users/{_segment(user_id)}", f"read the account {user_id}", missing_ok=True
        )
        return None if data is None else User.from_ocs(data)

    def users(self) -> list[User]:
        """Every account, with its details (one request: the unpaginated list is complete)."""
        data = self._call("GET", "/users/details", "list the accounts")
        found = (data or {}).get("users") or {}
        values = found.values() if isinstance(found, dict) else found
        return [User.from_ocs(item) for item in values if isinstance(item, dict)]

    def create_user(
        self,
        user_id: str,
        *,
        password: str,
        display_name: str,
        email: str,
        groups: list[str],
        quota: int | None,
    ) -> None:
        form: dict[str, Any] = {
            "userid": user_id,
            "password": password,
            "displayName": display_name,
            "email": email,
            "groups[]": groups,
        }
        if quota is not None:
            form["quota"] = str(quota)
        self._call("POST", "/users", f"create the account {user_id}", form=form)

    def edit_user(self, user_id: str, key: str, value: str) -> None:
        self._call(
            "PUT",
            f"/users/{_segment(user_id)}",
            f"set the {key} of the account {user_id}",
            form={"key": key, "value": value},
        )

    def set_enabled(self, user_id: str, enabled: bool) -> None:
        verb = "enable" if enabled else "disable"
        self._call("PUT", f"/users/{_segment(user_id)}/{verb}", f"{verb} the account {user_id}")

    def delete_user(self, user_id: str) -> bool:
        """False if there was no such account (already deleted: a rerun after a crash)."""
        done = self._call(
            "DELETE", f"/users/{_segment(user_id)}", f"delete the account {user_id}",
            missing_ok=True,
        )  # fmt: skip
        return done is not None

    def add_to_group(self, user_id: str, group_id: str) -> None:
        self._call(
            "POST",
            f"/users/{_segment(user_id)}/groups",
            f"add {user_id} to the group {group_id}",
            form={"groupid": group_id},
        )

    def remove_from_group(self, user_id: str, group_id: str) -> None:
        self._call(
            "DELETE",
            f"/users/{_segment(user_id)}/groups",
            f"take {user_id} out of the group {group_id}",
            form={"groupid": group_id},
        )

    # --- groups --------------------------------------------------------------------------------

    def groups(self) -> list[dict[str, Any]]:
        """Every group: ``{"id", "displayname", "usercount"}``."""
        data = self._call("GET", "/groups/details", "list the groups")
        return [g for g in (data or {}).get("groups") or [] if isinstance(g, dict)]

    def group_members(self, group_id: str) -> dict[str, User] | None:
        """The group's members with their details, by id; None if there is no such group."""
        data = self._call(
            "GET",
            f"/groups/{_segment(group_id)}/users/details",
            f"read the members of the group {group_id}",
            missing_ok=True,
        )
        if data is None:
            return None
        found = data.get("users") or {}
        values = found.values() if isinstance(found, dict) else found
        users = [User.from_ocs(item) for item in values if isinstance(item, dict)]
        return {user.id: user for user in users}

    def create_group(self, group_id: str, display_name: str) -> None:
        self._call(
            "POST",
            "/groups",
            f"create the group {group_id}",
            form={"groupid": group_id, "displayname": display_name or group_id},
        )

    def delete_group(self, group_id: str) -> None:
        self._call("DELETE", f"/groups/{_segment(group_id)}", f"delete the group {group_id}")
