"""Keeping the services that follow a roster in step with it.

Any change that may move an address in or out of a roster (a member admitted or gone, a contact
added, changed or removed, an import, a roster edited) calls ``schedule_roster_sync``. Once the
change is committed, one background task compares each following service's roster with what it
was last brought to (a digest) and asks the driver to re-read the roster only where it changed:
for a Sympa list, ``sympa include``, after which Sympa adds and removes the difference itself.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django_tasks import task

from ronron.drivers.base import driver_for
from ronron.services import rosters
from ronron.services.models import Roster, RosterSync, Service

log = logging.getLogger(__name__)


def _enqueue_sync() -> None:
    sync_rosters_task.enqueue()


def schedule_roster_sync() -> None:
    """Queue one roster sync after the current transaction commits — once, however many changes
    the transaction made (an import changes thousands of contacts)."""
    connection = transaction.get_connection()
    # Django drops the callbacks of a rolled-back block from this list, so a rollback never
    # leaves a sync believed scheduled.
    if any(entry[1] is _enqueue_sync for entry in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue_sync)


def following_services() -> Any:
    """The services that follow a roster, each with the digest of its last successful sync
    (``last_digest``), read in the same query."""
    last_ok = RosterSync.objects.filter(
        service=OuterRef("pk"), outcome=RosterSync.Outcome.OK
    ).order_by("-started_at", "-id")
    return (
        Service.objects.filter(
            roster__isnull=False,
            managed=True,
            removed_at__isnull=True,
            wanted_state=Service.Wanted.PRESENT,
        )
        .select_related("roster", "server")
        .annotate(last_digest=Subquery(last_ok.values("digest")[:1]))
    )


def sync_service(
    service: Service, found: list[rosters.Entry], *, force: bool = False
) -> RosterSync | None:
    """Bring one service (read through ``following_services``) to its roster if the roster
    moved since its last successful sync; the record of it, if any."""
    fingerprint = rosters.digest(found)
    if not force and getattr(service, "last_digest", None) == fingerprint:
        return None
    record = RosterSync.objects.create(
        service=service, roster=service.roster, digest=fingerprint, addresses=len(found)
    )
    try:
        driver: Any = driver_for(service.kind)
        if service.server is None:
            raise RuntimeError("the service has no server")
        message = driver.refresh_roster(service, service.server.host())
    except Exception as exc:
        log.warning("roster sync of service %s failed: %s", service.pk, exc)
        record.outcome = RosterSync.Outcome.FAILED
        record.message = str(exc)[:2000]
    else:
        record.outcome = RosterSync.Outcome.OK
        record.message = str(message or "")[:2000]
    record.finished_at = timezone.now()
    record.save(update_fields=["outcome", "message", "finished_at"])
    return record


def sync_rosters(*, force: bool = False) -> dict[str, int]:
    """Every following service whose roster changed; each roster computed once."""
    computed: dict[int, list[rosters.Entry]] = {}
    asked = failed = 0
    for service in following_services():
        roster: Roster = service.roster
        if roster.pk not in computed:
            computed[roster.pk] = rosters.entries(roster)
        record = sync_service(service, computed[roster.pk], force=force)
        if record is not None:
            asked += 1
            failed += record.outcome == RosterSync.Outcome.FAILED
    return {"services": asked, "failed": failed}


@task()
def sync_rosters_task() -> dict[str, int]:
    return sync_rosters()
