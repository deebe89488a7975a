"""The OCS routes of Nextcloud 27.1 that the stand-in serves, and the provisioning API's users
and groups controllers (capabilities and apps are in ``apps.py``), with their parameters bound
the way the app framework binds them and their errors raised as ``OcsError`` (or
``InternalError`` for an HTTP 500)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from tests.stack.nextcloud import apps, php
from tests.stack.nextcloud.php import Php
from tests.stack.nextcloud.render import (
    RESPOND_NOT_FOUND,
    RESPOND_UNAUTHORISED,
    RESPOND_UNKNOWN_ERROR,
)
from tests.stack.nextcloud.state import (
    FEDERATED_SCOPES,
    MAX_PASSWORD_LENGTH,
    PROFILE_FIELDS,
    Group,
    HintError,
    InternalError,
    InvalidArgument,
    NextcloudState,
    OcsError,
    User,
)

LANGUAGES = ("en", "en_GB", "fr", "de", "de_DE", "es", "it", "nl", "pt_BR", "br", "oc")
LOCALES = ("", "en_US", "en_GB", "fr_FR", "fr_BE", "fr_CH", "fr_CA", "de_DE", "es_ES", "it_IT")

_REQUIRED = object()


class Params:
    """Controller arguments from the query string and the body, bound like the app framework
    does: a missing argument without a default, or a list where a string is expected, is a PHP
    TypeError (HTTP 500); integers go through ``settype``."""

    def __init__(self, values: dict[str, Php]) -> None:
        self.values = values

    def string(self, name: str, default: object = _REQUIRED) -> str:
        value = self.values.get(name, default)
        if value is _REQUIRED or not isinstance(value, str):
            raise InternalError(f"{name} must be of type string")
        return value

    def nullable_string(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is not None and not isinstance(value, str):
            raise InternalError(f"{name} must be of type ?string")
        return value

    def integer(self, name: str, default: int | None) -> int | None:
        value = self.values.get(name)
        return default if value is None else php.int_cast(value)

    def array(self, name: str) -> list[Php]:
        value = self.values.get(name, [])
        if isinstance(value, dict):
            return list(value.values())
        if not isinstance(value, list):
            raise InternalError(f"{name} must be of type array")
        return value


@dataclass
class Call:
    state: NextcloudState
    user: User | None
    params: Params
    url: dict[str, str]
    base_url: str
    remote_ip: str

    @property
    def me(self) -> User:
        if self.user is None:
            raise OcsError(RESPOND_UNAUTHORISED)
        return self.user

    @property
    def admin(self) -> bool:
        return self.user is not None and self.state.is_admin(self.user)


Handler = Callable[[Call], Php]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    public: bool = False
    no_admin: bool = False
    no_subadmin: bool = False
    provisioning: bool = True


def _route(method: str, url: str, handler: Handler, **flags: bool) -> Route:
    regex = re.sub(r"\{(\w+):\.\+\}", r"(?P<\1>.+)", url)
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
    return Route(method, re.compile(f"^{regex}$"), handler, **flags)


# ---- user data (AUserData::getUserData) -------------------------------------------------------


def user_data(call: Call, uid: str, include_scopes: bool = False) -> dict[str, Php] | None:
    """What the caller may see of a user: ``None`` when it is someone else's record."""
    target = call.state.get_user(uid)
    if target is None:
        raise OcsError(404, "User does not exist")
    if not call.admin and call.me.uid != target.uid:
        return None
    return describe_user(call.state, target, as_admin=call.admin, include_scopes=include_scopes)


def describe_user(
    state: NextcloudState, target: User, *, as_admin: bool, include_scopes: bool
) -> dict[str, Php]:
    """``AUserData::getUserData``, key order included."""
    data: dict[str, Php] = {}
    if as_admin:
        data["enabled"] = target.enabled
        data["storageLocation"] = state.home(target)
    data |= {
        "id": target.uid,
        "lastLogin": target.last_login * 1000,
        "backend": "Database",
        "subadmin": [],
        "quota": _quota_data(state, target),
        "manager": target.manager,
    }
    scopes: dict[str, Php] = {f"{name}Scope": "v2-federated" for name in FEDERATED_SCOPES}
    scopes |= {f"{name}Scope": "v2-local" for name in PROFILE_FIELDS}
    if include_scopes:
        data["avatarScope"] = scopes["avatarScope"]
    data["email"] = target.system_email
    if include_scopes:
        data["emailScope"] = scopes["emailScope"]
    data["additional_mail"] = []
    if include_scopes:
        data["additional_mailScope"] = []
    data["displayname"] = target.effective_display_name
    data["display-name"] = target.effective_display_name
    if include_scopes:
        data["displaynameScope"] = scopes["displaynameScope"]
    for name in PROFILE_FIELDS:
        data[name] = target.profile.get(name, "")
        if include_scopes:
            data[f"{name}Scope"] = scopes[f"{name}Scope"]
    data["groups"] = list(target.groups)
    data["language"] = target.language or "en"
    data["locale"] = target.locale
    data["notify_email"] = None
    data["backendCapabilities"] = {"setDisplayName": True, "setPassword": True}
    return data


