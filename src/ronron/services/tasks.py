"""Keeping the services that follow a roster in step with it.

Any change that may move an address in or out of a roster (a member admitted or gone, a contact
added, changed or removed, an import, a roster edited) calls ``schedule_roster_sync``. Once the
change is committed, one background task compares each following service's roster with what it
was last brought to (a digest) and asks the driver to re-read the roster only where it changed:
for a Sympa list, ``sympa include``, after which Sympa adds and removes the difference itself.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Subquery
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from ronron.drivers.base import driver_for
from ronron.services import rosters
from ronron.services.models import Roster, RosterSync, Service

if TYPE_CHECKING:
    from ronron.fleet.models import Server

log = logging.getLogger(__name__)


def _enqueue_sync() -> None:
    # A sync still waiting in the queue will read this change when it runs: one is enough
    # (an apply of 650 lists would otherwise queue 650 syncs, each reading every roster).
    waiting = DBTaskResult.objects.ready().filter(task_path=sync_rosters_task.module_path)
    if waiting.exists():
        return
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


def request_roster_sync(service: Service) -> str:
    """Have the service brought to its roster by the next sync even if its roster did not
    change (it was reopened, or its source rewritten). The sync task takes every request
    waiting at once, so that an apply of many lists ends in one batch."""
    RosterSync.objects.create(
        service=service, roster_id=service.roster_id, outcome=RosterSync.Outcome.PENDING
    )
    schedule_roster_sync()
    return "synchronisation with the roster requested"


def following_services() -> Any:
    """The services that follow a roster, each with the digest of its last successful sync
    (``last_digest``), when its last sync ended (``last_finished``) and whether a sync was
    requested (``sync_requested``), read in one query."""
    last_ok = RosterSync.objects.filter(
        service=OuterRef("pk"), outcome=RosterSync.Outcome.OK
    ).order_by("-started_at", "-id")
    last = RosterSync.objects.filter(service=OuterRef("pk"), finished_at__isnull=False).order_by(
        "-finished_at"
    )
    return (
        Service.objects.filter(
            roster__isnull=False,
            managed=True,
            removed_at__isnull=True,
            wanted_state=Service.Wanted.PRESENT,
        )
        .select_related("roster", "server", "member")
        .annotate(
            last_digest=Subquery(last_ok.values("digest")[:1]),
            last_finished=Subquery(last.values("finished_at")[:1]),
            sync_requested=Exists(
                RosterSync.objects.filter(
                    service=OuterRef("pk"), outcome=RosterSync.Outcome.PENDING
                )
            ),
        )
    )


def _wait_for_next_second(services: list[Service]) -> None:
    """Sympa stamps members to the second and a sync only removes those stamped before the
    second it started in: a list's next sync must start in a later second than its last one
    ended, or the members who just left stay."""
    finished = [
        s.last_finished  # type: ignore[attr-defined]
        for s in services
        if getattr(s, "last_finished", None) is not None
    ]
    if not finished:
        return
    last = int(max(finished).timestamp())
    while time.time() < last + 1:
        time.sleep(min(0.05, last + 1 - time.time()) + 0.001)


def _refresh(server: Server, kind: str, services: list[Service]) -> dict[int, tuple[bool, str]]:
    driver: Any = driver_for(kind)
    refresh = getattr(driver, "refresh_rosters", None)
    if refresh is None:
        raise RuntimeError(f"services of kind {kind!r} cannot follow a roster")
    outcomes: dict[int, tuple[bool, str]] = refresh(server.host(), services)
    return outcomes


def sync_rosters(*, force: bool = False, only: list[int] | None = None) -> dict[str, Any]:
    """Bring every following service whose roster changed since its last successful sync (all
    of them with ``force``; only those in ``only`` if given) to its roster: each roster is
    computed once, and each server's lists are asked together."""
    services = following_services()
    if only is not None:
        services = services.filter(pk__in=only)
    # Requests made from now on are for the next sync: this one may have read their roster.
    requests_seen = RosterSync.objects.filter(outcome=RosterSync.Outcome.PENDING).aggregate(
        last=Max("pk")
    )["last"]
    services = list(services)
    computed = rosters.entries_of({s.roster.pk: s.roster for s in services}.values())
    due: dict[tuple[int, str], list[Service]] = defaultdict(list)
    records: dict[int, RosterSync] = {}
    for service in services:
        roster: Roster = service.roster
        found = computed[roster.pk]
        fingerprint = rosters.digest(found)
        if not force and not service.sync_requested and service.last_digest == fingerprint:
            continue
        records[service.pk] = RosterSync.objects.create(
            service=service, roster=roster, digest=fingerprint, addresses=len(found)
        )
        due[(service.server_id or 0, service.kind)].append(service)
    if requests_seen is not None and records:
        RosterSync.objects.filter(
            service__in=list(records), outcome=RosterSync.Outcome.PENDING, pk__lte=requests_seen
        ).delete()
    messages: dict[int, str] = {}
    for (_server_id, kind), group in due.items():
        server = group[0].server
        try:
            if server is None:
                raise RuntimeError("the service has no server")
            _wait_for_next_second(group)
            outcomes = _refresh(server, kind, group)
        except Exception as exc:
            log.warning("roster sync of %d services failed: %s", len(group), exc)
            outcomes = {service.pk: (False, str(exc)) for service in group}
        finished = timezone.now()
        for service in group:
            done, message = outcomes.get(service.pk, (False, "no answer"))
            record = records[service.pk]
            record.outcome = RosterSync.Outcome.OK if done else RosterSync.Outcome.FAILED
            record.message = message[:2000]
            record.finished_at = finished
            messages[service.pk] = message
        RosterSync.objects.bulk_update(
            [records[s.pk] for s in group], ["outcome", "message", "finished_at"]
        )
    failed = sum(record.outcome == RosterSync.Outcome.FAILED for record in records.values())
    return {"services": len(records), "failed": failed, "messages": messages}


@task()
def sync_rosters_task() -> dict[str, int]:
    done = sync_rosters()
    return {"services": done["services"], "failed": done["failed"]}
