"""The member portal's pages: a member's dashboard, services, dues, contacts and data.

Every view is ``@portal_login_required`` and gets its member through ``access.member_for``;
every query of the member's rows goes through ``core.scoping.scope`` as well. Views stay thin:
forms validate, actions change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from ronron.core.forms import attach_errors
from ronron.core.permissions import check_staff
from ronron.core.scoping import scope
from ronron.members import actions as member_actions
from ronron.members.models import Contact, Member, Membership
from ronron.monitoring.models import Check
from ronron.monitoring.views_public import availability_text
from ronron.portal import actions, exports
from ronron.portal.access import member_for, members_managed_by, portal_login_required
from ronron.portal.forms import ContactForm, ExportForm
from ronron.services.models import Service
from ronron.services.views_cloud import space_summary

REFRESH_SECONDS = 3


def _scoped(request: HttpRequest, queryset: QuerySet[Any], member: Member) -> QuerySet[Any]:
    """Rows of ``member`` that this account may see (the scoping helper is the second lock
    on the door ``member_for`` already guards)."""
    return scope(queryset.filter(member=member), request.user, member_path="member")


# --- home -------------------------------------------------------------------------------------


@require_GET
@portal_login_required
def home(request: HttpRequest) -> HttpResponse:
    members = list(members_managed_by(request.user).order_by("name"))
    if len(members) == 1:
        return redirect("portal:dashboard", number=members[0].number)
    return render(
        request,
        "portal/home.html",
        {"members": members, "is_staff": bool(request.user.is_staff)},
    )


# --- services and their availability ----------------------------------------------------------


@dataclass
class ServiceRow:
    service: Service
    label: str
    address: str
    state: str  # css modifier
    state_label: str
    checks: list[dict[str, Any]]
    # The site's address as a link (web services only), with the scheme it is served on.
    url: str = ""


def service_state(service: Service) -> tuple[str, str]:
    """(css modifier, what a volunteer reads) for a service's state."""
    if service.removed_at is not None:
        return "muted", _("Removed")
    if not service.managed:
        return "muted", _("Hosted elsewhere (recorded only)")
    if service.wanted_state == Service.Wanted.ABSENT:
        return "leaving", _("Being removed")
    if service.wanted_state == Service.Wanted.SUSPENDED:
        return "suspended", _("Suspended")
    if service.observed_state == Service.Observed.PRESENT:
        return "present", _("Running")
    if service.observed_state == Service.Observed.SUSPENDED:
        return "running", _("Being resumed")
    return "running", _("Being set up")


def _service_rows(
    request: HttpRequest, member: Member, *, removed: bool = False
) -> list[ServiceRow]:
    services = list(
        _scoped(request, Service.objects.all(), member)
        .filter(removed_at__isnull=not removed)
        .order_by("family", "kind", "domain", "pk")
    )
    checks: dict[int, list[dict[str, Any]]] = {}
    watched = scope(
        Check.objects.filter(service__in=services, enabled=True),
        request.user,
        member_path="service__member",
    ).order_by("name", "pk")
    for check in watched:
        figures = check.availability or {}
        checks.setdefault(check.service_id or 0, []).append(
            {
                "name": check.name,
                "status": check.status,
                "status_label": check.get_status_display(),
                "day": availability_text(figures.get("24h")),
                "month": availability_text(figures.get("30d")),
            }
        )
    rows = []
    for service in services:
        state, label = service_state(service)
        rows.append(
            ServiceRow(
                service=service,
                label=str(service.get_kind_display() or service.get_family_display()),
                address=service.domain or service.name,
                state=state,
                state_label=label,
                checks=checks.get(service.pk, []),
                url=_site_url(service),
            )
        )
    return rows


def _site_url(service: Service) -> str:
    if service.family != "web" or service.removed_at is not None or not service.domain:
        return ""
    tls = bool(((service.observed or {}).get("parts") or {}).get("tls"))
    return f"{'https' if tls else 'http'}://{service.domain}/"


# --- dues -------------------------------------------------------------------------------------

