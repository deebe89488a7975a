"""The console's side of the portal (staff only): the catalog, the queue of service requests,
and the help queue."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ronron.core.forms import attach_errors
from ronron.core.models import AuditEntry
from ronron.core.permissions import staff_required
from ronron.portal import actions_help, actions_requests
from ronron.portal.forms_help import HelpMessageForm
from ronron.portal.forms_requests import OfferForm, RefuseForm
from ronron.portal.models import HelpRequest, Offer, ServiceRequest
from ronron.portal.views_help import conversation_context, queue
from ronron.services.kinds import KIND_LABELS
from ronron.services.views_cloud import request_details, waits_for_licence

DECIDED_SHOWN = 50
HISTORY_SIZE = 30
# The settings of a request, in the console's words.
DETAIL_LABELS: dict[str, Any] = {
    "aliases": gettext_lazy("Other names of the site"),
    "title": gettext_lazy("Site title"),
    "admin_email": gettext_lazy("Administrator's e-mail"),
    "admin_user": gettext_lazy("Administrator's login"),
    "language": gettext_lazy("Language"),
    "subject": gettext_lazy("Subject of the list"),
    "type": gettext_lazy("Type of list"),
    "owners": gettext_lazy("Owners of the list"),
    "limits": gettext_lazy("Limits"),
    "allowance": gettext_lazy("Storage allowance"),
    "accounts": gettext_lazy("Accounts"),
    "apps": gettext_lazy("Apps"),
    "name": gettext_lazy("Name of the work group"),
}


def shown_details(details: dict[str, Any]) -> list[tuple[Any, str]]:
    rows = []
    for key, value in sorted(request_details(details).items()):
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        elif isinstance(value, dict):
            value = ", ".join(f"{k} = {v}" for k, v in sorted(value.items()))
        rows.append((DETAIL_LABELS.get(key, key), str(value)))
    return rows


# --- catalog ------------------------------------------------------------------------------


@staff_required
def catalog(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("defaults"):
        created = actions_requests.create_default_offers(actor=request.user)
        messages.success(
            request,
            _("%(count)d entries added to the catalog. Read and adjust them.")
            % {"count": len(created)},
        )
        return redirect("desk:catalog")
    offers = list(Offer.objects.all())
    provisioned = set(actions_requests.provisioned_kinds())
    for offer in offers:
        offer.kind_label = KIND_LABELS.get(offer.kind, offer.kind)  # type: ignore[attr-defined]
        offer.provisioned = offer.kind in provisioned  # type: ignore[attr-defined]
    missing = sorted(provisioned - {o.kind for o in offers})
    return render(
        request,
        "desk/catalog.html",
        {"offers": offers, "missing": [KIND_LABELS.get(k, k) for k in missing]},
    )


@staff_required
def catalog_add(request: HttpRequest) -> HttpResponse:
    form = OfferForm(request.POST or None, initial={"needs_approval": True, "available": True})
    if request.method == "POST" and form.is_valid():
        try:
            actions_requests.create_offer(
                actor=request.user, kind=form.cleaned_data["kind"], **form.data_for_action()
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Added to the catalog."))
            return redirect("desk:catalog")
    return render(
        request,
        "desk/offer_form.html",
        {"form": form, "offer": None},
        status=400 if form.errors else 200,
    )


@staff_required
def catalog_edit(request: HttpRequest, pk: int) -> HttpResponse:
    offer = get_object_or_404(Offer, pk=pk)
    initial = {name: getattr(offer, name) for name in actions_requests.OFFER_FIELDS}
    form = OfferForm(request.POST or None, offer=offer, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions_requests.update_offer(offer, actor=request.user, **form.data_for_action())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("desk:catalog")
    return render(
        request,
        "desk/offer_form.html",
        {"form": form, "offer": offer, "kind_label": KIND_LABELS.get(offer.kind, offer.kind)},
        status=400 if form.errors else 200,
    )


# --- service requests ---------------------------------------------------------------------


def _with_domain(items: list[ServiceRequest]) -> list[ServiceRequest]:
    for item in items:
        item.shown_domain = actions_requests.shown_domain(item.domain)  # type: ignore[attr-defined]
        item.waits_for_licence = (  # type: ignore[attr-defined]
            waits_for_licence(item.offer.kind, item.details or {})
            if item.status == ServiceRequest.Status.PENDING
            else ""
        )
    return items


@staff_required
def request_queue(request: HttpRequest) -> HttpResponse:
    base = ServiceRequest.objects.select_related("member", "offer", "service")
    pending = base.filter(status=ServiceRequest.Status.PENDING).order_by("created_at", "pk")
    others = base.exclude(status=ServiceRequest.Status.PENDING).order_by("-updated_at", "-pk")
    return render(
        request,
        "desk/requests.html",
        {
            "pending": _with_domain(list(pending)),
            "others": _with_domain(list(others[:DECIDED_SHOWN])),
        },
    )


def _request_page(
    request: HttpRequest, item: ServiceRequest, refuse_form: RefuseForm | None = None
) -> HttpResponse:
    pending = item.status == ServiceRequest.Status.PENDING
    history = AuditEntry.objects.filter(
        object_type="portal.servicerequest", object_id=str(item.pk)
    ).order_by("-created_at", "-pk")[:HISTORY_SIZE]
    return render(
        request,
        "desk/request_detail.html",
        {
            "item": item,
            "shown_domain": actions_requests.shown_domain(item.domain),
            "details": shown_details(item.details or {}),
            "pending": pending,
            "problem": actions_requests.last_problem(item) if pending else "",
            "waits_for_licence": waits_for_licence(item.offer.kind, item.details or {})
            if pending
            else "",
            "refuse_form": refuse_form or RefuseForm(),
            "history": history,
            "page_object_type": "portal.servicerequest",
        },
        status=400 if refuse_form is not None and refuse_form.errors else 200,
    )


def _request(pk: int) -> ServiceRequest:
    return get_object_or_404(
        ServiceRequest.objects.select_related("member", "offer", "service", "requested_by"), pk=pk
    )


@staff_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _request_page(request, _request(pk))


@require_POST
@staff_required
def request_approve(request: HttpRequest, pk: int) -> HttpResponse:
    item = _request(pk)
    try:
        actions_requests.approve_request(item, actor=request.user)
    except ValidationError as exc:
        messages.error(
            request,
            _("Not approved: %(reason)s") % {"reason": " ".join(exc.messages)},
        )
    else:
        messages.success(
            request, _("Approved. The service is recorded and an apply has started for it.")
        )
    return redirect("desk:request_detail", pk=pk)


@require_POST
@staff_required
def request_refuse(request: HttpRequest, pk: int) -> HttpResponse:
    item = _request(pk)
    form = RefuseForm(request.POST)
    if form.is_valid():
        try:
            actions_requests.refuse_request(
                item, reason=form.cleaned_data["reason"], actor=request.user
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Refused. The member is told why."))
            return redirect("desk:request_detail", pk=pk)
    return _request_page(request, item, form)


# --- help queue ---------------------------------------------------------------------------


@staff_required
def help_queue(request: HttpRequest) -> HttpResponse:
    closed = request.GET.get("closed") == "1"
    return render(
        request, "desk/help_queue.html", {"help_requests": queue(closed)[:200], "closed": closed}
    )


def _help(pk: int) -> HelpRequest:
    return get_object_or_404(
        HelpRequest.objects.select_related("member", "service", "assigned_to"), pk=pk
    )


def _help_page(
    request: HttpRequest, help_request: HelpRequest, form: HelpMessageForm | None = None
) -> HttpResponse:
    context: dict[str, Any] = {
        "form": form or HelpMessageForm(),
        **conversation_context(help_request),
    }
    return render(
        request,
        "desk/help_detail.html",
        context,
        status=400 if form is not None and form.errors else 200,
    )


@staff_required
def help_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _help_page(request, _help(pk))


@require_POST
@staff_required
def help_take(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        actions_help.take_help_request(_help(pk), actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("It is yours: the others see that you take care of it."))
    return redirect("desk:help_detail", pk=pk)


@require_POST
@staff_required
def help_answer(request: HttpRequest, pk: int) -> HttpResponse:
    help_request = _help(pk)
    form = HelpMessageForm(request.POST)
    if form.is_valid():
        try:
            actions_help.answer_help_request(
                help_request, body=form.cleaned_data["body"], actor=request.user
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Your answer is sent to the member."))
            return redirect("desk:help_detail", pk=pk)
    return _help_page(request, help_request, form)


@require_POST
@staff_required
def help_close(request: HttpRequest, pk: int) -> HttpResponse:
    actions_help.close_help_request(_help(pk), actor=request.user)
    messages.success(request, _("The request is closed."))
    return redirect("desk:help_queue")


@require_POST
@staff_required
def help_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    actions_help.reopen_help_request(_help(pk), actor=request.user)
    messages.success(request, _("The request is open again."))
    return redirect("desk:help_detail", pk=pk)
