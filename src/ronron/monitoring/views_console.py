"""The monitoring pages of the staff console: what is down now, checks and their history,
maintenances, incidents and members' status pages. Views stay thin: forms shape, actions change.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ronron.core.forms import attach_errors
from ronron.core.models import AuditEntry
from ronron.core.permissions import staff_required
from ronron.members.models import Member
from ronron.monitoring import actions
from ronron.monitoring.badges import Point, latency_chart
from ronron.monitoring.forms import (
    CheckFilterForm,
    CheckForm,
    DerivedCheckForm,
    IncidentForm,
    IncidentUpdateForm,
    MaintenanceForm,
    StatusPageForm,
)
from ronron.monitoring.models import (
    AlertEvent,
    Bucket,
    Check,
    Incident,
    Maintenance,
    StatusPage,
)
from ronron.monitoring.views_public import INCIDENT_CSS, STATUS_CSS, row

CHECKS_PER_PAGE = 100
CHANGES_PER_PAGE = 50
ALERTS_SHOWN = 20
HISTORY_SIZE = 30
LIST_PER_PAGE = 50
# No probe written for this long while checks are enabled: the prober is probably stopped.
PROBER_SILENCE = timedelta(minutes=5)
FAILING = (Check.Status.DOWN, Check.Status.DEGRADED)
CHECK_SECTIONS: list[tuple[Any, tuple[str, ...]]] = [
    (gettext_lazy("The check"), ("name", "kind", "target", "member")),
    (
        gettext_lazy("When and for whom"),
        ("interval_s", "timeout_s", "enabled", "public", "notify_member"),
    ),
    (
        gettext_lazy("HTTP(S) checks only"),
        (
            "expected_status",
            "keyword",
            "keyword_absent",
            "method",
            "verify_tls",
            "latency_warn_ms",
            "latency_max_ms",
        ),
    ),
    (gettext_lazy("DNS checks only"), ("record_type", "expected_values", "nameserver")),
    (gettext_lazy("Certificate checks only"), ("min_days",)),
]


def _history(obj: Any) -> Any:
    return AuditEntry.objects.filter(
        object_type=obj._meta.label_lower, object_id=str(obj.pk)
    ).order_by("-created_at")[:HISTORY_SIZE]


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    """What is down or slow now, per member and per server, and whether the prober runs."""
    from ronron.monitoring import maintenance

    now = timezone.now()
    enabled = Check.objects.filter(enabled=True)
    counts = dict(enabled.values_list("status").annotate(n=Count("pk")).order_by())
    failing = sorted(
        enabled.filter(status__in=FAILING).select_related("member", "service__server"),
        key=lambda c: (c.status != Check.Status.DOWN, c.status_since or now, c.name),
    )
    in_maintenance = maintenance.active_check_ids(now)
    by_member: dict[Any, list[Check]] = defaultdict(list)
    by_server: dict[str, list[Check]] = defaultdict(list)
    for check in failing:
        check.css = STATUS_CSS[check.status]  # type: ignore[attr-defined]
        check.in_maintenance = check.pk in in_maintenance  # type: ignore[attr-defined]
        by_member[check.member].append(check)
        server = check.service.server if check.service and check.service.server else None
        by_server[server.name if server else ""].append(check)
    last_probe = enabled.aggregate(last=Max("last_checked_at"))["last"]
    silent = bool(counts) and (last_probe is None or now - last_probe > PROBER_SILENCE)
    return render(
        request,
        "monitoring/overview.html",
        {
            "total": sum(counts.values()),
            "counts": [
                (status, label, STATUS_CSS[status], counts.get(status, 0))
                for status, label in Check.Status.choices
            ],
            "failing": failing,
            "by_member": sorted(
                by_member.items(), key=lambda item: item[0].number if item[0] else ""
            ),
            "by_server": sorted(by_server.items()),
            "in_maintenance": len(in_maintenance),
            "open_incidents": list(Incident.objects.filter(resolved_at__isnull=True)),
            "alerts_open": enabled.filter(alert_open=True).count(),
            "last_probe": last_probe,
            "silent": silent,
        },
    )


@staff_required
def check_list(request: HttpRequest) -> HttpResponse:
    form = CheckFilterForm(request.GET or None)
    found = Check.objects.select_related("member", "service")
    if form.is_bound:
        if form.is_valid():
            data = form.cleaned_data
            if data["q"]:
                found = found.filter(Q(name__icontains=data["q"]) | Q(target__icontains=data["q"]))
            if data["status"]:
                found = found.filter(status=data["status"])
            if data["kind"]:
                found = found.filter(kind=data["kind"])
            if data["member"] is not None:
                found = found.filter(member=data["member"])
            if data["origin"]:
                found = found.filter(service__isnull=data["origin"] == "manual")
        else:
            found = found.none()
    paginator = Paginator(found.order_by("member__number", "name", "pk"), CHECKS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    for check in page.object_list:
        check.css = STATUS_CSS.get(check.status, "unknown")
    return render(
        request,
        "monitoring/check_list.html",
        {
            "form": form,
            "page_obj": page,
            "checks": page.object_list,
            "found": paginator.count,
            "filtered": form.is_filtered(),
        },
    )


def _check(pk: int) -> Check:
    return get_object_or_404(Check.objects.select_related("member", "service__server"), pk=pk)


def latency_points(check: Check, start: Any, end: Any) -> list[Point]:
    buckets = Bucket.objects.filter(
        endpoint=check, resolution=Bucket.Resolution.MINUTE, start__gte=start, start__lt=end
    ).order_by("start")
    points = []
    for bucket in buckets:
        answered = bucket.probes - bucket.failures
        mean = bucket.latency_sum_ms / answered if answered > 0 else None
        slowest = bucket.latency_max_ms if answered > 0 else None
        points.append(Point(bucket.start, mean, bucket.failures > 0, slowest))
    return points


def hourly(points: list[Point]) -> list[dict[str, Any]]:
    """The last 24 hours per hour (local time): minutes probed, minutes failing, mean latency
    and the slowest probe — the chart's figures as a table."""
    hours: dict[Any, list[Point]] = defaultdict(list)
    for point in points:
        local = timezone.localtime(point.start).replace(minute=0, second=0, microsecond=0)
        hours[local].append(point)
    table = []
    for hour, group in sorted(hours.items(), reverse=True):
        known = [p.latency_ms for p in group if p.latency_ms is not None]
        slowest = [p.slowest_ms for p in group if p.slowest_ms is not None]
        table.append(
            {
                "hour": hour,
                "minutes": len(group),
                "failing": sum(1 for p in group if p.failed),
                "mean": round(sum(known) / len(known)) if known else None,
                "slowest": max(slowest) if slowest else None,
            }
        )
    return table


