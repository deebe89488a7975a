"""The help queue in the portal.

- A member's side, under /portal/<number>/help/: its own help requests (through
  ``portal.access.member_for``), asking, answering, closing and reopening.
- The volunteer helpers' side, under /portal/helpers/: the queue of every member's help
  requests. These pages show the help requests only — subject, messages, the service the member
  chose to mention, the member's name and number — and never read other member data.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ronron.core.forms import attach_errors
from ronron.core.scoping import scope
from ronron.portal import actions_help as actions
from ronron.portal.access import is_manager_account, member_for, portal_login_required
from ronron.portal.actions_requests import shown_domain
from ronron.portal.forms_help import HelpMessageForm, HelpRequestForm
from ronron.portal.models import HelpRequest

QUEUE_SIZE = 200


def queue(closed: bool = False) -> QuerySet[HelpRequest]:
    """Every member's help requests, those waiting for an answer first."""
    wanted = (
        [HelpRequest.Status.CLOSED]
        if closed
        else [
            HelpRequest.Status.OPEN,
            HelpRequest.Status.ANSWERED,
        ]
    )
    return (
        HelpRequest.objects.filter(status__in=wanted)
        .select_related("member", "assigned_to")
        .annotate(
            waiting=Case(
                When(status=HelpRequest.Status.OPEN, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("waiting", "updated_at", "pk")
    )


def service_label(help_request: HelpRequest) -> str:
    service = help_request.service
    if service is None:
        return ""
    label = service.get_kind_display() if service.kind else service.get_family_display()
    named = shown_domain(service.domain) or service.name
    return f"{label} — {named}" if named else str(label)


def conversation_context(help_request: HelpRequest) -> dict[str, Any]:
    return {
        "help_request": help_request,
        "service_label": service_label(help_request),
        "conversation": actions.conversation(help_request),
    }


def _show_error(request: HttpRequest, error: ValidationError) -> None:
    messages.error(request, " ".join(error.messages))


# --- a member's side ----------------------------------------------------------------------


def _mine(request: HttpRequest, member: Any) -> QuerySet[HelpRequest]:
    # ``member_for`` already guards the door; the scoping helper is the second lock.
    return scope(
        HelpRequest.objects.filter(member=member).select_related("service", "assigned_to"),
        request.user,
        member_path="member",
    )


def _own(request: HttpRequest, member: Any, pk: int) -> HelpRequest:
    return get_object_or_404(_mine(request, member), pk=pk)


@portal_login_required
def index(request: HttpRequest, number: str) -> HttpResponse:
    member = member_for(request, number)
    return render(
        request,
        "portal/help/index.html",
        {
            "member": member,
            "help_requests": _mine(request, member).order_by("-updated_at", "-pk")[:100],
        },
    )


@portal_login_required
def new(request: HttpRequest, number: str) -> HttpResponse:
    member = member_for(request, number)
    form = HelpRequestForm(request.POST or None, member=member)
    if request.method == "POST" and form.is_valid():
        try:
            help_request = actions.open_help_request(
                member,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                service=form.cleaned_data.get("service"),
                actor=request.user,
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Your question is sent. You will get an answer by mail."))
            return redirect("portal:portal_help:detail", number=member.number, pk=help_request.pk)
    return render(
        request,
        "portal/help/new.html",
        {"member": member, "form": form},
        status=400 if form.errors else 200,
    )


def _member_page(
    request: HttpRequest, member: Any, help_request: HelpRequest, form: HelpMessageForm | None
) -> HttpResponse:
    return render(
        request,
        "portal/help/detail.html",
        {
            "member": member,
            "form": form or HelpMessageForm(),
            **conversation_context(help_request),
        },
        status=400 if form is not None and form.errors else 200,
    )


@portal_login_required
def detail(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    member = member_for(request, number)
    return _member_page(request, member, _own(request, member, pk), None)


@require_POST
@portal_login_required
def reply(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    member = member_for(request, number)
    help_request = _own(request, member, pk)
    form = HelpMessageForm(request.POST)
    if form.is_valid():
        try:
            actions.add_member_message(
                help_request, body=form.cleaned_data["body"], actor=request.user
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Your message is sent."))
            return redirect("portal:portal_help:detail", number=member.number, pk=pk)
    return _member_page(request, member, help_request, form)


@require_POST
@portal_login_required
def close(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    member = member_for(request, number)
    actions.close_help_request(_own(request, member, pk), actor=request.user)
    messages.success(request, _("The request is closed. You can reopen it at any time."))
    return redirect("portal:portal_help:detail", number=member.number, pk=pk)


@require_POST
@portal_login_required
def reopen(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    member = member_for(request, number)
    actions.reopen_help_request(_own(request, member, pk), actor=request.user)
    messages.success(request, _("The request is open again: write your message below."))
    return redirect("portal:portal_help:detail", number=member.number, pk=pk)


# --- the volunteer helpers' side ----------------------------------------------------------


def _check_helper(request: HttpRequest) -> None:
    # Staff answer from the console; the portal's helper pages are for volunteer members.
    if not (is_manager_account(request.user) and actions.is_helper(request.user)):
        raise PermissionDenied


@portal_login_required
def helper_queue(request: HttpRequest) -> HttpResponse:
    _check_helper(request)
    closed = request.GET.get("closed") == "1"
    return render(
        request,
        "portal/help/helper_queue.html",
        {"help_requests": queue(closed)[:QUEUE_SIZE], "closed": closed},
    )


def _helper_page(
    request: HttpRequest, help_request: HelpRequest, form: HelpMessageForm | None
) -> HttpResponse:
    return render(
        request,
        "portal/help/helper_detail.html",
        {"form": form or HelpMessageForm(), **conversation_context(help_request)},
        status=400 if form is not None and form.errors else 200,
    )


def _any(pk: int) -> HelpRequest:
    return get_object_or_404(
        HelpRequest.objects.select_related("member", "service", "assigned_to"), pk=pk
    )


@portal_login_required
def helper_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _check_helper(request)
    return _helper_page(request, _any(pk), None)


@require_POST
@portal_login_required
def helper_take(request: HttpRequest, pk: int) -> HttpResponse:
    _check_helper(request)
    try:
        actions.take_help_request(_any(pk), actor=request.user)
    except ValidationError as exc:
        _show_error(request, exc)
    else:
        messages.success(request, _("It is yours: the others see that you take care of it."))
    return redirect("portal:helpers:detail", pk=pk)


@require_POST
@portal_login_required
def helper_answer(request: HttpRequest, pk: int) -> HttpResponse:
    _check_helper(request)
    help_request = _any(pk)
    form = HelpMessageForm(request.POST)
    if form.is_valid():
        try:
            actions.answer_help_request(
                help_request, body=form.cleaned_data["body"], actor=request.user
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("Your answer is sent to the member."))
            return redirect("portal:helpers:detail", pk=pk)
    return _helper_page(request, help_request, form)


@require_POST
@portal_login_required
def helper_close(request: HttpRequest, pk: int) -> HttpResponse:
    _check_helper(request)
    actions.close_help_request(_any(pk), actor=request.user)
    messages.success(request, _("The request is closed."))
    return redirect("portal:helpers:queue")