STATUS_CSS = {"not_called": "not_called", "called": "called", "paid": "paid",
              "overdue": "overdue", "cut_off": "cut_off"}  # fmt: skip


def _memberships(request: HttpRequest, member: Member) -> list[dict[str, Any]]:
    today = date.today()
    labels = dict(Membership.Status.choices)
    rows = []
    for membership in _scoped(request, Membership.objects.all(), member).order_by("-year"):
        status = membership.status_on(today)
        rows.append(
            {
                "year": membership.year,
                "amount": membership.amount,
                "called_on": membership.called_on,
                "paid_on": membership.paid_on,
                "payment_method": membership.get_payment_method_display(),
                "status": STATUS_CSS.get(status, "muted"),
                "status_label": labels.get(status, status),
                "unpaid": membership.paid_on is None,
            }
        )
    return rows


def _current_dues(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    year = date.today().year
    for row in rows:
        if row["year"] == year:
            return row
    # Dues of next year are called in December: the latest year is the one to show then.
    return rows[0] if rows and rows[0]["year"] > year else None


def _payment_help() -> dict[str, str]:
    organization = settings.RONRON.organization or {}
    return {
        "instructions": str(organization.get("payment_instructions") or ""),
        "email": str(organization.get("email") or ""),
        "website": str(organization.get("website") or ""),
    }


# --- pages ------------------------------------------------------------------------------------


@require_GET
@portal_login_required
def dashboard(request: HttpRequest, number: str) -> HttpResponse:
    member = member_for(request, number)
    memberships = _memberships(request, member)
    return render(
        request,
        "portal/dashboard.html",
        {
            "member": member,
            "services": _service_rows(request, member),
            "dues": _current_dues(memberships),
            "this_year": date.today().year,
            "contacts": _scoped(request, Contact.objects.all(), member).count(),
            "cloud_spaces": _cloud_spaces(request, member),
        },
    )


def _cloud_spaces(request: HttpRequest, member: Member) -> list[dict[str, Any]]:
    """The member's cloud spaces: accounts and storage, as last observed (read only)."""
    spaces = _scoped(request, Service.objects.filter(kind="cloud", managed=True), member)
    return [space_summary(s) for s in spaces.filter(removed_at__isnull=True).order_by("pk")]


@require_GET
@portal_login_required
def services(request: HttpRequest, number: str) -> HttpResponse:
    member = member_for(request, number)
    return render(
        request,
        "portal/services.html",
        {
            "member": member,
            "services": _service_rows(request, member),
            "removed": _service_rows(request, member, removed=True),
        },
    )


@require_GET
@portal_login_required
def dues(request: HttpRequest, number: str) -> HttpResponse:
    member = member_for(request, number)
    memberships = _memberships(request, member)
    return render(
        request,
        "portal/dues.html",
        {
            "member": member,
            "memberships": memberships,
            "current": _current_dues(memberships),
            "payment": _payment_help(),
        },
    )


# --- contacts ---------------------------------------------------------------------------------


def _contact_data(form: ContactForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "email": data["email"],
        "phone": data["phone"],
        "roles": list(data["roles"]),
    }


def _show_contact_errors(form: ContactForm, error: ValidationError) -> None:
    if hasattr(error, "error_dict") and NON_FIELD_ERRORS in error.error_dict:
        duplicates = [e for e in error.error_dict[NON_FIELD_ERRORS] if e.code == "unique_together"]
        if duplicates:
            form.add_error("email", _("Another contact of yours already has this address."))
            return
    attach_errors(form, error)


def _contact_of(request: HttpRequest, member: Member, contact_pk: int) -> Contact:
    return get_object_or_404(_scoped(request, Contact.objects.all(), member), pk=contact_pk)


@require_GET
@portal_login_required
def contacts(request: HttpRequest, number: str) -> HttpResponse:
    member = member_for(request, number)
    return render(
        request,
        "portal/contacts.html",
        {
            "member": member,
            "contacts": _scoped(request, Contact.objects.all(), member).order_by("name"),
        },
    )


def _contact_form_page(
    request: HttpRequest, member: Member, form: ContactForm, *, title: str, contact: Contact | None
) -> HttpResponse:
    return render(
        request,
        "portal/contact_form.html",
        {"member": member, "form": form, "title": title, "contact": contact},
    )


@require_http_methods(["GET", "POST"])
@portal_login_required
def contact_add(request: HttpRequest, number: str) -> HttpResponse:
    member = member_for(request, number)
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member_actions.add_contact(member, actor=request.user, **_contact_data(form))
        except ValidationError as exc:
            _show_contact_errors(form, exc)
        else:
            messages.success(request, _("Contact added."))
            return redirect("portal:contacts", number=member.number)
    return _contact_form_page(request, member, form, title=_("Add a contact"), contact=None)


@require_http_methods(["GET", "POST"])
@portal_login_required
def contact_edit(request: HttpRequest, number: str, contact_pk: int) -> HttpResponse:
    member = member_for(request, number)
    contact = _contact_of(request, member, contact_pk)
    initial = {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "roles": contact.role_list,
    }
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            member_actions.update_contact(contact, actor=request.user, **_contact_data(form))
        except ValidationError as exc:
            _show_contact_errors(form, exc)
        else:
            messages.success(request, _("Contact saved."))
            return redirect("portal:contacts", number=member.number)
    title = _("Change the contact %(name)s") % {"name": contact.name}
    return _contact_form_page(request, member, form, title=title, contact=contact)


@require_http_methods(["GET", "POST"])
@portal_login_required
def contact_remove(request: HttpRequest, number: str, contact_pk: int) -> HttpResponse:
    member = member_for(request, number)
    contact = _contact_of(request, member, contact_pk)
    error = ""
    if request.method == "POST":
        try:
            actions.remove_member_contact(contact, actor=request.user)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, _("Contact %(name)s removed.") % {"name": contact.name})
            return redirect("portal:contacts", number=member.number)
    return render(
        request,
        "portal/contact_remove.html",
        {"member": member, "contact": contact, "error": error},
        status=400 if error else 200,
    )