@staff_required
def check_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from ronron.monitoring import maintenance

    check = _check(pk)
    now = timezone.now()
    start = now - timedelta(hours=24)
    points = latency_points(check, start, now)
    changes = Paginator(check.changes.order_by("-at", "-pk"), CHANGES_PER_PAGE)
    page = changes.get_page(request.GET.get("page"))
    for change in page.object_list:
        change.css = STATUS_CSS.get(change.status, "unknown")
    badge_url = request.build_absolute_uri(reverse("status:badge", args=[check.pk]))
    return render(
        request,
        "monitoring/check_detail.html",
        {
            "check": check,
            "row": row(check),
            "css": STATUS_CSS.get(check.status, "unknown"),
            "chart": latency_chart(
                points, start, now, title=_("Response time over the last 24 hours")
            )
            if points
            else None,
            "hours": hourly(points),
            "page_obj": page,
            "changes": page.object_list,
            "alerts": check.alerts.all()[:ALERTS_SHOWN],
            "alert_kinds": dict(AlertEvent.Kind.choices),
            "maintenances": maintenance.intervals(check, now, now + timedelta(days=7)),
            "incidents": check.incidents.order_by("-started_at")[:10],
            "badge_url": badge_url,
            "history": _history(check),
            "page_object_type": "monitoring.check",
        },
    )


def _check_form_page(
    request: HttpRequest, form: Any, *, title: str, check: Check | None = None
) -> HttpResponse:
    sections = [
        (legend, [form[name] for name in names if name in form.fields])
        for legend, names in CHECK_SECTIONS
    ]
    return render(
        request,
        "monitoring/check_form.html",
        {
            "form": form,
            "sections": [s for s in sections if s[1]],
            "title": title,
            "check": check,
        },
        status=400 if form.errors else 200,
    )


