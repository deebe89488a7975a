"""Getting into the portal: the invitation link (public), and the console's buttons that
invite, cancel, revoke and make a manager a volunteer helper (staff only)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from ronron.core.forms import attach_errors
from ronron.core.permissions import staff_required
from ronron.core.scoping import scope
from ronron.members.models import Member
from ronron.portal import actions
from ronron.portal.forms import AcceptForm, ExistingAccountForm, InviteForm, NewAccountForm
from ronron.portal.models import Invitation, ManagerAccess

BACKEND = "django.contrib.auth.backends.ModelBackend"
PROBLEM_STATUS = {"unknown": 404, "used": 410, "expired": 410}


def _private(response: HttpResponse) -> HttpResponse:
    # The address holds the invitation's token: no cache keeps the page, no other site
    # learns the address from a link followed from here.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    return response


def _problem_page(request: HttpRequest, problem: ValidationError) -> HttpResponse:
    code = problem.code or "unknown"
    response = render(
        request,
        "portal/invitation_invalid.html",
        {"code": code, "message": " ".join(problem.messages)},
        status=PROBLEM_STATUS.get(code, 400),
    )
    return _private(response)


def _welcome(request: HttpRequest, access: ManagerAccess) -> HttpResponse:
    messages.success(
        request,
        _("Welcome! You now manage the space of %(name)s.") % {"name": access.member.name},
    )
    return redirect("portal:dashboard", number=access.member.number)


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invite = actions.find_invitation(token)
    except actions.InvitationProblem as problem:
        return _problem_page(request, problem)
    user = request.user
    context: dict[str, Any] = {"invitation": invite, "member": invite.member}
    if user.is_authenticated:
        if user.is_staff:
            context["staff"] = True
            return _private(render(request, "portal/invitation.html", context, status=403))
        if request.method == "POST" and AcceptForm(request.POST).is_valid():
            try:
                access = actions.accept_invitation(token, user)
            except actions.InvitationProblem as problem:
                return _problem_page(request, problem)
            return _welcome(request, access)
        return _private(render(request, "portal/invitation.html", context))

    action = request.POST.get("action") if request.method == "POST" else None
    new_form = NewAccountForm(request.POST if action == "create" else None, prefix="new")
    login_form = ExistingAccountForm(
        request, data=request.POST if action == "login" else None, prefix="login"
    )
    if action == "create" and new_form.is_valid():
        try:
            access = actions.create_account_and_accept(
                token, password=new_form.cleaned_data["password1"]
            )
        except actions.InvitationProblem as problem:
            return _problem_page(request, problem)
        except ValidationError as exc:
            attach_errors(new_form, exc)
        else:
            login(request, access.user, backend=BACKEND)
            return _welcome(request, access)
    elif action == "login" and login_form.is_valid():
        account = login_form.get_user()
        try:
            access = actions.accept_invitation(token, account)
        except actions.InvitationProblem as problem:
            return _problem_page(request, problem)
        login(request, account, backend=BACKEND)
        return _welcome(request, access)
    context.update({"new_form": new_form, "login_form": login_form, "action": action})
    status = 400 if action else 200
    return _private(render(request, "portal/invitation.html", context, status=status))


# --- the console's side -------------------------------------------------------------------------


def _member_page(member: Member) -> str:
    return reverse("members:detail", args=[member.pk]) + "#portal-access"


@staff_required
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(scope(Member.objects.all(), request.user), pk=pk)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sent = actions.invite(member, form.cleaned_data["email"], actor=request.user)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            problem = actions.mail_problem(sent)
            if problem:
                messages.error(
                    request,
                    _(
                        "The invitation for %(email)s is recorded, but the message could not "
                        "be sent (%(reason)s). Check the mail settings, then send it again."
                    )
                    % {"email": sent.email, "reason": problem},
                )
            else:
                messages.success(
                    request, _("Invitation sent to %(email)s.") % {"email": sent.email}
                )
            return redirect(_member_page(member))
    return render(
        request,
        "portal/invite.html",
        {"member": member, "form": form},
        status=400 if form.errors else 200,
    )


def _access(request: HttpRequest, pk: int) -> ManagerAccess:
    return get_object_or_404(
        scope(
            ManagerAccess.objects.select_related("user", "member"),
            request.user,
            member_path="member",
        ),
        pk=pk,
    )


@require_POST
@staff_required
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    access = _access(request, pk)
    actions.revoke_access(access, actor=request.user)
    messages.success(
        request,
        _("%(account)s no longer manages %(member)s.")
        % {"account": access.user.get_username(), "member": access.member.name},
    )
    return redirect(_member_page(access.member))


@require_POST
@staff_required
def helper(request: HttpRequest, pk: int) -> HttpResponse:
    access = _access(request, pk)
    wanted = request.POST.get("is_helper") == "1"
    actions.set_helper(access, wanted, actor=request.user)
    if wanted:
        text = _("%(account)s is now a volunteer helper.")
    else:
        text = _("%(account)s is no longer a volunteer helper.")
    messages.success(request, text % {"account": access.user.get_username()})
    return redirect(_member_page(access.member))


@require_POST
@staff_required
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    pending = get_object_or_404(
        scope(Invitation.objects.select_related("member"), request.user, member_path="member"),
        pk=pk,
    )
    try:
        actions.cancel_invitation(pending, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("The invitation for %(email)s is cancelled.") % {"email": pending.email}
        )
    return redirect(_member_page(pending.member))