def _quota_data(state: NextcloudState, user: User) -> dict[str, Php]:
    if user.storage_ready:
        info = state.storage_info(user)
        return {key: info[key] for key in ("free", "used", "total", "relative", "quota")}
    quota = state.quota_of(user)
    size = quota if quota == "none" else php.computer_file_size(quota)
    return {"quota": "none" if size is None else size, "used": 0}


# ---- users ------------------------------------------------------------------------------------


def get_users(call: Call) -> Php:
    search = call.params.string("search", "")
    limit = call.params.integer("limit", None)
    offset = call.params.integer("offset", 0) or 0
    users = call.state.search_users(search, limit, offset) if call.admin else []
    return {"users": users}


def get_users_details(call: Call) -> Php:
    search = call.params.string("search", "")
    limit = call.params.integer("limit", None)
    offset = call.params.integer("offset", 0) or 0
    uids = call.state.search_users(search, limit, offset) if call.admin else []
    details: dict[str, Php] = {}
    for uid in uids:
        details[uid] = user_data(call, uid) or {"id": uid}
    return {"users": details}


def add_user(call: Call) -> Php:
    p, state = call.params, call.state
    userid = p.string("userid")
    password = p.string("password", "")
    display_name = p.string("displayName", "")
    email = p.string("email", "")
    groups = p.array("groups")
    subadmin = p.array("subadmin")
    quota = p.string("quota", "")
    language = p.string("language", "")
    manager = p.nullable_string("manager")
    if state.get_user(userid) is not None:
        raise OcsError(102, "User already exists")
    for gid in groups:
        if not isinstance(gid, str) or gid not in state.groups:
            raise OcsError(104, f"group {php.to_string(gid)} does not exist")
    for gid in subadmin:
        # Checked like Nextcloud does; the stand-in then ignores subadmin rights.
        if gid not in state.groups:
            raise OcsError(102, "Subadmin group does not exist")
        if gid == "admin":
            raise OcsError(103, "Cannot create subadmins for admin group")
    if len(password.encode()) > MAX_PASSWORD_LENGTH:
        raise OcsError(101, "Invalid password value")
    if password == "":
        if email == "":
            raise OcsError(108, "To send a password link to the user an email address is required.")
        # Nextcloud generates one that satisfies the password policy.
        password = "Gen-" + secrets.token_urlsafe(18)
    try:
        user = state.create_user(userid, password)
        for gid in groups:
            if gid not in user.groups:
                user.groups.append(gid)
        if display_name != "":
            try:
                _edit(call, user, "display", display_name)
            except OcsError:
                state.delete_user(user)
                raise
        if quota != "":
            _edit(call, user, "quota", quota)
        if language != "":
            _edit(call, user, "language", language)
        if manager is not None:
            _edit(call, user, "manager", manager)
        if email != "":
            user.email = email
    except HintError as error:
        raise OcsError(107, str(error)) from error
    except InvalidArgument as error:
        raise OcsError(101, str(error)) from error
    return {"id": userid}


def get_user(call: Call) -> Php:
    uid = call.url["userId"]
    data = user_data(call, uid, include_scopes=call.me.uid == uid)
    if data is None:
        raise OcsError(RESPOND_NOT_FOUND)
    return data


def get_current_user(call: Call) -> Php:
    return user_data(call, call.me.uid, include_scopes=True)


def get_editable_fields(call: Call) -> Php:
    uid = call.url.get("userId", call.me.uid)
    if uid != call.me.uid:
        target = call.state.get_user(uid)
        if target is None or not call.admin:
            raise OcsError(RESPOND_NOT_FOUND)
    return ["displayname", "email", "additional_mail", *PROFILE_FIELDS]


def edit_user(call: Call) -> Php:
    key = call.params.string("key")
    value = call.params.string("value")
    target = call.state.get_user(call.url["userId"])
    if target is None:
        raise OcsError(RESPOND_NOT_FOUND)
    if target.uid != call.me.uid and not call.admin:
        raise OcsError(RESPOND_NOT_FOUND)
    if key in ("quota", "manager") and not call.admin:
        raise OcsError(103)
    _edit(call, target, key, value)
    return []


