"""Work groups (kind ``cloudgroup``): a Nextcloud group whose members follow a roster, the same
rosters lists follow. A roster is a set of e-mail addresses; the group's members are the cloud
accounts of this server (accounts of Ronron's cloud spaces, as last observed) with one of those
addresses. Joining or leaving the roster adds the account to the group or takes it out; an
address without a cloud account is counted, not invented. Suspended, the group keeps its members
and stops following; removed, its member list is exported, then the group is deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.text import slugify
from django.utils.translation import gettext as _

from ronron.drivers.base import Observation, Orphan, Step
from ronron.drivers.nextcloud import server as nextcloud
from ronron.drivers.nextcloud.ocs import OcsClient
from ronron.drivers.nextcloud.removal import (
    archive_into,
    archive_once,
    export_key,
    recorded_archive,
    write_listing,
)
from ronron.drivers.nextcloud.spec import validate_group_id, validate_work_group_spec
from ronron.drivers.web import archive

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.fleet.models import Server
    from ronron.members.models import Member
    from ronron.services.models import Service


def accounts_by_email(client: OcsClient, server: Server | None, emails: set[str]) -> dict[str, str]:
    """E-mail → account id, for the accounts of the server's cloud spaces with one of these
    addresses. Read from Nextcloud now: an account counts once it is in its space's group
    (a login someone else holds, or an account not made yet, is never put in a work group)."""
    from ronron.services.models import Service

    found: dict[str, str] = {}
    if server is None:
        return found
    spaces = Service.objects.filter(
        server=server, kind="cloud", managed=True, removed_at__isnull=True
    ).only("slug", "spec")
    for space in spaces:
        wanted = {
            a["id"].lower(): a["email"].lower()
            for a in (space.spec or {}).get("accounts", [])
            if a["email"].lower() in emails
        }
        if not wanted:
            continue
        members = client.group_members(space.slug) or {}
        for user_id in members:
            email = wanted.get(user_id.lower())
            if email:
                found.setdefault(email, user_id)
    return found


def request_work_group_sync(space: Service) -> str:
    """Accounts came or changed in a space: the work groups of its server look again."""
    from ronron.services.models import Service
    from ronron.services.tasks import request_roster_sync

    groups = Service.objects.filter(
        server=space.server,
        kind="cloudgroup",
        managed=True,
        removed_at__isnull=True,
        roster__isnull=False,
        wanted_state=Service.Wanted.PRESENT,
    )
    count = 0
    for group in groups:
        request_roster_sync(group)
        count += 1
    return f"{count} work groups asked to follow their rosters again"


def sync_group(service: Service, wanted_emails: set[str]) -> tuple[bool, str]:
    """Make the group's members the accounts with these addresses; (done, what happened)."""
    with nextcloud.connect(service.server) as client:
        accounts = accounts_by_email(client, service.server, wanted_emails)
        wanted = {accounts[email] for email in wanted_emails if email in accounts}
        without_account = len([email for email in wanted_emails if email not in accounts])
        current = client.group_members(service.slug)
        if current is None:
            return False, f"the group {service.slug} does not exist yet"
        folded_current = {user_id.lower(): user_id for user_id in current}
        folded_wanted = {user_id.lower(): user_id for user_id in wanted}
        added = sorted(folded_wanted.keys() - folded_current.keys())
        removed = sorted(folded_current.keys() - folded_wanted.keys())
        for key in added:
            client.add_to_group(folded_wanted[key], service.slug)
        for key in removed:
            client.remove_from_group(folded_current[key], service.slug)
    return True, (
        f"{len(added)} added, {len(removed)} removed, {len(folded_wanted)} members; "
        f"{without_account} addresses of the roster have no cloud account"
    )


