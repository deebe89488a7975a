"""The server pages of the staff console. Views stay thin: forms shape, actions change."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ronron.core.forms import attach_errors
from ronron.core.permissions import staff_required
from ronron.fleet import actions
from ronron.fleet.forms import NextcloudAccessForm, ServerForm
from ronron.fleet.hosts import HostError
from ronron.fleet.models import ROLES, Server
from ronron.fleet.nextcloud_access import access_of, set_nextcloud_access
from ronron.fleet.placement import room

LIVE = Q(services__managed=True, services__removed_at__isnull=True)


def _role_labels(server: Server) -> list[str]:
    return [str(ROLES.get(r, r)) for r in server.role_list]


@staff_required
def server_list(request: HttpRequest) -> HttpResponse:
    servers = list(Server.objects.annotate(service_count=Count("services", filter=LIVE)))
    for server in servers:
        server.role_labels = _role_labels(server)  # type: ignore[attr-defined]
        server.room = room(server)  # type: ignore[attr-defined]
    return render(request, "fleet/list.html", {"servers": servers})


def _nextcloud_form(server: Server, data: Any = None) -> NextcloudAccessForm:
    access = access_of(server)
    return NextcloudAccessForm(
        data,
        initial={
            "url": (server.layout or {}).get("nextcloud_url", ""),
            "user": access.user if access else "",
        },
        password_recorded=access is not None,
    )


def _detail_page(
    request: HttpRequest, server: Server, nextcloud_form: NextcloudAccessForm | None = None
) -> HttpResponse:
    services = (
        server.services.filter(removed_at__isnull=True).select_related("member").order_by("slug")
    )
    cloud = "cloud" in server.role_list
    access = access_of(server) if cloud else None
    return render(
        request,
        "fleet/detail.html",
        {
            "server": server,
            "role_labels": _role_labels(server),
            "room": room(server),
            "services": services,
            "key_recorded": bool((server.ssh_credentials or {}).get("private_key")),
            "nextcloud": access,
            "nextcloud_refused": parse_datetime(access.refused_at)
            if access and access.refused_at
            else None,
            "nextcloud_form": (nextcloud_form or _nextcloud_form(server)) if cloud else None,
        },
        status=400 if nextcloud_form is not None and nextcloud_form.errors else 200,
    )


@staff_required
def server_detail(request: HttpRequest, name: str) -> HttpResponse:
    return _detail_page(request, get_object_or_404(Server, name=name))


@require_POST
@staff_required
def server_nextcloud(request: HttpRequest, name: str) -> HttpResponse:
    """Record how Ronron logs into the server's Nextcloud: Nextcloud is asked once first, and
    credentials it refuses (or a Nextcloud that does not answer) are not stored."""
    server = get_object_or_404(Server, name=name)
    form = _nextcloud_form(server, request.POST)
    if form.is_valid():
        access = access_of(server)
        password = form.cleaned_data["password"]
        if not password and access is not None and access.refused_at:
            form.add_error(
                "password",
                _("Nextcloud refused the recorded password: give a new app password."),
            )
        else:
            try:
                set_nextcloud_access(
                    server,
                    actor=request.user,
                    url=form.cleaned_data["url"],
                    user=form.cleaned_data["user"],
                    password=password or (access.password if access else ""),
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Nextcloud answered: Ronron logs into it with these credentials from now."),
                )
                return redirect("fleet:detail", name=server.name)
    return _detail_page(request, server, form)


def _form_page(
    request: HttpRequest, form: ServerForm, *, title: str, server: Server | None = None, submit: str
) -> HttpResponse:
    return render(
        request,
        "fleet/form.html",
        {"form": form, "title": title, "server": server, "submit": submit},
    )


@staff_required
def server_create(request: HttpRequest) -> HttpResponse:
    form = ServerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            server = actions.create_server(actor=request.user, **form.action_data())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Server %(server)s added.") % {"server": server})
            return redirect("fleet:detail", name=server.name)
    return _form_page(request, form, title=_("New server"), submit=_("Add the server"))


@staff_required
def server_edit(request: HttpRequest, name: str) -> HttpResponse:
    server = get_object_or_404(Server, name=name)
    key_recorded = bool((server.ssh_credentials or {}).get("private_key"))
    form = ServerForm(
        request.POST or None, initial=ServerForm.initial_for(server), key_recorded=key_recorded
    )
    if request.method == "POST" and form.is_valid():
        try:
            server = actions.update_server(server, actor=request.user, **form.action_data())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("fleet:detail", name=server.name)
    return _form_page(
        request,
        form,
        title=_("Edit the server %(server)s") % {"server": server},
        server=server,
        submit=_("Save"),
    )


@require_POST
@staff_required
def server_refresh_usage(request: HttpRequest, name: str) -> HttpResponse:
    server = get_object_or_404(Server, name=name)
    try:
        actions.record_usage(server, actor=request.user)
    except HostError as exc:
        messages.error(
            request,
            _(
                "Ronron could not reach the server %(server)s; nothing was changed. "
                "Details: %(error)s"
            )
            % {"server": server, "error": exc},
        )
    else:
        messages.success(request, _("Usage of %(server)s measured.") % {"server": server})
    return redirect("fleet:detail", name=server.name)
