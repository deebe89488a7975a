"""A member's service requests in the portal (/portal/<number>/requests/): the catalog, a
request form per entry, the member's requests and their history. Every view gets its member
through ``portal.access.member_for``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ronron.core.forms import attach_errors
from ronron.core.models import AuditEntry
from ronron.core.scoping import scope
from ronron.members.models import Member
from ronron.portal import actions_requests as actions
from ronron.portal.access import member_for, portal_login_required
from ronron.portal.forms_requests import PortalRequestForm
from ronron.portal.models import Offer, ServiceRequest
from ronron.services.forms import tech_email

# What happened to a request, in the words a member reads (the hoster's team acts as one).
EVENTS: dict[str, Any] = {
    "service_request.created": gettext_lazy("Request sent"),
    "service_request.approved": gettext_lazy("Accepted: the service is being set up"),
    "service_request.refused": gettext_lazy("Not accepted"),
    "service_request.cancelled": gettext_lazy("Cancelled"),
    "service_request.done": gettext_lazy("Ready"),
}


def available_offers() -> list[Offer]:
    kinds = set(actions.provisioned_kinds())
    return [o for o in Offer.objects.filter(available=True) if o.kind in kinds]


def _requests_of(request: HttpRequest, member: Member) -> QuerySet[ServiceRequest]:
    # ``member_for`` already guards the door; the scoping helper is the second lock.
    return scope(
        ServiceRequest.objects.filter(member=member).select_related("offer", "service"),
        request.user,
        member_path="member",
    )


def _request_for(request: HttpRequest, member: Member, pk: int) -> ServiceRequest:
    return get_object_or_404(_requests_of(request, member), pk=pk)


def member_history(service_request: ServiceRequest) -> list[dict[str, Any]]:
    entries = AuditEntry.objects.filter(
        object_type="portal.servicerequest",
        object_id=str(service_request.pk),
        action__in=list(EVENTS),
    ).order_by("created_at", "pk")
    return [
        {
            "when": entry.created_at,
            "what": EVENTS[entry.action],
            "reason": (entry.after or {}).get("reason", "")
            if entry.action == "service_request.refused"
            else "",
        }
        for entry in entries
    ]


@portal_login_required
def index(request: HttpRequest, number: str) -> HttpResponse:
    member = member_for(request, number)
    requests = list(_requests_of(request, member)[:100])
    for item in requests:
        item.shown_domain = actions.shown_domain(item.domain)  # type: ignore[attr-defined]
    return render(
        request,
        "portal/requests/index.html",
        {
            "member": member,
            "offers": available_offers(),
            "requests": requests,
            "may_ask": member.status not in (Member.Status.LEAVING, Member.Status.LEFT),
        },
    )


def _fields(form: PortalRequestForm) -> dict[str, Any]:
    return {
        "main_fields": [form[n] for n in form.fields if n in {"domain", "aliases"}],
        "kind_fields": [form[n] for n in form.fields if n not in {"domain", "aliases", "message"}],
        "message_field": form["message"],
    }


@portal_login_required
def ask(request: HttpRequest, number: str, offer_id: int) -> HttpResponse:
    member = member_for(request, number)
    offer = get_object_or_404(Offer, pk=offer_id)
    if not actions.offer_is_available(offer):
        messages.error(request, _("“%(offer)s” is not offered at the moment.") % {"offer": offer})
        return redirect("portal:portal_requests:index", number=member.number)
    form = PortalRequestForm(
        request.POST or None,
        kind=offer.kind,
        initial={"admin_email": tech_email(member)} if offer.kind == "wordpress" else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            made = actions.create_request(
                member,
                offer,
                domain=form.cleaned_data.get("domain", ""),
                details=form.details(member),
                message=form.cleaned_data.get("message", ""),
                actor=request.user,
            )
        except ValidationError as exc:
            attach_errors(form, _for_form(exc))
        else:
            if made.status == ServiceRequest.Status.PENDING:
                messages.success(request, _("Your request is sent. An admin will look at it soon."))
            else:
                messages.success(
                    request,
                    _(
                        "Your request is accepted: the service is being set up. We will tell you "
                        "by mail when it is ready."
                    ),
                )
            return redirect("portal:portal_requests:detail", number=member.number, pk=made.pk)
    return render(
        request,
        "portal/requests/ask.html",
        {"member": member, "offer": offer, "form": form, **_fields(form)},
        status=400 if form.errors else 200,
    )


def _for_form(error: ValidationError) -> ValidationError:
    """Settings the driver names after the spec (``type``) shown under the form's names."""
    if hasattr(error, "error_dict") and "type" in error.error_dict:
        renamed = dict(error.error_dict)
        renamed["list_type"] = renamed.pop("type")
        return ValidationError(renamed)
    return error


@portal_login_required
def detail(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    member = member_for(request, number)
    service_request = _request_for(request, member, pk)
    return render(
        request,
        "portal/requests/detail.html",
        {
            "member": member,
            "item": service_request,
            "shown_domain": actions.shown_domain(service_request.domain),
            "history": member_history(service_request),
            "may_cancel": service_request.status == ServiceRequest.Status.PENDING,
        },
    )


@require_POST
@portal_login_required
def cancel(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    member = member_for(request, number)
    service_request = _request_for(request, member, pk)
    try:
        actions.cancel_request(service_request, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Your request is cancelled."))
    return redirect("portal:portal_requests:detail", number=member.number, pk=pk)