# --- data -------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@portal_login_required
def data(request: HttpRequest, number: str) -> HttpResponse:
    member = member_for(request, number)
    if request.method == "POST":
        if ExportForm(request.POST).is_valid():
            exports.start_member_export(
                member, actor=request.user, language=getattr(request, "LANGUAGE_CODE", None)
            )
            messages.success(
                request,
                _("The export has started. This page shows when it is ready to download."),
            )
        return redirect("portal:data", number=member.number)
    jobs = list(exports.export_jobs(member).order_by("-created_at", "-pk")[:5])
    rows = [{"job": job, "ready": exports.export_file(job, member) is not None} for job in jobs]
    unfinished = any(not job.is_finished for job in jobs)
    return render(
        request,
        "portal/data.html",
        {
            "member": member,
            "rows": rows,
            "form": ExportForm(),
            "refresh": REFRESH_SECONDS if unfinished else 0,
        },
    )


def _download_member(request: HttpRequest, number: str) -> Member | HttpResponseBase:
    """Managers of the member, and staff (through the console's rule), may download."""
    if request.user.is_authenticated and request.user.is_staff:
        refusal = check_staff(request)
        if refusal is not None:
            return refusal
        return get_object_or_404(scope(Member.objects.all(), request.user), number=number)
    return member_for(request, number)


@require_GET
@portal_login_required
def data_download(request: HttpRequest, number: str, job_id: int) -> HttpResponseBase:
    found = _download_member(request, number)
    if not isinstance(found, Member):
        return found
    member = found
    job = get_object_or_404(exports.export_jobs(member), pk=job_id)
    path = exports.export_file(job, member)
    if path is None:
        raise Http404("no such export")
    try:
        exports.verify_export(path)
    except exports.ExportError as exc:
        # Offered only while it still matches what was verified when it was made.
        raise Http404("the export does not read back") from exc
    response = FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type="application/zip"
    )
    response["Cache-Control"] = "no-store"
    return response