def _edit(call: Call, target: User, key: str, value: str) -> None:
    state = call.state
    if key in ("display", "displayname"):
        try:
            state.set_display_name(target, value)
        except InvalidArgument as error:
            raise OcsError(101, str(error)) from error
    elif key == "quota":
        _edit_quota(state, target, value)
    elif key == "manager":
        target.manager = value
    elif key == "password":
        if len(value.encode()) > MAX_PASSWORD_LENGTH:
            raise OcsError(102, "Invalid password value")
        try:
            state.set_password(target, value)
        except HintError as error:
            raise OcsError(103, str(error)) from error
    elif key == "language":
        if value not in LANGUAGES:
            raise OcsError(102, "Invalid language")
        target.language = value
    elif key == "locale":
        if value not in LOCALES:
            raise OcsError(102, "Invalid locale")
        target.locale = value
    elif key == "email":
        if not (value == "" or php.is_email(value)):
            raise OcsError(102)
        target.email = value or None
    elif key in PROFILE_FIELDS:
        target.profile[key] = value
    else:
        raise OcsError(103)


def _edit_quota(state: NextcloudState, target: User, value: str) -> None:
    quota = value
    if value not in ("none", "default"):
        size = float(value.strip()) if php.is_numeric(value) else php.computer_file_size(value)
        if size is None:
            raise OcsError(102, f"Invalid quota value {value}")
        quota = php.human_file_size(size)
    state.set_quota(target, quota)


def delete_user(call: Call) -> Php:
    target = call.state.get_user(call.url["userId"])
    if target is None:
        raise OcsError(RESPOND_NOT_FOUND)
    if target.uid == call.me.uid:
        raise OcsError(101)
    call.state.delete_user(target)
    return []


def _set_enabled(call: Call, enabled: bool) -> Php:
    target = call.state.get_user(call.url["userId"])
    if target is None or target.uid == call.me.uid:
        raise OcsError(101)
    target.enabled = enabled
    return []


def enable_user(call: Call) -> Php:
    return _set_enabled(call, True)


def disable_user(call: Call) -> Php:
    return _set_enabled(call, False)


def get_user_groups(call: Call) -> Php:
    target = call.state.get_user(call.url["userId"])
    if target is None or (target.uid != call.me.uid and not call.admin):
        raise OcsError(RESPOND_NOT_FOUND)
    return {"groups": list(target.groups)}


def add_to_group(call: Call) -> Php:
    gid = call.params.string("groupid", "")
    if gid == "":
        raise OcsError(101)
    target = call.state.get_user(call.url["userId"])
    if gid not in call.state.groups:
        raise OcsError(102)
    if target is None:
        raise OcsError(103)
    if gid not in target.groups:
        target.groups.append(gid)
    return []


def remove_from_group(call: Call) -> Php:
    gid = call.params.string("groupid")
    if gid.strip() == "":
        raise OcsError(101)
    if gid not in call.state.groups:
        raise OcsError(102)
    target = call.state.get_user(call.url["userId"])
    if target is None:
        raise OcsError(103)
    if target.uid == call.me.uid and gid == "admin":
        raise OcsError(105, "Cannot remove yourself from the admin group")
    if gid in target.groups:
        target.groups.remove(gid)
    return []


def get_user_subadmin_groups(call: Call) -> Php:
    if call.state.get_user(call.url["userId"]) is None:
        raise OcsError(404, "User does not exist")
    return []


def resend_welcome(call: Call) -> Php:
    target = call.state.get_user(call.url["userId"])
    if target is None or not call.admin:
        raise OcsError(RESPOND_NOT_FOUND)
    if not target.system_email:
        raise OcsError(101, "Email address not available")
    # The recorded server has no mail server: sending always fails.
    raise OcsError(102, "Sending email failed")


# ---- groups -----------------------------------------------------------------------------------


def _search_groups(call: Call) -> list[Group]:
    search = call.params.string("search", "")
    limit = call.params.integer("limit", None)
    offset = call.params.integer("offset", 0) or 0
    return call.state.search_groups(search, limit, offset)


def get_groups(call: Call) -> Php:
    return {"groups": [group.gid for group in _search_groups(call)]}


def get_groups_details(call: Call) -> Php:
    state = call.state
    details = []
    for group in _search_groups(call):
        members = state.members(group.gid)
        details.append(
            {
                "id": group.gid,
                "displayname": group.display_name,
                "usercount": len(members),
                "disabled": sum(1 for user in members if not user.enabled),
                "canAdd": True,
                "canRemove": True,
            }
        )
    return {"groups": details}


def _group_id(call: Call) -> str:
    # The controller decodes the already decoded route parameter once more.
    return php.urldecode(call.url["groupId"])


def get_group_users(call: Call) -> Php:
    gid = _group_id(call)
    if gid not in call.state.groups:
        raise OcsError(404, "The requested group could not be found")
    if not call.admin:
        raise OcsError(403)
    return {"users": [user.uid for user in call.state.members(gid)]}


