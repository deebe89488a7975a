"""A member's cloud space on a Nextcloud (kind ``cloud``): its group, its accounts, their quotas
and the apps enabled for the group. See ``spec.py`` for the truth, ``removal.py`` for the export
then deletion, ``workgroup.py`` for groups that follow a roster.

Ownership: an account is the space's when it is a member of the space's group, or when Ronron
holds a password it made to create it (a create that failed half-way: Nextcloud makes the
account before it applies the quota, the e-mail and the groups). An account with a wanted login
that is neither — someone else's, whatever its case — is *taken*: the plan says so and never
touches it.

People may change their own display name and e-mail in Nextcloud: Ronron fills them when they
are missing (a half-made account) and leaves them otherwise. The quota, the group and whether
the account is enabled are Ronron's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.translation import gettext as _

from ronron.drivers.base import Observation, Step
from ronron.drivers.nextcloud import removal
from ronron.drivers.nextcloud import server as nextcloud
from ronron.drivers.nextcloud.ocs import User
from ronron.drivers.nextcloud.spec import APPS, as_nextcloud_keeps, shares

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.services.models import Service

PASSWORD_PREFIX = "account:"  # noqa: S105 - the name under which a password is kept


def password_key(account_id: str) -> str:
    return PASSWORD_PREFIX + account_id.lower()


def size(value: int | None) -> str:
    return filesizeformat(value) if value else _("no limit")


def _account_part(user: User | None, *, in_group: bool, pending: bool) -> dict[str, Any] | None:
    if user is None:
        return None
    return {**user.as_json(), "in_group": in_group, "owned": in_group or pending}


def observe_space(service: Service, host: Host) -> Observation:
    spec = service.spec or {}
    group = service.slug
    pending = {k[len(PASSWORD_PREFIX) :] for k in (service.credentials or {}) if k.startswith(
        PASSWORD_PREFIX)}  # fmt: skip
    wanted_ids = [a["id"] for a in spec.get("accounts", [])] + list(spec.get("retired", []))
    with nextcloud.connect(service.server) as client:
        members = client.group_members(group)
        in_group = {user.id.lower(): user for user in (members or {}).values()}
        accounts: dict[str, Any] = {}
        for account_id in wanted_ids:
            folded = account_id.lower()
            user = in_group.get(folded)
            if user is None:
                user = client.user(account_id)
            accounts[folded] = _account_part(
                user, in_group=folded in in_group, pending=folded in pending
            )
    # Apps: the ones wanted, and the ones seen enabled for the group last time (to stop them).
    before = ((service.observed or {}).get("parts") or {}).get("apps") or {}
    apps: dict[str, bool] = {}
    if members is not None:
        for app in sorted(set(spec.get("apps", [])) | {a for a, on in before.items() if on}):
            groups = nextcloud.app_groups(host, app)
            apps[app] = groups is True or (isinstance(groups, list) and group in groups)
    parts = {
        "group": members is not None,
        "accounts": accounts,
        "apps": apps,
        "pending": sorted(pending),
    }
    return Observation(_state(service, parts), parts, _facts(service, parts))


def _facts(service: Service, parts: dict[str, Any]) -> dict[str, Any]:
    spec = service.spec or {}
    usage = []
    for account in spec.get("accounts", []):
        seen = parts["accounts"].get(account["id"].lower())
        if seen and seen["owned"]:
            usage.append(
                {
                    "id": seen["id"],
                    "name": account.get("name", ""),
                    "used": seen["used"],
                    "quota": seen["quota"],
                    "enabled": seen["enabled"],
                }
            )
    facts: dict[str, Any] = {
        "accounts": len(usage),
        "storage_used": sum(u["used"] for u in usage),
        "allowance": spec.get("allowance", 0),
        "usage": usage,
        "retired": sum(
            1
            for r in spec.get("retired", [])
            if (parts["accounts"].get(r.lower()) or {}).get("owned")
        ),
    }
    exported = removal.recorded_archive(service)
    if exported:
        facts["archive"] = exported
    return facts


def _state(service: Service, parts: dict[str, Any]) -> str:
    owned = [a for a in parts["accounts"].values() if a and a["owned"]]
    if not parts["group"] and not owned:
        return "absent"
    if not _changes(service, parts, "present"):
        return "present"
    if not _changes(service, parts, "suspended"):
        return "suspended"
    return "partial"


def _changes(service: Service, parts: dict[str, Any], wanted: str) -> list[tuple[str, Any]]:
    """What differs from ``wanted`` (present or suspended), as (what, detail) pairs; the plan
    turns each into a step."""
    spec = service.spec or {}
    accounts = spec.get("accounts", [])
    quotas = shares(spec.get("allowance", 0), accounts) if accounts else {}
    changes: list[tuple[str, Any]] = []
    if wanted == "present" and not parts["group"]:
        changes.append(("group", None))
    for account in accounts:
        seen = parts["accounts"].get(account["id"].lower())
        if seen is None:
            if wanted == "present":
                changes.append(("create", account))
            continue
        if not seen["owned"]:
            changes.append(("taken", (account, seen)))
            continue
        if wanted == "suspended":
            if seen["enabled"]:
                changes.append(("disable", seen))
            continue
        if not seen["in_group"]:
            changes.append(("join", seen))
        wanted_quota = quotas.get(account["id"])
        if seen["quota"] != (as_nextcloud_keeps(wanted_quota) if wanted_quota else None):
            changes.append(("quota", (seen, quotas.get(account["id"]))))
        if not seen["email"]:
            changes.append(("email", (seen, account["email"])))
        if seen["display_name"] in ("", seen["id"]) and account["name"] != seen["id"]:
            changes.append(("name", (seen, account["name"])))
        if not seen["enabled"]:
            changes.append(("enable", seen))
    for retired_id in spec.get("retired", []):
        seen = parts["accounts"].get(retired_id.lower())
        if seen and seen["owned"] and seen["enabled"]:
            changes.append(("disable", seen))
    if wanted == "present":
        for account in accounts:
            seen = parts["accounts"].get(account["id"].lower())
            # A new account's password is made when it is created, and sent right after.
            pending = account["id"].lower() in parts["pending"]
            if seen is None or (pending and seen["owned"]):
                changes.append(("deliver", account))
        wanted_apps = set(spec.get("apps", []))
        for app in sorted(wanted_apps):
            if not parts["apps"].get(app):
                changes.append(("app-on", app))
        for app, enabled in sorted(parts["apps"].items()):
            if enabled and app not in wanted_apps:
                changes.append(("app-off", app))
    return changes


class SpaceSteps:
    """The steps of a space's plan; each reads what it needs when it runs (idempotent)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.group = service.slug

    def create_group(self, host: Host) -> str:
        with nextcloud.connect(self.service.server) as client:
            if client.group_members(self.group) is not None:
                return f"the group {self.group} exists already"
            client.create_group(self.group, self.service.member.name[:64])
        return f"group {self.group} created"

    def create_account(self, account: dict[str, Any], quota: int | None) -> Any:
        def run(host: Host) -> str:
            from ronron.services.credentials import secret

            password = secret(self.service, password_key(account["id"]), length=18)
            with nextcloud.connect(self.service.server) as client:
                if client.user(account["id"]) is not None:
                    return f"{account['id']} exists already: the next apply completes it"
                client.create_user(
                    account["id"],
                    password=password,
                    display_name=account["name"],
                    email=account["email"],
                    groups=[self.group],
                    quota=quota,
                )
            return f"account {account['id']} created ({size(quota)})"

        return run

    def edit(self, user_id: str, key: str, value: str, done: str) -> Any:
        def run(host: Host) -> str:
            with nextcloud.connect(self.service.server) as client:
                client.edit_user(user_id, key, value)
            return done

        return run

    def join(self, user_id: str) -> Any:
        def run(host: Host) -> str:
            with nextcloud.connect(self.service.server) as client:
                client.add_to_group(user_id, self.group)
            return f"{user_id} added to {self.group}"

        return run

    def set_enabled(self, user_id: str, enabled: bool) -> Any:
        def run(host: Host) -> str:
            with nextcloud.connect(self.service.server) as client:
                client.set_enabled(user_id, enabled)
            return f"{user_id} {'enabled' if enabled else 'disabled'}"

        return run

    def deliver(self, account: dict[str, Any]) -> Any:
        def run(host: Host) -> str:
            return deliver_credentials(self.service, account, host)

        return run

    def app_on(self, app: str) -> Any:
        def run(host: Host) -> str:
            current = nextcloud.app_groups(host, app, fresh=True)
            if current is True:
                return f"{app} is enabled for everyone already"
            groups = set(current or [])
            if self.group in groups:
                return f"{app} is enabled for {self.group} already"
            # An unknown group would enable the app for everyone: make sure it exists.
            with nextcloud.connect(self.service.server) as client:
                if client.group_members(self.group) is None:
                    raise nextcloud.NextcloudUnavailable(
                        f"the group {self.group} does not exist: not enabling {app}"
                    )
            return nextcloud.limit_app_to_groups(host, app, sorted(groups | {self.group}))

        return run

    def app_off(self, app: str) -> Any:
        def run(host: Host) -> str:
            return stop_app_for_group(host, app, self.group)

        return run

    def taken(self, account: dict[str, Any], seen: dict[str, Any]) -> Any:
        def run(host: Host) -> str:
            raise nextcloud.NextcloudUnavailable(
                _(
                    "The login %(id)s is already used on this Nextcloud by the account "
                    "%(other)s, which no cloud space of Ronron claims (logins are the same "
                    "whatever their case). Choose another login for this person, or make that "
                    "account a member of the group %(group)s in Nextcloud if it is theirs."
                )
                % {"id": account["id"], "other": seen["id"], "group": self.group}
            )

        return run


