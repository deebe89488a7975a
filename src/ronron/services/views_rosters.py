"""The roster and list pages of the staff console. Views stay thin: forms shape, actions change;
the lists that follow a roster are brought to it in the background once a change is committed."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import StrIndex, Substr
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ronron.core.forms import attach_errors
from ronron.core.models import AuditEntry
from ronron.core.permissions import staff_required
from ronron.core.scoping import scope
from ronron.services import actions_rosters, rosters
from ronron.services.forms_rosters import (
    AddressSearchForm,
    FollowForm,
    ListFilterForm,
    RosterForm,
    UploadForm,
)
from ronron.services.models import Roster, RosterSync, Service

ADDRESSES_PER_PAGE = 100
LISTS_PER_PAGE = 100
RECENT_SYNCS = 10
HISTORY_SIZE = 30
OUTCOMES = dict(RosterSync.Outcome.choices)


def source_label(roster: Roster) -> Any:
    source = rosters.SOURCES.get(roster.source)
    return source.label if source is not None else roster.source


def addresses(roster: Roster) -> list[rosters.Entry] | None:
    """The roster's current addresses; None when its source is not registered any more."""
    try:
        return rosters.entries(roster)
    except LookupError:
        return None


def with_last_sync(services: QuerySet[Service]) -> QuerySet[Service]:
    """Each service with the outcome, times and message of its last roster sync."""
    last = RosterSync.objects.filter(service=OuterRef("pk")).order_by("-started_at", "-id")
    return services.annotate(
        sync_outcome=Subquery(last.values("outcome")[:1]),
        sync_started=Subquery(last.values("started_at")[:1]),
        sync_finished=Subquery(last.values("finished_at")[:1]),
        sync_message=Subquery(last.values("message")[:1]),
    )


def _roster(pk: int) -> Roster:
    return get_object_or_404(Roster.objects.select_related("member"), pk=pk)


def _live_following(roster: Roster) -> QuerySet[Service]:
    return Service.objects.filter(roster=roster, removed_at__isnull=True)


def _form_page(
    request: HttpRequest, form: Any, *, title: str, submit: str, roster: Roster | None = None
) -> HttpResponse:
    return render(
        request,
        "services/roster_form.html",
        {"form": form, "title": title, "submit": submit, "roster": roster},
        status=400 if form.errors else 200,
    )


@staff_required
def roster_list(request: HttpRequest) -> HttpResponse:
    found = Roster.objects.select_related("member").annotate(
        following=Count("services", filter=Q(services__removed_at__isnull=True))
    )
    rows = []
    for roster in found.order_by("name"):
        current = addresses(roster)
        rows.append(
            {
                "roster": roster,
                "source": source_label(roster),
                "count": None if current is None else len(current),
            }
        )
    return render(request, "services/roster_list.html", {"rows": rows})


@staff_required
def roster_create(request: HttpRequest) -> HttpResponse:
    form = RosterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            roster = actions_rosters.create_roster(actor=request.user, **form.action_data())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            if roster.source == actions_rosters.UPLOAD:
                messages.success(request, _("Roster created. Now send its addresses."))
                return redirect("rosters:upload", pk=roster.pk)
            messages.success(request, _("Roster created."))
            return redirect("rosters:detail", pk=roster.pk)
    return _form_page(request, form, title=_("New roster"), submit=_("Create the roster"))