def get_group_users_details(call: Call) -> Php:
    gid = _group_id(call)
    if gid not in call.state.groups or not call.admin:
        raise OcsError(RESPOND_NOT_FOUND, "The requested group could not be found")
    search = call.params.string("search", "")
    limit = call.params.integer("limit", None)
    offset = call.params.integer("offset", 0)
    found = call.state.search_in_group(gid, search, -1 if limit is None else limit, offset or 0)
    return {"users": {user.uid: user_data(call, user.uid) for user in found}}


def get_subadmins_of_group(call: Call) -> Php:
    if call.url["groupId"] not in call.state.groups:
        raise OcsError(101, "Group does not exist")
    return []


def add_group(call: Call) -> Php:
    gid = call.params.string("groupid")
    display_name = call.params.string("displayname", "")
    if php.php_empty(gid):
        raise OcsError(101, "Invalid group name")
    if gid in call.state.groups:
        raise OcsError(102, "group exists")
    group = call.state.create_group(gid)
    if display_name.strip():
        group.display_name = display_name.strip()
    return []


def update_group(call: Call) -> Php:
    gid = _group_id(call)
    key = call.params.string("key")
    value = call.params.string("value")
    if key != "displayname":
        raise OcsError(RESPOND_UNKNOWN_ERROR)
    group = call.state.groups.get(gid)
    if group is None:
        raise InternalError("Call to a member function setDisplayName() on null")
    if not value.strip():
        raise OcsError(101, "Not supported by backend")
    group.display_name = value.strip()
    return []


def delete_group(call: Call) -> Php:
    gid = _group_id(call)
    if gid not in call.state.groups:
        raise OcsError(101)
    if gid == "admin":
        raise OcsError(102)
    call.state.delete_group(gid)
    return []


ADMIN: dict[str, bool] = {}
ANYONE = {"no_admin": True}
SELF = {"no_admin": True, "no_subadmin": True}

ROUTES: tuple[Route, ...] = (
    _route("GET", "/cloud/capabilities", apps.capabilities, public=True, provisioning=False),
    _route("GET", "/cloud/apps", apps.get_apps, **ADMIN),
    _route("GET", "/cloud/apps/{app}", apps.get_app_info, **ADMIN),
    _route("POST", "/cloud/apps/{app}", apps.enable_app, **ADMIN),
    _route("DELETE", "/cloud/apps/{app}", apps.disable_app, **ADMIN),
    _route("GET", "/cloud/groups", get_groups, **ANYONE),
    _route("GET", "/cloud/groups/details", get_groups_details, **ANYONE),
    _route("GET", "/cloud/groups/{groupId:.+}/users", get_group_users, **ANYONE),
    _route("GET", "/cloud/groups/{groupId:.+}/users/details", get_group_users_details, **ANYONE),
    _route("GET", "/cloud/groups/{groupId:.+}/subadmins", get_subadmins_of_group, **ADMIN),
    _route("POST", "/cloud/groups", add_group, **ADMIN),
    _route("GET", "/cloud/groups/{groupId:.+}", get_group_users, **ANYONE),
    _route("PUT", "/cloud/groups/{groupId:.+}", update_group, **ADMIN),
    _route("DELETE", "/cloud/groups/{groupId:.+}", delete_group, **ADMIN),
    _route("GET", "/cloud/users", get_users, **ANYONE),
    _route("GET", "/cloud/users/details", get_users_details, **ANYONE),
    _route("POST", "/cloud/users", add_user, **ANYONE),
    _route("GET", "/cloud/users/{userId}", get_user, **SELF),
    _route("GET", "/cloud/user", get_current_user, **SELF),
    _route("GET", "/cloud/user/fields", get_editable_fields, **SELF),
    _route("GET", "/cloud/user/fields/{userId}", get_editable_fields, **SELF),
    _route("PUT", "/cloud/users/{userId}", edit_user, **SELF),
    _route("DELETE", "/cloud/users/{userId}", delete_user, **ANYONE),
    _route("PUT", "/cloud/users/{userId}/enable", enable_user, **ANYONE),
    _route("PUT", "/cloud/users/{userId}/disable", disable_user, **ANYONE),
    _route("GET", "/cloud/users/{userId}/groups", get_user_groups, **SELF),
    _route("POST", "/cloud/users/{userId}/groups", add_to_group, **ANYONE),
    _route("DELETE", "/cloud/users/{userId}/groups", remove_from_group, **ANYONE),
    _route("GET", "/cloud/users/{userId}/subadmins", get_user_subadmin_groups, **ADMIN),
    _route("POST", "/cloud/users/{userId}/welcome", resend_welcome, **ANYONE),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | str:
    """The route and its parameters, or "404"/"405" as Symfony's matcher would answer."""
    allowed = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict()
        allowed = True
    return "405" if allowed else "404"