def stop_app_for_group(host: Host, app: str, group: str) -> str:
    current = nextcloud.app_groups(host, app, fresh=True)
    if not isinstance(current, list) or group not in current:
        return f"{app} is not limited to {group}: nothing to stop"
    rest = [g for g in current if g != group]
    if not rest:
        return nextcloud.disable_app(host, app)
    return nextcloud.limit_app_to_groups(host, app, rest)


def deliver_credentials(service: Service, account: dict[str, Any], host: Host) -> str:
    """The account's first password goes to its owner as a one-time link, then Ronron forgets
    it. A failed mail raises (the step fails, the password stays for the next apply)."""
    from ronron.secrets.delivery import deliver
    from ronron.services.handover import credentials_text
    from ronron.services.models import Service as ServiceModel

    key = password_key(account["id"])
    password = (ServiceModel.objects.get(pk=service.pk).credentials or {}).get(key)
    if not password:
        return f"the credentials of {account['id']} were sent already"
    url = host.layout.nextcloud_url
    with translation.override(settings.RONRON.language):
        purpose = _("your account on the cloud %(url)s") % {"url": url}
        text = credentials_text(
            {"purpose": purpose, "url": url, "login": account["id"], "password": password}
        )
        deliver(
            text,
            recipient=account["email"],
            purpose=purpose,
            member=service.member,
            service=service,
        )
    with transaction.atomic():
        locked = ServiceModel.objects.select_for_update().get(pk=service.pk)
        stored = dict(locked.credentials or {})
        if stored.get(key) == password:
            del stored[key]
        locked.credentials = stored or None
        locked.save(update_fields=["credentials", "updated_at"])
    service.credentials = locked.credentials
    return f"one-time credentials link sent to {account['email']}"


