"""Apps as the API shows them: core's ``GET /cloud/capabilities`` (what each enabled app
announces, in Nextcloud's order) and the provisioning API's apps endpoints."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from tests.stack.nextcloud import php
from tests.stack.nextcloud.php import Php
from tests.stack.nextcloud.render import RESPOND_NOT_FOUND, RESPOND_UNAUTHORISED
from tests.stack.nextcloud.state import (
    ALWAYS_ENABLED,
    VERSION_STRING,
    AppNotFound,
    InternalError,
    InvalidArgument,
    OcsError,
)

if TYPE_CHECKING:
    from tests.stack.nextcloud.ocs import Call


def capabilities(call: Call) -> Php:
    state, base = call.state, call.base_url
    apps = set(state.enabled_apps_for(call.user))
    regex = r"(\s|\n|^)(https?:\/\/)((?:[-A-Z0-9+_]+\.)+[-A-Z]+(?:\/[-A-Z0-9+&@#%?=~_|!:,.;()]*)*)"
    image = "/image\\/(png|jpeg|heif|webp|tiff)/"
    editing = php.json_encode({"editors": [], "creators": []})
    files: dict[str, Php] = {
        "bigfilechunking": True,
        "blacklisted_files": [".htaccess"],
        "directEditing": {
            "url": f"{base}/ocs/v2.php/apps/files/api/v1/directEditing",
            "etag": hashlib.md5(editing.encode()).hexdigest(),  # noqa: S324 - what Nextcloud does
            "supportsFileId": True,
        },
    }
    if "comments" in apps:
        files["comments"] = True
    if "files_trashbin" in apps:
        files["undelete"] = True
    if "files_versions" in apps:
        files |= {"versioning": True, "version_labeling": True, "version_deletion": True}
    caps: dict[str, Php] = {
        "core": {
            "pollinterval": 60,
            "webdav-root": "remote.php/webdav",
            "reference-api": True,
            "reference-regex": regex + r"(\s|\n|$)",
        },
        "bruteforce": {"delay": state.delay_ms(call.remote_ip), "allow-listed": False},
        "metadataAvailable": {"size": [image], "gps": [image]},
        "files": files,
        "ocm": {
            "enabled": True,
            "apiVersion": "1.0-proposal1",
            "endPoint": f"{base}/index.php/ocm",
            "resourceTypes": [
                {
                    "name": "file",
                    "shareTypes": ["user", "group"],
                    "protocols": {"webdav": "/public.php/webdav/"},
                }
            ],
        },
        "dav": {"chunking": "1.0", "bulkupload": "1.0"},
    }
    if "files_sharing" in apps:
        caps["files_sharing"] = _sharing_capabilities("sharebymail" in apps)
    if "password_policy" in apps:
        api = f"{base}/ocs/v2.php/apps/password_policy/api/v1"
        caps["password_policy"] = {
            "minLength": 10,
            "enforceNonCommonPassword": True,
            "enforceNumericCharacters": False,
            "enforceSpecialCharacters": False,
            "enforceUpperLowerCase": False,
            "api": {"generate": f"{api}/generate", "validate": f"{api}/validate"},
        }
    caps["provisioning_api"] = {
        "version": state.apps["provisioning_api"].version,
        "AccountPropertyScopesVersion": 2,
        "AccountPropertyScopesFederatedEnabled": True,
        "AccountPropertyScopesPublishedEnabled": True,
    }
    logo = f"{base}/core/img/logo/logo.svg?v=0"
    caps["theming"] = {
        "name": "Nextcloud",
        "url": "https://nextcloud.com",
        "slogan": "a safe home for all your data",
        "color": "#0082c9",
        "color-text": "#ffffff",
        "color-element": "#0082c9",
        "color-element-bright": "#0082c9",
        "color-element-dark": "#0082c9",
        "logo": logo,
        "background": f"{base}/apps/theming/img/background/kamil-porembinski-clouds.jpg",
        "background-plain": False,
        "background-default": True,
        "logoheader": logo,
        "favicon": logo,
    }
    if "user_status" in apps:
        caps["user_status"] = {"enabled": True, "restore": True, "supports_emoji": True}
    if "weather_status" in apps:
        caps["weather_status"] = {"enabled": True}
    major, minor, micro = (int(part) for part in VERSION_STRING.split("."))
    version = {"major": major, "minor": minor, "micro": micro, "string": VERSION_STRING}
    version |= {"edition": "", "extendedSupport": False}
    return {"version": version, "capabilities": caps}


def _sharing_capabilities(by_mail: bool) -> dict[str, Php]:
    off, on = {"enabled": False}, {"enabled": True}
    sharing: dict[str, Php] = {
        "api_enabled": True,
        "public": {
            "enabled": True,
            "password": {"enforced": False, "askForOptionalPassword": False},
            "expire_date": off,
            "multiple_links": True,
            "expire_date_internal": off,
            "expire_date_remote": off,
            "send_mail": False,
            "upload": True,
            "upload_files_drop": True,
        },
        "resharing": True,
        "user": {"send_mail": False, "expire_date": on},
        "group_sharing": True,
        "group": {"enabled": True, "expire_date": on},
        "default_permissions": 31,
        "federation": {
            "outgoing": True,
            "incoming": True,
            "expire_date": on,
            "expire_date_supported": on,
        },
        "sharee": {"query_lookup_default": False, "always_show_unique": True},
    }
    if by_mail:
        sharing["sharebymail"] = {
            "enabled": True,
            "send_password_by_mail": True,
            "upload_files_drop": on,
            "password": {"enabled": True, "enforced": False},
            "expire_date": {"enabled": True, "enforced": False},
        }
    return sharing


def _verify_app_id(app_id: str) -> str:
    cleaned = app_id
    for forbidden in ("<", ">", '"', "'", "\\0", "/", "\\", ".."):
        cleaned = cleaned.replace(forbidden, "")
    if cleaned != app_id:
        raise OcsError(RESPOND_UNAUTHORISED, "Invalid app id given")
    return app_id


def get_apps(call: Call) -> Php:
    state = call.state
    listed = [app_id for app_id in state.apps if app_id not in ALWAYS_ENABLED]
    app_filter = call.params.nullable_string("filter")
    if not app_filter:
        return {"apps": listed}
    enabled = [app for app in state.enabled_apps_for(call.user) if app != "files"]
    enabled = ["files", *sorted(enabled)]
    if app_filter == "enabled":
        return {"apps": enabled}
    if app_filter == "disabled":
        return {"apps": {str(i): app for i, app in enumerate(listed) if app not in enabled}}
    raise OcsError(101)


def get_app_info(call: Call) -> Php:
    app = call.state.apps.get(_verify_app_id(call.url["app"]))
    if app is None:
        raise OcsError(RESPOND_NOT_FOUND, "The request app was not found")
    return {"id": app.app_id, "name": app.app_id, "version": app.version, "types": [*app.types]}


def enable_app(call: Call) -> Php:
    try:
        call.state.enable_app(_verify_app_id(call.url["app"]))
    except AppNotFound as error:
        raise OcsError(RESPOND_NOT_FOUND, "The request app was not found") from error
    return []


def disable_app(call: Call) -> Php:
    try:
        call.state.disable_app(_verify_app_id(call.url["app"]))
    except InvalidArgument as error:
        raise InternalError(str(error)) from error
    return []