@staff_required
def roster_edit(request: HttpRequest, pk: int) -> HttpResponse:
    roster = _roster(pk)
    form = RosterForm(request.POST or None, initial=RosterForm.initial_for(roster), editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            actions_rosters.update_roster(roster, actor=request.user, **form.action_data())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("rosters:detail", pk=roster.pk)
    return _form_page(
        request,
        form,
        title=_("Edit the roster %(name)s") % {"name": roster.name},
        submit=_("Save"),
        roster=roster,
    )


@staff_required
def roster_delete(request: HttpRequest, pk: int) -> HttpResponse:
    roster = _roster(pk)
    if request.method == "POST":
        try:
            actions_rosters.delete_roster(roster, actor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("rosters:detail", pk=roster.pk)
        messages.success(request, _("The roster %(name)s is deleted.") % {"name": roster.name})
        return redirect("rosters:list")
    return render(
        request,
        "services/roster_delete.html",
        {"roster": roster, "following": list(_live_following(roster).select_related("member"))},
    )


@staff_required
def roster_upload(request: HttpRequest, pk: int) -> HttpResponse:
    roster = _roster(pk)
    if roster.source != actions_rosters.UPLOAD:
        messages.error(
            request,
            _("This roster takes its addresses from %(source)s, not from a file.")
            % {"source": source_label(roster)},
        )
        return redirect("rosters:detail", pk=roster.pk)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        entries = form.cleaned_data["entries"]
        try:
            actions_rosters.replace_uploaded_addresses(roster, entries, actor=request.user)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(count)s addresses saved. The lists that follow this roster are updated.")
                % {"count": len(entries)},
            )
            return redirect("rosters:detail", pk=roster.pk)
    return render(
        request,
        "services/roster_upload.html",
        {"roster": roster, "form": form, "current": len(roster.uploaded or [])},
        status=400 if form.errors else 200,
    )


@staff_required
def roster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    roster = _roster(pk)
    current = addresses(roster)
    search = AddressSearchForm(request.GET or None)
    shown = current or []
    query = ""
    if search.is_valid() and search.cleaned_data["q"]:
        query = search.cleaned_data["q"].strip().lower()
        shown = [e for e in shown if query in e.email or query in e.name.lower()]
    page = Paginator(shown, ADDRESSES_PER_PAGE).get_page(request.GET.get("page"))
    following = with_last_sync(_live_following(roster).select_related("member")).order_by(
        "domain", "pk"
    )
    history = AuditEntry.objects.filter(
        object_type="services.roster", object_id=str(roster.pk)
    ).order_by("-created_at")[:HISTORY_SIZE]
    return render(
        request,
        "services/roster_detail.html",
        {
            "roster": roster,
            "source": source_label(roster),
            "known_source": current is not None,
            "total": len(current or []),
            "search": search,
            "query": query,
            "found": len(shown),
            "page_obj": page,
            "entries": page.object_list,
            "following": following,
            "outcomes": OUTCOMES,
            "history": history,
        },
    )


def roster_panel(service: Service) -> dict[str, Any]:
    """What the service page shows about rosters, for the kinds that can follow one."""
    if service.kind not in actions_rosters.FOLLOWING_KINDS:
        return {}
    can_follow = service.managed and service.removed_at is None
    return {
        "roster_panel": True,
        "roster_form": FollowForm(initial={"roster": service.roster_id}) if can_follow else None,
        "roster_syncs": list(service.syncs.select_related("roster")[:RECENT_SYNCS]),
    }


@require_POST
@staff_required
def service_follow(request: HttpRequest, pk: int) -> HttpResponse:
    service = get_object_or_404(Service, pk=pk)
    form = FollowForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, str(message))
        return redirect("services:detail", pk=service.pk)
    roster = form.cleaned_data["roster"]
    followed_before = service.roster_id is not None
    try:
        actions_rosters.follow_roster(service, roster, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        if roster is None:
            messages.success(
                request,
                _(
                    "Recorded: this service follows no roster any more. At the next apply, "
                    "the roster's addresses leave it; addresses added by hand stay."
                ),
            )
        elif followed_before:
            messages.success(
                request,
                _(
                    "Recorded: this service now follows the roster %(name)s. Its members "
                    "change in a few seconds."
                )
                % {"name": roster.name},
            )
        else:
            messages.success(
                request,
                _("Recorded: this service will follow the roster %(name)s from the next apply.")
                % {"name": roster.name},
            )
    return redirect("services:detail", pk=service.pk)


def list_domain(address: str) -> str:
    return address.rpartition("@")[2]


@staff_required
def list_index(request: HttpRequest) -> HttpResponse:
    every = scope(
        Service.objects.filter(kind="list", managed=True, removed_at__isnull=True),
        request.user,
        member_path="member",
    )
    domains = sorted({list_domain(d) for d in every.values_list("domain", flat=True) if d})
    form = ListFilterForm(request.GET or None, domains=domains)
    found = every
    if form.is_bound:
        if form.is_valid():
            data = form.cleaned_data
            if data["domain"]:
                found = found.filter(domain__iendswith="@" + data["domain"])
            if data["member"] is not None:
                found = found.filter(member=data["member"])
            if data["q"]:
                q = data["q"].strip()
                found = found.filter(Q(domain__icontains=q) | Q(spec__subject__icontains=q))
        else:
            found = found.none()
    # Grouped by list domain (the robot): the part after the "@" of the list's address.
    robot = Substr("domain", StrIndex("domain", Value("@")) + 1)
    ordered = with_last_sync(found.select_related("member", "roster")).annotate(robot=robot)
    paginator = Paginator(ordered.order_by("robot", "domain", "pk"), LISTS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    for service in page.object_list:
        facts = (service.observed or {}).get("facts") or {}
        service.subscribers = facts.get("subscribers")
        service.subject = (service.spec or {}).get("subject", "")
    member = form.cleaned_data.get("member") if form.is_bound and form.is_valid() else None
    return render(
        request,
        "services/list_index.html",
        {
            "form": form,
            "page_obj": page,
            "lists": page.object_list,
            "found": paginator.count,
            "total": every.count(),
            "filtered": form.is_filtered(),
            "member": member,
            "outcomes": OUTCOMES,
        },
    )
