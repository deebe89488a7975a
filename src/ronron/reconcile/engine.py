"""The reconciler: truth (services) against reality (drivers' observations) → plan → run.

``compute_plan`` asks every driver what it sees and which steps would take reality to the
truth; ``apply_plan`` recomputes that plan (a plan shown earlier may be stale) and runs its
steps, writing each one to the run's journal *before* running it, so that a worker killed at
any point leaves a trace, and the next apply converges from whatever state it left.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ronron.drivers.base import Observation, Orphan, Step, driver_for, drivers
from ronron.fleet.models import Server
from ronron.reconcile.models import Run, RunStep
from ronron.reconcile.observations import record_observation
from ronron.services.models import Service

log = logging.getLogger(__name__)

# A journal keeps the end of a step's output: what explains a failure is usually last.
MAX_OUTPUT = 20_000
REDACTED = "********"

Progress = Callable[[int, int, str], None]


@dataclass
class ServicePlan:
    service: Service
    server: Server
    steps: list[Step]
    observed: Observation | None = None
    host: Any = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return service_label(self.service)


@dataclass
class PlanError:
    server: str
    message: str
    service: Service | None = None


@dataclass
class ServerOrphan:
    server: Server
    orphan: Orphan


@dataclass
class Plan:
    items: list[ServicePlan] = field(default_factory=list)
    orphans: list[ServerOrphan] = field(default_factory=list)
    errors: list[PlanError] = field(default_factory=list)

    @property
    def changes(self) -> list[ServicePlan]:
        return [item for item in self.items if item.steps]

    @property
    def step_count(self) -> int:
        return sum(len(item.steps) for item in self.items)

    @property
    def nothing_to_do(self) -> bool:
        return not self.step_count

    def by_server(self) -> list[tuple[str, list[ServicePlan]]]:
        groups: dict[str, list[ServicePlan]] = {}
        for item in self.changes:
            groups.setdefault(item.server.name, []).append(item)
        return sorted(groups.items())

    def to_json(self) -> dict[str, Any]:
        return {
            "nothing_to_do": self.nothing_to_do,
            "changes": [
                {
                    "server": item.server.name,
                    "service": item.service.pk,
                    "label": item.label,
                    "member": item.service.member.number,
                    "kind": item.service.kind,
                    "slug": item.service.slug,
                    "wanted": item.service.wanted_state,
                    "observed": item.observed.state if item.observed else None,
                    "steps": [{"key": s.key, "description": s.description} for s in item.steps],
                }
                for item in self.changes
            ],
            "orphans": [
                {
                    "server": o.server.name,
                    "kind": o.orphan.kind,
                    "resource": o.orphan.resource,
                    "name": o.orphan.name,
                    "details": o.orphan.details,
                }
                for o in self.orphans
            ],
            "errors": [
                {
                    "server": e.server,
                    "service": e.service.pk if e.service else None,
                    "label": service_label(e.service) if e.service else "",
                    "message": e.message,
                }
                for e in self.errors
            ],
        }

    def to_text(self) -> str:
        lines: list[str] = []
        if self.nothing_to_do:
            lines.append(_("Nothing to do: every service is as it should be."))
        for server_name, items in self.by_server():
            lines.append(_("Server %(name)s") % {"name": server_name})
            for item in items:
                lines.append(
                    "  "
                    + _("%(service)s — wanted: %(wanted)s, now: %(observed)s")
                    % {
                        "service": item.label,
                        "wanted": item.service.get_wanted_state_display(),
                        "observed": observed_label(item.observed),
                    }
                )
                for number, step in enumerate(item.steps, 1):
                    lines.append(f"    {number}. {step.description}")
        if self.orphans:
            lines.append("")
            lines.append(_("Not managed (never changed):"))
            for o in self.orphans:
                lines.append(
                    f"  {o.server.name}: {o.orphan.kind} {o.orphan.resource} {o.orphan.name}"
                )
        if self.errors:
            lines.append("")
            lines.append(_("Could not be checked:"))
            for e in self.errors:
                who = service_label(e.service) if e.service else e.server
                lines.append(f"  {e.server}: {who} — {e.message}")
        return "\n".join(lines) + "\n"


def service_label(service: Service) -> str:
    name = service.domain or service.slug or str(service.pk)
    return f"{service.get_kind_display()} {name} ({service.member.number})"


def observed_label(observed: Observation | None) -> str:
    if observed is None:
        return str(Service.Observed.UNKNOWN.label)
    try:
        return str(Service.Observed(observed.state).label)
    except ValueError:
        return observed.state


def services_in_scope(*, server: str | None = None, member: str | None = None) -> QuerySet[Service]:
    services = Service.objects.filter(
        managed=True, removed_at__isnull=True, server__isnull=False
    ).select_related("server", "member")
    if server:
        services = services.filter(server__name=server)
    if member:
        services = services.filter(member__number=member)
    return services.order_by("server__name", "member__number", "kind", "slug", "pk")


def servers_in_scope(*, server: str | None = None, member: str | None = None) -> list[Server]:
    servers = Server.objects.all()
    if server:
        servers = servers.filter(name=server)
    if member:
        servers = servers.filter(
            pk__in=Service.objects.filter(member__number=member).values("server")
        )
    return list(servers.order_by("name"))


def drivers_for(server: Server) -> list[Any]:
    """The drivers whose services the server's roles let it run (all of them for a server
    with no role): a list server is not searched for web sites, nor a web server for lists."""
    from ronron.services.actions import ROLE_OF_FAMILY
    from ronron.services.kinds import KINDS

    roles = set(server.role_list)
    return [
        driver
        for driver in drivers()
        if not roles or ROLE_OF_FAMILY.get(KINDS.get(driver.kind, ""), "") in roles
    ]


def claimed_slugs(server: Server) -> set[str]:
    """Every live managed service on that server, of any kind and whatever the scope of the
    plan: an orphan is what *no* service claims (a WordPress site's system user is not an
    orphan for the static driver)."""
    return set(
        Service.objects.filter(Q(managed=True, removed_at__isnull=True), server=server).values_list(
            "slug", flat=True
        )
    )


def _message(exc: BaseException) -> str:
    return str(exc) or exc.__class__.__name__


def plan_service(service: Service, host: Any) -> ServicePlan:
    assert service.server is not None
    driver = driver_for(service.kind)
    observed = driver.observe(service, host)
    record_observation(service, observed)
    return ServicePlan(service, service.server, driver.plan(service, observed), observed, host)


def compute_plan(*, server: str | None = None, member: str | None = None) -> Plan:
    plan = Plan()
    hosts: dict[int, Any] = {}
    unreachable: dict[int, str] = {}

    def host_of(srv: Server) -> Any:
        if srv.pk in unreachable:
            raise _Unreachable(unreachable[srv.pk])
        if srv.pk not in hosts:
            try:
                hosts[srv.pk] = srv.host()
            except Exception as exc:
                unreachable[srv.pk] = _message(exc)
                raise _Unreachable(unreachable[srv.pk]) from exc
        return hosts[srv.pk]

    for service in services_in_scope(server=server, member=member):
        assert service.server is not None
        try:
            plan.items.append(plan_service(service, host_of(service.server)))
        except _Unreachable as exc:
            plan.errors.append(PlanError(service.server.name, str(exc), service))
        except Exception as exc:
            log.warning("cannot plan %s", service_label(service), exc_info=True)
            plan.errors.append(PlanError(service.server.name, _message(exc), service))

    for srv in servers_in_scope(server=server, member=member):
        try:
            host = host_of(srv)
        except _Unreachable as exc:
            if not any(e.server == srv.name for e in plan.errors):
                plan.errors.append(PlanError(srv.name, str(exc)))
            continue
        for driver in drivers_for(srv):
            try:
                found = driver.orphans(srv, host, claimed_slugs(srv))
            except Exception as exc:
                log.warning("cannot list orphans of %s on %s", driver.kind, srv, exc_info=True)
                plan.errors.append(
                    PlanError(
                        srv.name,
                        _("cannot look for unmanaged %(kind)s: %(error)s")
                        % {"kind": driver.kind, "error": _message(exc)},
                    )
                )
                continue
            plan.orphans.extend(ServerOrphan(srv, orphan) for orphan in found)
    return plan


class _Unreachable(Exception):
    pass


# --- applying ---------------------------------------------------------------------------------


@contextmanager
def apply_lock() -> Iterator[None]:
    """One apply at a time on this installation. The lock dies with its process, so whoever
    holds it knows that any run still marked *running* belongs to a worker that was killed."""
    path = Path(settings.DATA_DIR) / "reconcile.lock"
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mark_interrupted(current_run_id: int) -> int:
    """Runs left *running* by a killed worker: interrupted, their running step failed."""
    now = timezone.now()
    stale = list(
        Run.objects.filter(status=Run.Status.RUNNING)
        .exclude(pk=current_run_id)
        .values_list("pk", flat=True)
    )
    for run_id in stale:
        RunStep.objects.filter(run_id=run_id, status=RunStep.Status.RUNNING).update(
            status=RunStep.Status.FAILED,
            finished_at=now,
            output=_("Interrupted: the worker stopped during this step. The next apply resumed."),
        )
        RunStep.objects.filter(run_id=run_id, status=RunStep.Status.PENDING).update(
            status=RunStep.Status.SKIPPED
        )
        Run.objects.filter(pk=run_id).update(
            status=Run.Status.INTERRUPTED,
            finished_at=now,
            error=_("The worker stopped before the end of this run."),
        )
    return len(stale)


def _secrets(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _secrets(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secrets(item)
    elif isinstance(value, str) and len(value) >= 4:
        yield value


def clean_output(output: str, service: Service) -> str:
    """Never a secret in a journal (drivers should not print them; this is the safety net),
    and only the end of a long output."""
    for secret in sorted(set(_secrets(service.credentials)), key=len, reverse=True):
        output = output.replace(secret, REDACTED)
    if len(output) > MAX_OUTPUT:
        output = "…\n" + output[-MAX_OUTPUT:]
    return output


def apply_plan(run_id: int, progress: Progress | None = None) -> Run:
    report = progress or (lambda done, total, message: None)
    with apply_lock():
        mark_interrupted(run_id)
        run = Run.objects.get(pk=run_id)
        Run.objects.filter(pk=run_id).update(status=Run.Status.RUNNING, started_at=timezone.now())
        try:
            failed = _apply(run, report)
        except Exception as exc:
            log.exception("run %s failed", run_id)
            Run.objects.filter(pk=run_id).update(
                status=Run.Status.FAILED, error=_message(exc)[:5000], finished_at=timezone.now()
            )
            raise
        Run.objects.filter(pk=run_id).update(
            status=Run.Status.FAILED if failed else Run.Status.SUCCEEDED,
            finished_at=timezone.now(),
        )
        run.refresh_from_db()
        return run


def _apply(run: Run, report: Progress) -> bool:
    scope = run.scope or {}
    plan = compute_plan(server=scope.get("server"), member=scope.get("member"))
    errors = [
        f"{e.server}: {service_label(e.service) if e.service else ''} {e.message}".strip()
        for e in plan.errors
    ]
    if errors:
        Run.objects.filter(pk=run.pk).update(error="\n".join(errors)[:5000])

    journal: list[tuple[ServicePlan, list[tuple[Step, RunStep]]]] = []
    position = 0
    for item in plan.changes:
        rows = []
        for step in item.steps:
            position += 1
            rows.append(
                (
                    step,
                    RunStep(
                        run=run,
                        position=position,
                        service=item.service,
                        service_label=item.label[:255],
                        server_name=item.server.name,
                        key=step.key[:100],
                        description=step.description[:500],
                    ),
                )
            )
        RunStep.objects.bulk_create([row for _step, row in rows])
        journal.append((item, rows))

    # A service that could not be checked fails the run; a server-wide problem (such as
    # failing to list what no service claims) is reported without failing it.
    total, done, failed = position, 0, any(e.service is not None for e in plan.errors)
    for item, rows in journal:
        host = item.host
        service_failed = False
        for step, row in rows:
            if service_failed:
                RunStep.objects.filter(pk=row.pk).update(status=RunStep.Status.SKIPPED)
                done += 1
                continue
            report(done, total, f"{item.label}: {step.description}")
            if not _run_step(step, row, host, item.service):
                service_failed = failed = True
            done += 1
        try:
            after = driver_for(item.service.kind).observe(item.service, host)
        except Exception:
            log.warning("cannot observe %s after the run", item.label, exc_info=True)
            continue
        record_observation(item.service, after)
        if not service_failed and after.state == Service.Observed.PRESENT:
            hand_over_credentials(item.service)
        if (
            not service_failed
            and item.service.wanted_state == Service.Wanted.ABSENT
            and after.state == Service.Observed.ABSENT
            # A driver may have recorded the removal in its last step, with its archive.
            and Service.objects.filter(pk=item.service.pk, removed_at__isnull=True).exists()
        ):
            from ronron.services.actions import record_removal

            archive = after.facts.get("archive") or item.service.archive_path or ""
            record_removal(item.service, archive_path=str(archive)[:500])
    # Credentials an earlier delivery could not hand over go now, even with nothing to change.
    for item in plan.items:
        if not item.steps and item.observed and item.observed.state == Service.Observed.PRESENT:
            hand_over_credentials(item.service)
    report(total, total, _("Done."))
    return failed


def hand_over_credentials(service: Service) -> None:
    """Credentials a driver made for the member (a new site's administrator) go to the member's
    contacts once the service runs (``services/handover.py``). Never fails the run: a failed
    delivery is recorded on the service and its credentials kept for the next attempt."""
    ask = getattr(driver_for(service.kind), "credentials_to_hand_over", None)
    if ask is None or not ask(service):
        return
    from ronron.services import handover

    try:
        handover.hand_over_credentials(service)
    except Exception:
        log.warning("cannot hand over the credentials of %s", service_label(service), exc_info=True)


def _run_step(step: Step, row: RunStep, host: Any, service: Service) -> bool:
    started = timezone.now()
    # Committed before the step runs: a worker killed now leaves the step marked running.
    RunStep.objects.filter(pk=row.pk).update(status=RunStep.Status.RUNNING, started_at=started)
    clock = time.monotonic()
    try:
        output, ok = step.run(host) or "", True
    except Exception as exc:
        output, ok = _message(exc), False
    RunStep.objects.filter(pk=row.pk).update(
        status=RunStep.Status.DONE if ok else RunStep.Status.FAILED,
        output=clean_output(str(output), service),
        finished_at=timezone.now(),
        duration_ms=int((time.monotonic() - clock) * 1000),
    )
    return ok