@staff_required
def check_create(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {}
    member = request.GET.get("member", "")
    if member.isdigit():
        initial["member"] = int(member)
    form = CheckForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            check = actions.create_check(actor=request.user, **form.action_data())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Check created. The prober starts it within a minute."))
            return redirect("monitoring:check", pk=check.pk)
    return _check_form_page(request, form, title=_("New check"))


@staff_required
def check_edit(request: HttpRequest, pk: int) -> HttpResponse:
    check = _check(pk)
    form: Any
    if check.service_id is not None:
        form = DerivedCheckForm(request.POST or None, check=check)
    else:
        form = CheckForm(request.POST or None, initial=CheckForm.initial_for(check))
    if request.method == "POST" and form.is_valid():
        data = form.action_data()
        try:
            actions.update_check(check, actor=request.user, **data)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("monitoring:check", pk=check.pk)
    return _check_form_page(
        request, form, title=_("Change the check %(name)s") % {"name": check.name}, check=check
    )


def _confirm(
    request: HttpRequest, *, title: str, text: str, button: str, cancel: str
) -> HttpResponse:
    return render(
        request,
        "monitoring/confirm.html",
        {"title": title, "text": text, "button": button, "cancel": cancel},
    )


@staff_required
def check_delete(request: HttpRequest, pk: int) -> HttpResponse:
    check = _check(pk)
    if request.method == "POST":
        try:
            actions.delete_check(check, actor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("monitoring:check", pk=check.pk)
        messages.success(request, _("The check %(name)s is deleted.") % {"name": check.name})
        return redirect("monitoring:checks")
    return _confirm(
        request,
        title=_("Delete the check %(name)s?") % {"name": check.name},
        text=_(
            "Its history and availability figures go with it. To stop it for a while, "
            "pause it instead."
        ),
        button=_("Delete the check"),
        cancel=reverse("monitoring:check", args=[check.pk]),
    )


@staff_required
def maintenance_list(request: HttpRequest) -> HttpResponse:
    found = Maintenance.objects.select_related("member").annotate(listed=Count("checks"))
    page = Paginator(found.order_by("-starts_at", "-pk"), LIST_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "monitoring/maintenance_list.html",
        {"page_obj": page, "maintenances": page.object_list, "now": timezone.now()},
    )


def _maintenance_form_page(
    request: HttpRequest, form: Any, *, title: str, maintenance: Maintenance | None = None
) -> HttpResponse:
    return render(
        request,
        "monitoring/maintenance_form.html",
        {"form": form, "title": title, "maintenance": maintenance},
        status=400 if form.errors else 200,
    )


@staff_required
def maintenance_create(request: HttpRequest) -> HttpResponse:
    form = MaintenanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.create_maintenance(actor=request.user, **form.action_data())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Maintenance recorded."))
            return redirect("monitoring:maintenances")
    return _maintenance_form_page(request, form, title=_("New maintenance"))


@staff_required
def maintenance_edit(request: HttpRequest, pk: int) -> HttpResponse:
    maintenance = get_object_or_404(Maintenance, pk=pk)
    initial = {
        "title": maintenance.title,
        "starts_at": maintenance.starts_at,
        "ends_at": maintenance.ends_at,
        "recurrence": maintenance.recurrence,
        "duration_minutes": maintenance.duration_minutes or None,
        "member": maintenance.member_id,
        "checks": list(maintenance.checks.values_list("pk", flat=True)),
    }
    form = MaintenanceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_maintenance(maintenance, actor=request.user, **form.action_data())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("monitoring:maintenances")
    return _maintenance_form_page(
        request,
        form,
        title=_("Change the maintenance %(title)s") % {"title": maintenance.title},
        maintenance=maintenance,
    )


@staff_required
def maintenance_delete(request: HttpRequest, pk: int) -> HttpResponse:
    maintenance = get_object_or_404(Maintenance, pk=pk)
    if request.method == "POST":
        actions.delete_maintenance(maintenance, actor=request.user)
        messages.success(
            request, _("The maintenance %(title)s is deleted.") % {"title": maintenance.title}
        )
        return redirect("monitoring:maintenances")
    return _confirm(
        request,
        title=_("Delete the maintenance %(title)s?") % {"title": maintenance.title},
        text=_(
            "Availability figures are computed again without it: failures during its windows "
            "will count."
        ),
        button=_("Delete the maintenance"),
        cancel=reverse("monitoring:maintenance_edit", args=[maintenance.pk]),
    )


@staff_required
def incident_list(request: HttpRequest) -> HttpResponse:
    found = Incident.objects.select_related("member").order_by("-resolved_at", "-started_at", "-pk")
    page = Paginator(found, LIST_PER_PAGE).get_page(request.GET.get("page"))
    for incident in page.object_list:
        incident.css = INCIDENT_CSS.get(incident.status, "unknown")
    return render(
        request,
        "monitoring/incident_list.html",
        {
            "page_obj": page,
            "incidents": page.object_list,
            "open_incidents": [i for i in page.object_list if i.resolved_at is None],
        },
    )


@staff_required
def incident_create(request: HttpRequest) -> HttpResponse:
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = actions.open_incident(actor=request.user, **form.action_data())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Incident opened."))
            return redirect("monitoring:incident", pk=incident.pk)
    return render(
        request,
        "monitoring/incident_form.html",
        {"form": form, "title": _("New incident")},
        status=400 if form.errors else 200,
    )


def _incident_page(
    request: HttpRequest, incident: Incident, form: IncidentUpdateForm | None = None
) -> HttpResponse:
    incident.css = INCIDENT_CSS.get(incident.status, "unknown")  # type: ignore[attr-defined]
    form = form or IncidentUpdateForm(initial={"status": incident.status})
    return render(
        request,
        "monitoring/incident_detail.html",
        {
            "incident": incident,
            "updates": incident.updates.select_related("author").order_by("-at", "-pk"),
            "checks": incident.checks.select_related("member").order_by("name"),
            "form": form,
            "history": _history(incident),
            "page_object_type": "monitoring.incident",
        },
        status=400 if form.errors else 200,
    )


@staff_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident.objects.select_related("member"), pk=pk)
    return _incident_page(request, incident)


@require_POST
@staff_required
def incident_update(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident.objects.select_related("member"), pk=pk)
    form = IncidentUpdateForm(request.POST)
    if form.is_valid():
        try:
            actions.add_incident_update(incident, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Update published."))
            return redirect("monitoring:incident", pk=incident.pk)
    return _incident_page(request, incident, form)


@require_POST
@staff_required
def incident_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=pk)
    if incident.resolved_at is None:
        actions.resolve_incident(incident, actor=request.user)
        messages.success(request, _("Incident resolved."))
    return redirect("monitoring:incident", pk=incident.pk)


def _status_page_context(request: HttpRequest, member: Member) -> dict[str, Any]:
    page = StatusPage.objects.filter(member=member).first()
    private_url = (
        request.build_absolute_uri(reverse("status:member_private", args=[page.token]))
        if page is not None
        else ""
    )
    public_url = (
        request.build_absolute_uri(reverse("status:member", args=[member.number]))
        if page is not None and page.public
        else ""
    )
    checks = Check.objects.filter(member=member).order_by("name")
    return {
        "member": member,
        "page": page,
        "private_url": private_url,
        "public_url": public_url,
        "form": StatusPageForm(initial={"public": page.public if page else False}),
        "checks": checks,
        "history": _history(page) if page is not None else [],
        "page_object_type": "monitoring.statuspage",
    }


@staff_required
def status_page(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(Member, pk=pk)
    return render(request, "monitoring/status_page.html", _status_page_context(request, member))


@require_POST
@staff_required
def status_page_visibility(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(Member, pk=pk)
    form = StatusPageForm(request.POST)
    if form.is_valid():
        public = form.cleaned_data["public"]
        actions.set_status_page_public(member, public=public, actor=request.user)
        messages.success(
            request,
            _("The status page is public.") if public else _("The status page is private."),
        )
    return redirect("monitoring:status_page", pk=member.pk)


@require_POST
@staff_required
def status_page_link(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(Member, pk=pk)
    had_one = StatusPage.objects.filter(member=member).exists()
    actions.regenerate_status_page_token(member, actor=request.user)
    messages.success(
        request,
        _("New private link made: the old one no longer works.")
        if had_one
        else _("Private link made."),
    )
    return redirect("monitoring:status_page", pk=member.pk)
