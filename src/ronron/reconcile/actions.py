"""Changes the reconciler makes to the truth: asking for a run, adopting an orphan."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ronron.core import audit
from ronron.core.domains import normalize_domain
from ronron.core.validators import validate_slug
from ronron.drivers.base import driver_for
from ronron.fleet.models import Server
from ronron.members.models import Member
from ronron.reconcile.engine import claimed_slugs
from ronron.reconcile.models import Run
from ronron.services.kinds import KINDS
from ronron.services.models import Service


def _scope(server: str | None, member: str | None) -> dict[str, str]:
    scope = {}
    if server:
        scope["server"] = server
    if member:
        scope["member"] = member
    return scope


@transaction.atomic
def create_run(*, actor: Any, server: str | None = None, member: str | None = None) -> Run:
    """A run waiting to be applied (by ``apply_plan``, in the foreground or as a job)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    run = Run.objects.create(created_by=user, scope=_scope(server, member))
    audit.record("run.requested", actor=actor, obj=run, after={"scope": run.scope})
    return run


def start_apply(*, actor: Any, server: str | None = None, member: str | None = None) -> Run:
    """Queue a run as a background job; the console follows it on the run's page."""
    from ronron.jobs.progress import enqueue
    from ronron.reconcile.tasks import JOB_KIND, apply_task

    run = create_run(actor=actor, server=server, member=member)
    job = enqueue(
        apply_task,
        kind=JOB_KIND,
        label=_("Apply the plan (run %(number)s)") % {"number": run.pk},
        actor=actor,
        params={"run_id": run.pk},
    )
    Run.objects.filter(pk=run.pk).update(job=job)
    run.job = job
    return run


def normalise_domain(domain: str) -> str:
    if not (domain or "").strip():
        return ""
    try:
        return normalize_domain(domain)
    except ValidationError as exc:
        raise ValidationError({"domain": exc.messages}) from exc


def adopt_orphan(
    *, actor: Any, server: Server, kind: str, name: str, member: Member, domain: str = ""
) -> Service:
    """Attach what a driver found unclaimed on a server to a member, as a managed service.

    The driver is asked again first: only something it still reports as unmanaged is adopted.
    """
    try:
        validate_slug(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from exc
    try:
        driver = driver_for(kind)
    except LookupError as exc:
        raise ValidationError(
            {"kind": _("Ronron does not manage services of kind %(kind)s.") % {"kind": kind}}
        ) from exc
    ascii_domain = normalise_domain(domain)
    # Asking the server happens outside of the transaction: it may take a while.
    found = driver.orphans(server, server.host(), claimed_slugs(server))
    if not any(orphan.name == name for orphan in found):
        raise ValidationError(
            {
                "name": _(
                    "Nothing unmanaged called %(name)s was found on %(server)s: "
                    "it may have been adopted or removed already."
                )
                % {"name": name, "server": server.name}
            }
        )
    with transaction.atomic():
        service = Service(
            member=member,
            kind=kind,
            family=KINDS.get(kind, "other"),
            managed=True,
            server=server,
            slug=name,
            domain=ascii_domain,
            wanted_state=Service.Wanted.PRESENT,
        )
        # The kind is checked against the registered drivers above, not the model's choices.
        service.full_clean(exclude=["kind"])
        service.save()
        audit.record(
            "service.adopted",
            actor=actor,
            obj=service,
            member_id=member.pk,
            after=audit.snapshot(service),
        )
    return service
