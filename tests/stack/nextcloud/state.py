"""The stand-in's Nextcloud 27.1: users, groups, apps and brute-force attempts, in memory.

Each method does what the matching piece of Nextcloud does (the user manager and its database
backend, the group manager, the app manager, the throttler), including its quirks, so that the
API layer (``ocs.py``) and the console (``occ_commands.py``) only add permissions and wording.
Callers hold ``NextcloudState.lock``.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.stack.nextcloud import php

VERSION = "27.1.0.7"
VERSION_STRING = "27.1.0"
INSTANCE_ID = "ocstandin0001"
# Names in Nextcloud's data directory that are not users' homes.
RESERVED_USER_IDS = (
    *(".htaccess", "files_external", "__groupfolders", ".ocdata", "owncloud.log"),
    *("nextcloud.log", "updater.log", "audit.log", f"appdata_{INSTANCE_ID}"),
)

# Both the admin (01_) and alice (172_, 240_) show 164 bytes used right after their first login:
# what an empty home weighs once Nextcloud has set it up. Before the first login Nextcloud cannot
# look at the storage at all and reports 0.
FRESH_HOME_USED = 164
SPACE_UNLIMITED = -3

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 469
COMMON_PASSWORD_MESSAGE = "Password is among the 1,000,000 most common ones. Please make it unique."
# A small sample of password_policy's list (lower case, as it looks them up).
COMMON_PASSWORDS = frozenset(
    (
        *("abc", "123", "1234", "12345", "123456789", "1234567890", "0123456789", "qwerty"),
        *("qwertyuiop", "azerty", "azertyuiop", "password", "password1", "password12"),
        *("password123", "password1234", "passw0rd", "letmein", "iloveyou", "welcome"),
        *("admin", "administrator", "monkey", "dragon", "football", "baseball", "sunshine"),
        *("princess", "trustno1", "motdepasse", "soleil", "nextcloud", "changeme"),
        *("1q2w3e4r5t", "qwerty123456", "abcdefghij"),
    )
)
# The recorded server lacked password_policy's lists for these lengths (see the README).
UNCHECKED_COMMON_LENGTHS = (6, 8)

MAX_ATTEMPTS = 10
MAX_DELAY_MS = 25_000

PROFILE_FIELDS = (
    "phone",
    "address",
    "website",
    "twitter",
    "fediverse",
    "organisation",
    "role",
    "headline",
    "biography",
    "profile_enabled",
)
FEDERATED_SCOPES = ("avatar", "email", "displayname")

ALWAYS_ENABLED = (
    "cloud_federation_api",
    "dav",
    "federatedfilesharing",
    "files",
    "lookup_server_connector",
    "oauth2",
    "provisioning_api",
    "settings",
    "theming",
    "twofactor_backupcodes",
    "viewer",
    "workflowengine",
)
RESTRICTED_TYPES = frozenset(
    ("filesystem", "prelogin", "authentication", "logging", "prevent_group_restriction")
)


@dataclass(frozen=True)
class App:
    app_id: str
    version: str
    shipped: bool = True
    types: tuple[str, ...] = ()


# The apps of the recorded server, in the order its apps directory lists them (readdir order,
# which decides the numeric keys of `GET /cloud/apps?filter=disabled`), and whether the
# installer enabled them. "viewer" is always enabled although its directory is missing.
SHIPPED_APPS: tuple[tuple[App, bool], ...] = (
    (App("comments", "1.17.0", types=("logging",)), True),
    (App("admin_audit", "1.17.0", types=("logging",)), False),
    (App("contactsinteraction", "1.8.0", types=("dav",)), True),
    (App("dashboard", "7.7.0"), True),
    (App("federation", "1.17.0", types=("authentication",)), True),
    (App("files_reminders", "1.0.0"), True),
    (App("files_sharing", "1.19.0", types=("filesystem",)), True),
    (App("files_trashbin", "1.17.0", types=("filesystem", "dav")), True),
    (App("files_versions", "1.20.0", types=("filesystem", "dav")), True),
    (App("sharebymail", "1.17.0", types=("filesystem",)), True),
    (App("systemtags", "1.17.0", types=("logging",)), True),
    (App("encryption", "2.15.0", types=("filesystem",)), False),
    (App("updatenotification", "1.17.0"), True),
    (App("user_ldap", "1.17.0", types=("authentication",)), False),
    (App("testing", "1.17.0", shipped=False), False),
    (App("files_external", "1.19.0", types=("filesystem",)), False),
    (App("user_status", "1.7.0"), True),
    (App("weather_status", "1.7.0"), True),
    (App("password_policy", "1.17.0", types=("authentication",)), True),
    (App("cloud_federation_api", "1.10.0", types=("filesystem",)), True),
    (App("dav", "1.27.0", types=("filesystem",)), True),
    (App("federatedfilesharing", "1.17.0", types=("filesystem",)), True),
    (App("files", "1.22.0", types=("filesystem",)), True),
    (App("lookup_server_connector", "1.15.0", types=("authentication",)), True),
    (App("oauth2", "1.15.1", types=("authentication",)), True),
    (App("provisioning_api", "1.17.0", types=("prevent_group_restriction",)), True),
    (App("settings", "1.9.0", types=("prevent_group_restriction",)), True),
    (App("theming", "2.2.0", types=("logging",)), True),
    (App("twofactor_backupcodes", "1.16.0", types=("prevent_group_restriction",)), True),
    (App("workflowengine", "2.9.0", types=("filesystem",)), True),
)


class OcsError(Exception):
    """An ``OCSException``: an OCS status code and message."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InternalError(Exception):
    """Anything Nextcloud does not catch (a PHP TypeError, a failing hook): HTTP 500."""


