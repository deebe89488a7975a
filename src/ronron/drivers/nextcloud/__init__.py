"""Cloud spaces and work groups on Nextcloud 27+ (OCS Provisioning API, plus ``occ`` through
the server's host). Kinds ``cloud`` (``space.py``) and ``cloudgroup`` (``workgroup.py``).

What Ronron needs from a Nextcloud server: its address and an administrator's app password
(``fleet/nextcloud_access.py``), ``occ`` runnable by the host (``Layout.nextcloud_occ``) and its
data directory readable (``Layout.nextcloud_data``) for exports. Facts about Nextcloud's real
behaviour, and the recordings they come from: ``ocs.py``, ``server.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _

from ronron.drivers.base import Observation, Orphan, Step, register
from ronron.drivers.nextcloud import removal
from ronron.drivers.nextcloud import server as nextcloud
from ronron.drivers.nextcloud.licences import check_licences
from ronron.drivers.nextcloud.space import observe_space, plan_space
from ronron.drivers.nextcloud.spec import validate_cloud_spec, validate_group_id
from ronron.drivers.nextcloud.workgroup import WorkGroupDriver

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.fleet.models import Server
    from ronron.members.models import Member
    from ronron.services.models import Service


class CloudSpaceDriver:
    kind: ClassVar[str] = "cloud"

    def validate_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        return validate_cloud_spec(spec)

    def check_claims(
        self,
        spec: dict[str, Any],
        *,
        member: Member,
        server: Server | None,
        exclude: int | None = None,
    ) -> None:
        """What one spec cannot see: logins taken by another space of the same server
        (whatever their case), and the apps' licences."""
        from ronron.services.models import Service

        others = Service.objects.filter(
            kind=self.kind, managed=True, removed_at__isnull=True, server=server
        )
        if exclude is not None:
            others = others.exclude(pk=exclude)
        taken: dict[str, str] = {}
        for other in others.select_related("member"):
            spec_other = other.spec or {}
            for account_id in [a["id"] for a in spec_other.get("accounts", [])] + list(
                spec_other.get("retired", [])
            ):
                taken[account_id.lower()] = other.member.name
        clashes = [
            _("the login %(id)s is used by %(member)s")
            % {"id": account["id"], "member": taken[account["id"].lower()]}
            for account in spec.get("accounts", [])
            if account["id"].lower() in taken
        ]
        if clashes:
            raise ValidationError(
                {
                    "accounts": [
                        _("These logins are taken on this cloud (case is ignored): %(list)s.")
                        % {"list": "; ".join(clashes)}
                    ]
                }
            )
        check_licences(spec, exclude=exclude)

    def carry_over(self, current: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """Accounts taken out of the space become retired: disabled, their files kept, deleted
        only with the space after its export. An account put back is simply active again."""
        active = {a["id"].lower() for a in new.get("accounts", [])}
        retired: dict[str, str] = {}
        dropped = [a["id"] for a in current.get("accounts", [])]
        for account_id in [*current.get("retired", []), *dropped, *new.get("retired", [])]:
            if account_id.lower() not in active:
                retired.setdefault(account_id.lower(), account_id)
        return {**new, "retired": list(retired.values())}

    def slug_base(self, member: Member, spec: dict[str, Any]) -> str:
        """The group is named after the member."""
        return slugify(member.name)[:21].strip("-") or member.number.lower()

    def observe(self, service: Service, host: Host) -> Observation:
        validate_group_id(service.slug)
        return observe_space(service, host)

    def plan(self, service: Service, observed: Observation) -> list[Step]:
        return plan_space(service, observed)

    def export(self, service: Service, host: Host, directory: Path) -> Path:
        return removal.archive_into(
            service, host, directory, lambda: removal.sources_of_space(service, host)
        )

    def orphans(self, server: Server, host: Host, claimed: set[str]) -> list[Orphan]:
        """Groups and accounts of the server's Nextcloud that no cloud space or work group
        claims. The hoster's administrators (the admin group) are not orphans."""
        from ronron.fleet.nextcloud_access import access_of
        from ronron.services.models import Service

        live = Service.objects.filter(
            server=server,
            kind__in=(self.kind, WorkGroupDriver.kind),
            managed=True,
            removed_at__isnull=True,
        )
        groups = {"admin"} | {s.slug for s in live}
        accounts: set[str] = set()
        for service in live.filter(kind=self.kind):
            spec = service.spec or {}
            accounts |= {a["id"].lower() for a in spec.get("accounts", [])}
            accounts |= {r.lower() for r in spec.get("retired", [])}
        access = access_of(server)
        if access is None:
            # No Nextcloud known on this server: nothing to look at.
            return []
        found: list[Orphan] = []
        with nextcloud.connect(server) as client:
            for group in client.groups():
                if group.get("id") not in groups:
                    found.append(
                        Orphan(
                            self.kind,
                            "group",
                            str(group.get("id")),
                            {
                                "display_name": group.get("displayname", ""),
                                "members": group.get("usercount", 0),
                            },
                        )
                    )
            for user in client.users():
                if user.id.lower() in accounts or "admin" in user.groups:
                    continue
                if user.id.lower() == access.user.lower():
                    continue
                found.append(
                    Orphan(
                        self.kind,
                        "account",
                        user.id,
                        {
                            "email": user.email,
                            "used": user.used,
                            "quota": user.quota,
                            "enabled": user.enabled,
                            "groups": list(user.groups),
                        },
                    )
                )
        return found


register(CloudSpaceDriver())
register(WorkGroupDriver())
