"""The console: what would change, applying it in the background, the journal of each run,
and what the servers hold that no service claims."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ronron.core.forms import attach_errors
from ronron.core.permissions import staff_required
from ronron.fleet.models import Server
from ronron.members.models import Member
from ronron.reconcile.actions import adopt_orphan, start_apply
from ronron.reconcile.engine import compute_plan
from ronron.reconcile.forms import AdoptForm
from ronron.reconcile.models import Run, RunStep

PAGE_SIZE = 50
REFRESH_SECONDS = 2
UNFINISHED = {Run.Status.QUEUED, Run.Status.RUNNING}
# Statuses of runs and steps → the badge styles ronron.css already has.
BADGE = {
    "interrupted": "overdue",
    "done": "succeeded",
    "skipped": "muted",
    "pending": "queued",
}


def badge(status: str) -> str:
    return BADGE.get(status, status)


def _pending_page(request: HttpRequest, adopt_form: AdoptForm | None = None) -> HttpResponse:
    plan = compute_plan()
    orphans = [
        (
            o,
            adopt_form
            if adopt_form is not None
            and adopt_form.data.get("server") == o.server.name
            and adopt_form.data.get("kind") == o.orphan.kind
            and adopt_form.data.get("name") == o.orphan.name
            else AdoptForm(
                initial={"server": o.server.name, "kind": o.orphan.kind, "name": o.orphan.name},
                auto_id=f"adopt-{index}-%s",
            ),
        )
        for index, o in enumerate(plan.orphans)
    ]
    return render(
        request,
        "reconcile/pending.html",
        {
            "plan": plan,
            "groups": plan.by_server(),
            "orphans": orphans,
            "latest_run": Run.objects.first(),
        },
        status=400 if adopt_form is not None else 200,
    )


@staff_required
def pending(request: HttpRequest) -> HttpResponse:
    return _pending_page(request)


@staff_required
@require_POST
def apply(request: HttpRequest) -> HttpResponse:
    run = start_apply(actor=request.user)
    messages.success(request, _("The changes are being applied. This page follows the run."))
    return redirect("reconcile:run", pk=run.pk)


@staff_required
@require_POST
def adopt(request: HttpRequest) -> HttpResponse:
    form = AdoptForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        server = Server.objects.filter(name=data["server"]).first()
        member = Member.objects.filter(number=data["member"].strip()).first()
        if server is None:
            form.add_error(None, _("This server no longer exists."))
        elif member is None:
            form.add_error("member", _("No member has this number."))
        else:
            try:
                service = adopt_orphan(
                    actor=request.user,
                    server=server,
                    kind=data["kind"],
                    name=data["name"],
                    member=member,
                    domain=data["domain"],
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("%(name)s is now managed by Ronron, for %(member)s.")
                    % {"name": service.slug, "member": member.name},
                )
                return redirect("reconcile:pending")
    return _pending_page(request, form)


@staff_required
def run_list(request: HttpRequest) -> HttpResponse:
    runs = Run.objects.select_related("created_by")
    page = Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
    unfinished = any(run.status in UNFINISHED for run in page.object_list)
    for run in page.object_list:
        run.badge = badge(run.status)
    return render(
        request,
        "reconcile/runs.html",
        {
            "page_obj": page,
            "runs": page.object_list,
            "refresh": REFRESH_SECONDS if unfinished else 0,
        },
    )


@staff_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.select_related("created_by", "job"), pk=pk)
    steps = list(run.steps.all())
    for step in steps:
        step.badge = badge(step.status)  # type: ignore[attr-defined]
    return render(
        request,
        "reconcile/run.html",
        {
            "run": run,
            "run_badge": badge(run.status),
            "steps": steps,
            "counts": {
                status.label: sum(1 for s in steps if s.status == status)
                for status in RunStep.Status
                if any(s.status == status for s in steps)
            },
            "refresh": REFRESH_SECONDS if run.status in UNFINISHED else 0,
        },
    )