class WorkGroupDriver:
    kind: ClassVar[str] = "cloudgroup"

    def validate_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        return validate_work_group_spec(spec)

    def observe(self, service: Service, host: Host) -> Observation:
        validate_group_id(service.slug)
        with nextcloud.connect(service.server) as client:
            members = client.group_members(service.slug)
        parts: dict[str, Any] = {
            "group": members is not None,
            "members": sorted(members or {}),
        }
        facts: dict[str, Any] = {"members": len(members or {})}
        exported = recorded_archive(service)
        if exported:
            facts["archive"] = exported
        if members is None:
            state = "absent"
        else:
            state = "suspended" if service.wanted_state == "suspended" else "present"
        return Observation(state, parts, facts)

    def slug_base(self, member: Member, spec: dict[str, Any]) -> str:
        """A work group is named after itself (its display name), else after its member."""
        return slugify(str(spec.get("name") or member.name))[:21].strip("-")

    def _display_name(self, service: Service) -> str:
        return str((service.spec or {}).get("name") or service.member.name)[:64]

    def plan(self, service: Service, observed: Observation) -> list[Step]:
        prefix = f"cloudgroup:{service.pk}"
        steps: list[Step] = []
        if service.wanted_state == "absent":
            if observed.parts.get("group"):
                steps.append(
                    Step(
                        f"{prefix}:export",
                        _("export the members of the work group and verify them"),
                        lambda host: self._export_once(service, host),
                    )
                )
                steps.append(
                    Step(
                        f"{prefix}:delete",
                        _("delete the work group %(group)s (its members' accounts stay)")
                        % {"group": service.slug},
                        lambda host: self._delete(service),
                    )
                )
            if service.removed_at is None:
                steps.append(
                    Step(
                        f"{prefix}:record-removal",
                        _("record the removal and where its archive is"),
                        lambda host: self._record_removal(service),
                    )
                )
            return steps
        if not observed.parts.get("group"):
            steps.append(
                Step(
                    f"{prefix}:group",
                    _("create the work group %(group)s (“%(name)s”)")
                    % {"group": service.slug, "name": self._display_name(service)},
                    lambda host: self._create(service),
                )
            )
            if service.roster_id is not None and service.wanted_state == "present":
                steps.append(
                    Step(
                        f"{prefix}:sync",
                        _("have its members brought in step with the roster"),
                        lambda host: self._request_sync(service),
                    )
                )
        return steps

    def _create(self, service: Service) -> str:
        with nextcloud.connect(service.server) as client:
            if client.group_members(service.slug) is not None:
                return f"the group {service.slug} exists already"
            client.create_group(service.slug, self._display_name(service))
        return f"group {service.slug} created"

    def _request_sync(self, service: Service) -> str:
        from ronron.services.tasks import request_roster_sync

        return request_roster_sync(service)

    def refresh_rosters(self, host: Host, services: list[Service]) -> dict[int, tuple[bool, str]]:
        from ronron.services import rosters

        computed = rosters.entries_of(
            {s.roster.pk: s.roster for s in services if s.roster}.values()
        )
        outcomes: dict[int, tuple[bool, str]] = {}
        for service in services:
            entries = computed.get(service.roster_id or 0, [])
            try:
                outcomes[service.pk] = sync_group(service, {e.email for e in entries})
            except Exception as exc:
                outcomes[service.pk] = (False, str(exc))
        return outcomes

    # --- export and removal ------------------------------------------------------------------

    def _sources(self, service: Service, host: Host) -> list[str]:
        with nextcloud.connect(service.server) as client:
            members = client.group_members(service.slug) or {}
        listing = {
            "group": {"id": service.slug, "display_name": self._display_name(service)},
            "roster": service.roster.name if service.roster else "",
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "members": [user.as_json() for user in members.values()],
        }
        return [write_listing(service, host, "members.json", listing)]

    def _export_once(self, service: Service, host: Host) -> str:
        return archive_once(service, host, lambda: self._sources(service, host))

    def _delete(self, service: Service) -> str:
        if archive.verified_export(export_key(service)) is None:
            raise archive.ArchiveError(
                f"refusing to delete the work group {service.slug}: no verified archive of it"
            )
        with nextcloud.connect(service.server) as client:
            if client.group_members(service.slug) is None:
                return f"the group {service.slug} is gone already"
            client.delete_group(service.slug)
        return f"group {service.slug} deleted"

    def _record_removal(self, service: Service) -> str:
        from ronron.services.actions import record_removal

        path = recorded_archive(service)
        record_removal(service, archive_path=path)
        service.archive_path = path
        return f"removed; archive: {path or '(nothing to archive)'}"

    def export(self, service: Service, host: Host, directory: Path) -> Path:
        return archive_into(service, host, directory, lambda: self._sources(service, host))

    def orphans(self, server: Server, host: Host, claimed: set[str]) -> list[Orphan]:
        # The cloud space driver lists every unclaimed group and account of the server.
        return []