def plan_space(service: Service, observed: Observation) -> list[Step]:
    if service.wanted_state == "absent":
        return removal.removal_plan(service, observed)
    steps = SpaceSteps(service)
    plan: list[Step] = []
    prefix = f"cloud:{service.pk}"
    spec = service.spec or {}
    accounts = spec.get("accounts", [])
    quotas = shares(spec.get("allowance", 0), accounts) if accounts else {}
    for what, detail in _changes(service, observed.parts, service.wanted_state):
        if what == "group":
            plan.append(
                Step(
                    f"{prefix}:group",
                    _("create the group %(group)s for %(member)s")
                    % {"group": service.slug, "member": service.member.name},
                    steps.create_group,
                )
            )
        elif what == "create":
            quota = quotas.get(detail["id"])
            plan.append(
                Step(
                    f"{prefix}:create:{detail['id'].lower()}",
                    _("create the account %(id)s (%(email)s, %(size)s)")
                    % {"id": detail["id"], "email": detail["email"], "size": size(quota)},
                    steps.create_account(detail, quota),
                )
            )
        elif what == "taken":
            account, seen = detail
            plan.append(
                Step(
                    f"{prefix}:taken:{account['id'].lower()}",
                    _("the login %(id)s is taken by another account: choose another one")
                    % {"id": account["id"]},
                    steps.taken(account, seen),
                )
            )
        elif what == "join":
            plan.append(
                Step(
                    f"{prefix}:join:{detail['id'].lower()}",
                    _("add %(id)s to the group %(group)s")
                    % {"id": detail["id"], "group": service.slug},
                    steps.join(detail["id"]),
                )
            )
        elif what == "quota":
            seen, quota = detail
            plan.append(
                Step(
                    f"{prefix}:quota:{seen['id'].lower()}",
                    _("set the storage of %(id)s to %(size)s (now %(before)s)")
                    % {"id": seen["id"], "size": size(quota), "before": size(seen["quota"])},
                    steps.edit(
                        seen["id"],
                        "quota",
                        str(quota) if quota else "none",
                        f"quota of {seen['id']}: {quota or 'none'}",
                    ),
                )
            )
        elif what == "email":
            seen, email = detail
            plan.append(
                Step(
                    f"{prefix}:email:{seen['id'].lower()}",
                    _("give %(id)s the e-mail address %(email)s")
                    % {"id": seen["id"], "email": email},
                    steps.edit(seen["id"], "email", email, f"e-mail of {seen['id']} set"),
                )
            )
        elif what == "name":
            seen, name = detail
            plan.append(
                Step(
                    f"{prefix}:name:{seen['id'].lower()}",
                    _("name %(id)s “%(name)s”") % {"id": seen["id"], "name": name},
                    steps.edit(seen["id"], "displayname", name, f"name of {seen['id']} set"),
                )
            )
        elif what in ("enable", "disable"):
            enabled = what == "enable"
            plan.append(
                Step(
                    f"{prefix}:{what}:{detail['id'].lower()}",
                    (
                        _("enable the account %(id)s")
                        if enabled
                        else _("disable the account %(id)s (its files are kept)")
                    )
                    % {"id": detail["id"]},
                    steps.set_enabled(detail["id"], enabled),
                )
            )
        elif what == "deliver":
            plan.append(
                Step(
                    f"{prefix}:deliver:{detail['id'].lower()}",
                    _("send %(id)s a one-time link to their credentials (to %(email)s)")
                    % {"id": detail["id"], "email": detail["email"]},
                    steps.deliver(detail),
                )
            )
        elif what == "app-on":
            plan.append(
                Step(
                    f"{prefix}:app-on:{detail}",
                    _("enable %(app)s for the group %(group)s")
                    % {"app": APPS.get(detail, detail), "group": service.slug},
                    steps.app_on(detail),
                )
            )
        elif what == "app-off":
            plan.append(
                Step(
                    f"{prefix}:app-off:{detail}",
                    _("stop %(app)s for the group %(group)s")
                    % {"app": APPS.get(detail, detail), "group": service.slug},
                    steps.app_off(detail),
                )
            )
    if any(step.key.split(":")[2] in ("create", "join", "email") for step in plan):
        from ronron.drivers.nextcloud.workgroup import request_work_group_sync

        plan.append(
            Step(
                f"{prefix}:work-groups",
                _("bring the work groups of this cloud in step with their rosters"),
                lambda host: request_work_group_sync(service),
            )
        )
    return plan
