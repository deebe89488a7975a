"""Removing a cloud space: export first, verify, then delete (design rule 4).

The archive holds ``accounts.json`` (the group, each account of the space with its e-mail,
quota, use and groups, the apps the space had) and each account's directory from Nextcloud's
data directory, read through the server's host. Only then are the space's accounts (members of
its group: retired ones too) deleted, the group taken out of its apps and deleted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from ronron.drivers.base import Observation, Step
from ronron.drivers.nextcloud import server as nextcloud
from ronron.drivers.web import archive
from ronron.fleet.hosts import check_path

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.services.models import Service

# A Nextcloud user id as a directory name: no "/" (Nextcloud refuses it) and not only dots.
_SAFE_DIRECTORY = re.compile(r"^(?!\.+$)[^/\x00\r\n]{1,64}$")


def export_key(service: Service) -> str:
    return f"service-{service.pk}"


def recorded_archive(service: Service) -> str:
    exported = archive.recorded_export(export_key(service))
    return str(exported["archive"]) if exported else ""


def space_ids(service: Service) -> set[str]:
    """The logins (case folded) that are the space's: its accounts and its retired ones. Other
    members of its group (added by hand in Nextcloud) are listed in the export, never deleted."""
    spec = service.spec or {}
    return {a["id"].lower() for a in spec.get("accounts", [])} | {
        r.lower() for r in spec.get("retired", [])
    }


def staging_of(service: Service, host: Host) -> str:
    """Where a listing of the service is written on the host before it is archived."""
    return f"{check_path(host.layout.nextcloud_staging)}/{service.kind}-{service.slug}"


def write_listing(service: Service, host: Host, name: str, listing: dict[str, Any]) -> str:
    staging = staging_of(service, host)
    host.run(["mkdir", "-p", "-m", "0700", staging])
    path = f"{staging}/{name}"
    host.write_file(path, json.dumps(listing, ensure_ascii=False, indent=2) + "\n", mode=0o600)
    return path


def archive_once(service: Service, host: Host, sources: Callable[[], list[str]]) -> str:
    """The verified export of the service, made if there is none yet (its journal line)."""
    try:
        path, made = archive.export_paths_once(
            export_key(service),
            host,
            sources,
            staging=check_path(host.layout.nextcloud_staging),
            member_number=service.member.number,
            kind=service.kind,
            slug=service.slug,
        )
    finally:
        host.run(["rm", "-rf", staging_of(service, host)], check=False)
    return f"exported and verified: {path}" if made else f"already exported: {path}"


def archive_into(
    service: Service, host: Host, directory: Path, sources: Callable[[], list[str]]
) -> Path:
    """An export of the service into ``directory`` (the member's data download)."""
    target = directory / archive.archive_name(service.kind, service.slug)
    try:
        return archive.export_paths(
            host, sources(), staging=check_path(host.layout.nextcloud_staging), target=target
        )
    finally:
        host.run(["rm", "-rf", staging_of(service, host)], check=False)


def sources_of_space(service: Service, host: Host) -> list[str]:
    """Write the listing on the host, then name it and the accounts' directories."""
    with nextcloud.connect(service.server) as client:
        members = client.group_members(service.slug) or {}
    ours = space_ids(service)
    listing = {
        "group": {"id": service.slug, "display_name": service.member.name},
        "member": service.member.number,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "apps": list((service.spec or {}).get("apps", [])),
        "accounts": [
            {**user.as_json(), "of_the_space": user.id.lower() in ours} for user in members.values()
        ],
    }
    sources = [write_listing(service, host, "accounts.json", listing)]
    data = check_path(host.layout.nextcloud_data.rstrip("/"))
    for user in members.values():
        if user.id.lower() not in ours:
            continue
        if not _SAFE_DIRECTORY.fullmatch(user.id):
            raise archive.ArchiveError(f"refusing to export an unsafe account id {user.id!r}")
        directory = f"{data}/{user.id}"
        if host.exists(directory):
            sources.append(directory)
    return sources


def export_space(service: Service, host: Host) -> str:
    return archive_once(service, host, lambda: sources_of_space(service, host))


def _require_export(service: Service) -> None:
    if archive.verified_export(export_key(service)) is None:
        raise archive.ArchiveError(
            f"refusing to delete the cloud space {service.slug}: no verified archive of it"
        )


def delete_accounts(service: Service, host: Host) -> str:
    _require_export(service)
    ours = space_ids(service)
    deleted = []
    with nextcloud.connect(service.server) as client:
        for user_id in sorted(client.group_members(service.slug) or {}):
            if user_id.lower() in ours and client.delete_user(user_id):
                deleted.append(user_id)
    return f"deleted: {', '.join(deleted)}" if deleted else "no account left to delete"


def delete_group(service: Service, host: Host) -> str:
    from ronron.drivers.nextcloud.space import stop_app_for_group

    _require_export(service)
    outputs = [
        stop_app_for_group(host, app, service.slug)
        for app in sorted(
            set((service.spec or {}).get("apps", []))
            | set(((service.observed or {}).get("parts") or {}).get("apps") or {})
        )
    ]
    with nextcloud.connect(service.server) as client:
        if client.group_members(service.slug) is None:
            outputs.append(f"the group {service.slug} is gone already")
        else:
            client.delete_group(service.slug)
            outputs.append(f"group {service.slug} deleted")
    return "\n".join(outputs)


def forget_passwords(service: Service) -> None:
    from django.db import transaction

    from ronron.drivers.nextcloud.space import PASSWORD_PREFIX
    from ronron.services.models import Service as ServiceModel

    with transaction.atomic():
        locked = ServiceModel.objects.select_for_update().get(pk=service.pk)
        stored = {
            k: v for k, v in (locked.credentials or {}).items() if not k.startswith(PASSWORD_PREFIX)
        }
        locked.credentials = stored or None
        locked.save(update_fields=["credentials", "updated_at"])


def record_removal(service: Service, host: Host) -> str:
    from ronron.services.actions import record_removal as record

    path = recorded_archive(service)
    forget_passwords(service)
    record(service, archive_path=path)
    service.archive_path = path
    return f"removed; archive: {path or '(nothing to archive)'}"


def removal_plan(service: Service, observed: Observation) -> list[Step]:
    parts = observed.parts
    prefix = f"cloud:{service.pk}"
    owned = [a for a in (parts.get("accounts") or {}).values() if a and a.get("in_group")]
    steps: list[Step] = []
    if parts.get("group") or owned:
        steps.append(
            Step(
                f"{prefix}:export",
                _("export the accounts, the group and the files of the space, and verify them"),
                lambda host: export_space(service, host),
            )
        )
        if owned:
            steps.append(
                Step(
                    f"{prefix}:delete-accounts",
                    _("delete the %(n)d accounts of the space") % {"n": len(owned)},
                    lambda host: delete_accounts(service, host),
                )
            )
        steps.append(
            Step(
                f"{prefix}:delete-group",
                _("stop its apps and delete the group %(group)s") % {"group": service.slug},
                lambda host: delete_group(service, host),
            )
        )
    if service.removed_at is None:
        steps.append(
            Step(
                f"{prefix}:record-removal",
                _("record the removal and where its archive is"),
                lambda host: record_removal(service, host),
            )
        )
    return steps
