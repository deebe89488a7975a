"""Mailing lists on Sympa (Debian's ``sympa`` 6.2): robots, lists, rosters, exports, orphans.

A list is a managed service of kind ``list`` whose ``domain`` is its address ``name@robot``.
Present: the robot exists and the list is open; suspended: the list is closed (Sympa keeps its
subscribers aside and gives them back when it reopens); absent: the list is exported (its
directory with the subscribers dumped in it, and its archives) to a verified archive, then
purged. A list that follows a roster carries Ronron's data source in its config
(``include_remote_file`` on the roster feed, with the list's own credential): Sympa fetches the
addresses and computes the difference itself, and keeps its members when Ronron cannot be
reached. Lists that follow no roster keep their subscribers untouched.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from ronron.drivers.base import Observation, Orphan, Step, register
from ronron.drivers.sympa import server as sympa
from ronron.drivers.sympa.spec import normalize_list_address, split_address, validate_spec
from ronron.drivers.sympa.sync import sync_lists
from ronron.drivers.web import archive
from ronron.services.rosters import ROSTER_FEED, feed_user

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.fleet.models import Server
    from ronron.services.models import Service


def feed_url(service: Service, host: Host) -> str:
    base = host.layout.ronron_url or settings.RONRON.public_url
    return base.rstrip("/") + reverse("roster_feed", args=[service.pk])


class SympaDriver:
    kind: ClassVar[str] = "list"

    # --- truth ---------------------------------------------------------------------------------

    def validate_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        return validate_spec(spec)

    def normalize_domain(self, value: str) -> str:
        """A list's ``domain`` is its address."""
        return normalize_list_address(value)

    def _wanted_source(self, service: Service, host: Host, password: str | None) -> dict[str, str]:
        return {
            "url": feed_url(service, host),
            "user": feed_user(service),
            "passwd": password or "",
        }

    # --- reality --------------------------------------------------------------------------------

    def observe(self, service: Service, host: Host) -> Observation:
        name, robot = split_address(service.domain)
        robot_ready = sympa.robot_exists(host, robot)
        config = sympa.read_config(host, name, robot) if robot_ready else None
        parts: dict[str, Any] = {
            "robot": robot_ready,
            "list": config.status if config else None,
            "roster-source": None,
        }
        if config and config.source:
            stored = (service.credentials or {}).get(ROSTER_FEED)
            wanted = self._wanted_source(service, host, stored)
            current = {key: config.source.get(key, "") for key in wanted}
            # The password is compared, never kept in the observation.
            parts["roster-source"] = "ok" if stored and current == wanted else "stale"
        facts: dict[str, Any] = {}
        if config:
            facts["status"] = config.status
            count = sympa.subscriber_count(host, name, robot) if config.status == "open" else None
            if count is not None:
                facts["subscribers"] = count
            facts["messages_per_day"] = sympa.messages_per_day(
                host, name, robot, today=int(time.time() // 86400)
            )
        exported = archive.recorded_export(self._export_key(service))
        if exported:
            facts["archive"] = exported["archive"]
        follows = service.roster_id is not None
        source_ok = parts["roster-source"] == ("ok" if follows else None)
        if config is None:
            state = "absent"
        elif config.status == "closed" and source_ok:
            state = "suspended"
        elif config.status == "open" and source_ok:
            state = "present"
        else:
            state = "partial"
        return Observation(state, parts, facts)

    # --- plan ------------------------------------------------------------------------------------

    def plan(self, service: Service, observed: Observation) -> list[Step]:
        name, robot = split_address(service.domain)
        parts = observed.parts
        steps: list[Step] = []
        prefix = f"list:{service.pk}"

        def step(key: str, description: str, run: Any) -> None:
            steps.append(Step(f"{prefix}:{key}", description, run))

        if service.wanted_state == "absent":
            return self._removal_plan(service, name, robot, parts, step, steps)

        status = parts.get("list")
        if not parts.get("robot"):
            step(
                "robot",
                _("prepare the list domain %(robot)s") % {"robot": robot},
                lambda host: sympa.ensure_robot(host, robot),
            )
        if status is None:
            step(
                "create",
                _("create the list %(address)s") % {"address": service.domain},
                lambda host: sympa.create_list(host, name, robot, service.spec),
            )
        follows = service.roster_id is not None
        wanted_source = "ok" if follows else None
        source_changes = parts.get("roster-source") != wanted_source
        if source_changes:
            if follows:
                from ronron.services.credentials import secret

                # Made and stored now, before any step runs, so that a retry reuses it.
                password = secret(service, ROSTER_FEED)
                step(
                    "roster-source",
                    _("make the list follow the roster “%(roster)s”")
                    % {"roster": service.roster.name if service.roster else ""},
                    lambda host: sympa.write_source(
                        host,
                        name,
                        robot,
                        sympa.source_paragraph(
                            feed_url(service, host), feed_user(service), password
                        ),
                    ),
                )
            else:
                step(
                    "roster-source",
                    _("stop following a roster (the roster's addresses leave the list)"),
                    lambda host: sympa.write_source(host, name, robot, None),
                )
        if service.wanted_state == "suspended":
            if status != "closed":
                step(
                    "close",
                    _("close the list (its subscribers are kept aside)"),
                    lambda host: sympa.close_list(host, name, robot),
                )
            return steps
        if status not in (None, "open"):
            step(
                "open",
                _("reopen the list"),
                lambda host: sympa.open_list(host, name, robot),
            )
        if follows and (source_changes or status not in (None, "open")):
            step(
                "sync",
                _("have the subscribers brought in step with the roster"),
                lambda host: self._request_sync(service),
            )
        elif not follows and source_changes and status is not None:
            step(
                "sync",
                _("apply the change of subscribers"),
                lambda host: sympa.include(host, name, robot),
            )
        return steps

    def _removal_plan(
        self,
        service: Service,
        name: str,
        robot: str,
        parts: dict[str, Any],
        step: Any,
        steps: list[Step],
    ) -> list[Step]:
        key = self._export_key(service)
        if parts.get("list") is not None:
            step(
                "export",
                _("export the subscribers and archives of the list and verify them"),
                lambda host: self._export_once(service, host, key),
            )

            def purge(host: Host) -> str:
                if archive.verified_export(key) is None:
                    raise archive.ArchiveError(
                        f"refusing to purge {service.domain}: no verified archive of it"
                    )
                return sympa.close_list(host, name, robot, purge=True)

            step("purge", _("delete the list, its subscribers and its archives"), purge)
        if service.removed_at is None:
            step(
                "record-removal",
                _("record the removal and where its archive is"),
                lambda host: self._record_removal(service, key),
            )
        return steps

    # --- steps -----------------------------------------------------------------------------------

    @staticmethod
    def _export_key(service: Service) -> str:
        return f"service-{service.pk}"

    def _sources(self, service: Service, host: Host) -> list[str]:
        name, robot = split_address(service.domain)
        config = sympa.read_config(host, name, robot)
        if config is None:
            raise archive.ArchiveError(f"{service.domain} does not exist: nothing to export")
        if config.status == "open":
            sympa.dump_members(host, name, robot)
        sources = [sympa.list_dir(host, name, robot)]
        archives = sympa.archive_dir(host, name, robot)
        if host.exists(archives):
            sources.append(archives)
        return sources

    def _export_once(self, service: Service, host: Host, key: str) -> str:
        path, made = archive.export_paths_once(
            key,
            host,
            lambda: self._sources(service, host),
            staging=host.layout.sympa_staging,
            member_number=service.member.number,
            kind=service.kind,
            slug=service.slug,
        )
        return f"exported and verified: {path}" if made else f"already exported: {path}"

    def _record_removal(self, service: Service, key: str) -> str:
        from ronron.services.actions import record_removal

        exported = archive.recorded_export(key)
        path = str(exported["archive"]) if exported else ""
        record_removal(service, archive_path=path)
        service.archive_path = path
        return f"removed; archive: {path or '(nothing to archive)'}"

    def _request_sync(self, service: Service) -> str:
        from ronron.services.tasks import request_roster_sync

        return request_roster_sync(service)

    # --- rosters -----------------------------------------------------------------------------

    def refresh_rosters(self, host: Host, services: list[Service]) -> dict[int, tuple[bool, str]]:
        """Each list fetches its roster again at once; (done, what happened) per service."""
        results = sync_lists(host, [service.domain for service in services])
        return {
            service.pk: (results[service.domain].ok, results[service.domain].summary())
            for service in services
        }

    # --- export and orphans ----------------------------------------------------------------------

    def export(self, service: Service, host: Host, directory: Path) -> Path:
        target = directory / archive.archive_name(service.kind, service.slug)
        return archive.export_paths(
            host,
            self._sources(service, host),
            staging=host.layout.sympa_staging,
            target=target,
        )

    def orphans(self, server: Server, host: Host, claimed: set[str]) -> list[Orphan]:
        """Lists of this server's Sympa that no live list service claims, and list domains
        none of them uses. Shown, never deleted."""
        from ronron.services.models import Service

        addresses = set(
            Service.objects.filter(
                server=server, kind=self.kind, managed=True, removed_at__isnull=True
            ).values_list("domain", flat=True)
        )
        used_robots = {split_address(address)[1] for address in addresses}
        found: list[Orphan] = []
        for robot in sympa.robots(host):
            names = sympa.lists_of_robot(host, robot)
            if robot not in used_robots:
                found.append(Orphan(self.kind, "robot", robot, {"lists": len(names)}))
            for name in names:
                if f"{name}@{robot}" not in addresses:
                    found.append(
                        Orphan(
                            self.kind,
                            "list",
                            f"{name}@{robot}",
                            {"path": f"{host.layout.sympa_list_data}/{robot}/{name}"},
                        )
                    )
        return found


register(SympaDriver())