class InvalidArgument(Exception):
    pass


class HintError(Exception):
    """A ``HintException``: the password policy's refusal."""


class AppNotFound(Exception):
    pass


@dataclass
class User:
    uid: str
    password: str
    display_name: str | None = None
    email: str | None = None
    quota: str | None = None
    enabled: bool = True
    last_login: int = 0
    groups: list[str] = field(default_factory=list)
    language: str | None = None
    locale: str = ""
    manager: str = ""
    profile: dict[str, str] = field(default_factory=lambda: {"profile_enabled": "1"})
    storage_ready: bool = False
    used: int | None = None

    @property
    def effective_display_name(self) -> str:
        name = (self.display_name or "").strip()
        return name or self.uid

    @property
    def system_email(self) -> str | None:
        return self.email.strip().lower() if self.email else None


@dataclass
class Group:
    gid: str
    display_name: str


class NextcloudState:
    def __init__(
        self,
        *,
        data_dir: Path,
        storage_location_root: str,
        admin_user: str,
        admin_password: str,
        apps_available: dict[str, str],
        disk_free: int | None,
    ) -> None:
        self.lock = threading.RLock()
        self.data_dir = data_dir
        self.storage_location_root = storage_location_root.rstrip("/")
        self.disk_free_override = disk_free
        self.clock: float | None = None
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.attempts: list[tuple[str, float]] = []
        self.fail_create_for: set[str] = set()
        self.apps: dict[str, App] = {app.app_id: app for app, _ in SHIPPED_APPS}
        for app_id, version in apps_available.items():
            self.apps.setdefault(app_id, App(app_id, version, shipped=False))
        self.app_config: dict[str, dict[str, str]] = {}
        for app, enabled in SHIPPED_APPS:
            if enabled:
                self.app_config[app.app_id] = {"enabled": "yes", "installed_version": app.version}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.groups["admin"] = Group("admin", "admin")
        admin = self._insert_user(admin_user, admin_password)
        admin.groups.append("admin")

    # ---- time and disk -----------------------------------------------------------------------

    def now(self) -> float:
        return self.clock if self.clock is not None else time.time()

    def disk_free(self) -> int:
        if self.disk_free_override is not None:
            return self.disk_free_override
        return shutil.disk_usage(self.data_dir).free

    # ---- users -------------------------------------------------------------------------------

    def get_user(self, uid: str) -> User | None:
        return self.users.get(uid.lower())

    def home(self, user: User) -> str:
        return f"{self.storage_location_root}/{user.uid}"

    def _insert_user(self, uid: str, password: str) -> User:
        user = User(uid=uid, password=password)
        self.users[uid.lower()] = user
        (self.data_dir / uid / "files").mkdir(parents=True, exist_ok=True)
        return user

    def validate_user_id(self, uid: str) -> None:
        if any(not (char.isascii() and (char.isalnum() or char in " _.@-'")) for char in uid):
            raise InvalidArgument(
                "Only the following characters are allowed in a username:"
                ' "a-z", "A-Z", "0-9", spaces and "_.@-\'"'
            )
        if not uid.strip():
            raise InvalidArgument("A valid username must be provided")
        if uid.strip() != uid:
            raise InvalidArgument("Username contains whitespace at the beginning or at the end")
        if uid in (".", ".."):
            raise InvalidArgument("Username must not consist of dots only")
        if uid in RESERVED_USER_IDS or (self.data_dir / uid).exists():
            raise InvalidArgument("Username is invalid because files already exist for this user")

    def validate_password(self, password: str) -> None:
        if self.app_enabled_value("password_policy") != "yes":
            return
        errors = []
        length = len(password.encode())
        if length not in UNCHECKED_COMMON_LENGTHS and password.lower() in COMMON_PASSWORDS:
            errors.append(COMMON_PASSWORD_MESSAGE)
        if length < MIN_PASSWORD_LENGTH:
            errors.append(f"Password needs to be at least {MIN_PASSWORD_LENGTH} characters long.")
        if errors:
            raise HintError(" ".join(errors))

    def create_user(self, uid: str, password: str) -> User:
        """``IUserManager::createUser``: checks, password policy, then the account itself."""
        self.validate_user_id(uid)
        if not password.strip():
            raise InvalidArgument("A valid password must be provided")
        if self.get_user(uid) is not None:
            raise InvalidArgument("The username is already being used")
        self.validate_password(password)
        user = self._insert_user(uid, password)
        if uid.lower() in self.fail_create_for:
            self.fail_create_for.discard(uid.lower())
            # The recorded server once died here generating the new account's avatar.
            raise InternalError("avatar generation failed")
        return user

    def delete_user(self, user: User) -> None:
        del self.users[user.uid.lower()]
        shutil.rmtree(self.data_dir / user.uid, ignore_errors=True)

    def set_display_name(self, user: User, value: str) -> None:
        value = value.strip()
        if value and value != user.effective_display_name:
            if len(value) > 64:
                raise InvalidArgument("Invalid displayname")
            user.display_name = value

    def set_password(self, user: User, password: str) -> None:
        self.validate_password(password)
        user.password = password

    def set_quota(self, user: User, quota: str) -> None:
        if quota not in ("none", "default"):
            size = php.computer_file_size(quota)
            if size is None:
                raise InvalidArgument(f"Failed to set quota to invalid value {quota}")
            quota = php.human_file_size(size)
        user.quota = quota

    def quota_of(self, user: User) -> str:
        """``IUser::getQuota``: with no default quota configured, "default" reads "none"."""
        quota = user.quota or "default"
        return "none" if quota == "default" else quota

    def quota_bytes(self, user: User) -> float | int:
        quota = self.quota_of(user)
        size = None if quota == "none" else php.computer_file_size(quota)
        return SPACE_UNLIMITED if size is None else size

    def storage_info(self, user: User) -> dict[str, php.Php]:
        """``OC_Helper::getStorageInfo('/')`` for a user whose home is set up."""
        used = FRESH_HOME_USED if user.used is None else user.used
        quota = self.quota_bytes(user)
        disk_free = self.disk_free()
        free: float | int = disk_free if quota < 0 else min(disk_free, max(quota - used, 0))
        total: float | int = free + used
        if total > 0:
            if quota > 0 and total > quota:
                total = quota
            relative: float | int = php.php_round(used / total * 10000) / 100
        else:
            relative = 0
        return {"free": free, "used": used, "total": total, "relative": relative, "quota": quota}

    def record_login(self, user: User) -> None:
        now = int(self.now())
        if now - user.last_login > 60:
            user.last_login = now
        user.storage_ready = True

    def check_password(self, login_name: str, password: str) -> User | None:
        user = self.get_user(login_name)
        if user is not None and user.password == password:
            return user
        return None

    def users_with_email(self, email: str) -> list[User]:
        return [user for user in self.users.values() if user.system_email == email.lower()]

    def search_users(self, pattern: str, limit: int | None, offset: int) -> list[str]:
        """The database backend picks a page ordered by display name (unset ones first), then
        the user manager sorts that page by user id."""
        if offset < 0:
            raise InternalError("negative offset")
        needle = pattern.lower()
        found = [
            user
            for user in self.users.values()
            if needle in user.uid.lower()
            or (user.display_name is not None and needle in user.display_name.lower())
            or (user.email is not None and needle in user.email.lower())
        ]
        found.sort(
            key=lambda user: (
                user.display_name is not None,
                (user.display_name or "").lower(),
                user.uid.lower(),
            )
        )
        page = found[offset:] if limit is None or limit < 0 else found[offset : offset + limit]
        return sorted((user.uid for user in page), key=str.lower)

    # ---- groups ------------------------------------------------------------------------------

    def members(self, gid: str) -> list[User]:
        return sorted(
            (user for user in self.users.values() if gid in user.groups), key=lambda u: u.uid
        )

    def search_groups(self, pattern: str, limit: int | None, offset: int) -> list[Group]:
        needle = pattern.lower()
        found = sorted(
            (
                group
                for group in self.groups.values()
                if needle in group.gid.lower() or needle in group.display_name.lower()
            ),
            key=lambda group: group.gid,
        )
        start = max(offset, 0)
        if limit is not None and limit > 0:
            return found[start : start + limit]
        return found[start:]

    def search_in_group(self, gid: str, pattern: str, limit: int, offset: int) -> list[User]:
        needle = pattern.lower()
        found = [
            user
            for user in self.members(gid)
            if not needle
            or needle in user.uid.lower()
            or (user.display_name is not None and needle in user.display_name.lower())
            or (user.email is not None and needle in user.email.lower())
        ]
        if offset < 0:
            raise InternalError("negative offset")
        return found[offset:] if limit < 0 else found[offset : offset + limit]

    def create_group(self, gid: str) -> Group:
        group = Group(gid, gid)
        self.groups[gid] = group
        return group

    def delete_group(self, gid: str) -> None:
        del self.groups[gid]
        for user in self.users.values():
            if gid in user.groups:
                user.groups.remove(gid)

    def is_admin(self, user: User) -> bool:
        return "admin" in user.groups

    # ---- apps --------------------------------------------------------------------------------

    def app_enabled_value(self, app_id: str) -> str:
        if app_id in ALWAYS_ENABLED:
            return "yes"
        return self.app_config.get(app_id, {}).get("enabled", "no")

    def installed_apps(self) -> dict[str, str]:
        """App id → its "enabled" value, for apps enabled for everyone or for groups."""
        values = {app_id: config["enabled"] for app_id, config in self.app_config.items()}
        values |= {app_id: "yes" for app_id in ALWAYS_ENABLED}
        return {app_id: values[app_id] for app_id in sorted(values) if values[app_id] != "no"}

    def is_installed(self, app_id: str) -> bool:
        return app_id in self.installed_apps()

    def app_for_user(self, enabled: str, user: User | None) -> bool:
        if enabled == "yes":
            return True
        if user is None:
            return False
        groups = php_json_list(enabled)
        return groups is not None and any(gid in groups for gid in user.groups)

    def enabled_apps_for(self, user: User | None) -> list[str]:
        return [
            app_id
            for app_id, enabled in self.installed_apps().items()
            if self.app_for_user(enabled, user)
        ]

    def app_path(self, app_id: str) -> App:
        app = self.apps.get(app_id)
        if app is None:
            raise AppNotFound(app_id)
        return app

    def install_app(self, app_id: str) -> None:
        # The installer leaves the app disabled: enabling is the next, separate step.
        app = self.apps.get(app_id)
        if app is None:
            raise InvalidArgument("App not found in any app directory")
        config = self.app_config.setdefault(app_id, {})
        config["installed_version"] = app.version
        config["enabled"] = "no"

    def enable_app(self, app_id: str) -> None:
        self.app_path(app_id)
        self.app_config.setdefault(app_id, {})["enabled"] = "yes"

    def enable_app_for_groups(self, app_id: str, gids: list[str]) -> None:
        app = self.app_path(app_id)
        if RESTRICTED_TYPES.intersection(app.types):
            raise InvalidArgument(f"{app_id} can't be enabled for groups.")
        self.app_config.setdefault(app_id, {})["enabled"] = php.json_encode(gids)

    def disable_app(self, app_id: str) -> None:
        if app_id in ALWAYS_ENABLED:
            raise InvalidArgument(f"{app_id} can't be disabled.")
        self.app_config.setdefault(app_id, {})["enabled"] = "no"

    # ---- brute-force protection (OC\Security\Bruteforce\Throttler) ----------------------------

    def register_attempt(self, ip: str) -> None:
        self.attempts.append((ip, self.now()))

    def attempt_count(self, ip: str, max_age_hours: float = 12) -> int:
        cutoff = self.now() - max_age_hours * 3600
        return sum(1 for address, when in self.attempts if address == ip and when > cutoff)

    def delay_ms(self, ip: str) -> int:
        attempts = self.attempt_count(ip)
        if attempts == 0:
            return 0
        if attempts > MAX_ATTEMPTS:
            return MAX_DELAY_MS
        delay = 0.1 * 2**attempts
        return MAX_DELAY_MS if delay > MAX_DELAY_MS / 1000 else math.ceil(delay * 1000)

    def blocked(self, ip: str) -> bool:
        return self.delay_ms(ip) == MAX_DELAY_MS and self.attempt_count(ip, 0.5) > MAX_ATTEMPTS

    def reset_attempts(self, ip: str) -> None:
        self.attempts = [(address, when) for address, when in self.attempts if address != ip]


def php_json_list(text: str) -> list[str] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) else None
