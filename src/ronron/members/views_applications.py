"""The board's side of the onboarding, in the staff console: the applications and their
decision, and the members still on their way in (the stuck ones first)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ronron.core.forms import attach_errors
from ronron.core.models import AuditEntry
from ronron.core.permissions import staff_required
from ronron.members import onboarding
from ronron.members.forms_onboarding import ApproveForm, RefuseForm
from ronron.members.models import Application

PAGE_SIZE = 50
FILTERS: dict[str, Any] = {
    Application.Status.PENDING: gettext_lazy("Waiting for the board"),
    Application.Status.APPROVED: gettext_lazy("Approved"),
    Application.Status.REFUSED: gettext_lazy("Refused"),
    "all": gettext_lazy("All"),
}


@staff_required
def application_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", Application.Status.PENDING)
    if status not in FILTERS:
        status = Application.Status.PENDING
    applications = Application.objects.select_related("member")
    if status != "all":
        applications = applications.filter(status=status)
    page = Paginator(applications.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "members/applications/list.html",
        {
            "filters": [(key, label) for key, label in FILTERS.items()],
            "status": status,
            "page_obj": page,
            "applications": page.object_list,
        },
    )


def _services(application: Application) -> list[dict[str, str]]:
    return onboarding.services_for_mail(application.requested_services)


def _detail(
    request: HttpRequest,
    application: Application,
    *,
    approve_form: ApproveForm | None = None,
    refuse_form: RefuseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    history = AuditEntry.objects.filter(
        object_type="members.application", object_id=str(application.pk)
    ).select_related("actor")
    return render(
        request,
        "members/applications/detail.html",
        {
            "application": application,
            "services": _services(application),
            "steps": onboarding.application_checklist(application),
            "approve_form": approve_form or ApproveForm(prefix="approve"),
            "refuse_form": refuse_form or RefuseForm(prefix="refuse"),
            "history": history,
        },
        status=status,
    )


def _application(pk: int) -> Application:
    return get_object_or_404(Application.objects.select_related("member"), pk=pk)


@staff_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _application(pk))


def _show_error(request: HttpRequest, form: ApproveForm | RefuseForm, exc: ValidationError) -> None:
    """An error about a field goes next to it; one about the decision itself (already taken)
    on top of the page, where it shows whatever the application's status."""
    if hasattr(exc, "error_dict"):
        attach_errors(form, exc)
    else:
        for message in exc.messages:
            messages.error(request, message)


def _warn(request: HttpRequest, problems: list[str]) -> None:
    for problem in problems:
        messages.warning(request, problem)


@staff_required
@require_POST
def application_approve(request: HttpRequest, pk: int) -> HttpResponse:
    application = _application(pk)
    form = ApproveForm(request.POST, prefix="approve")
    if form.is_valid():
        try:
            approval = onboarding.approve_and_report(
                application, on=form.cleaned_data["on"], actor=request.user
            )
        except ValidationError as exc:
            _show_error(request, form, exc)
        else:
            messages.success(
                request,
                _("Approved: %(member)s is member number %(number)s.")
                % {"member": approval.member.name, "number": approval.member.number},
            )
            _warn(request, approval.problems)
            return redirect("members:detail", pk=approval.member.pk)
    return _detail(request, application, approve_form=form, status=400)


@staff_required
@require_POST
def application_refuse(request: HttpRequest, pk: int) -> HttpResponse:
    application = _application(pk)
    form = RefuseForm(request.POST, prefix="refuse")
    if form.is_valid():
        try:
            _refused, problems = onboarding.refuse(
                application,
                on=form.cleaned_data["on"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except ValidationError as exc:
            _show_error(request, form, exc)
        else:
            messages.success(request, _("Refused; the applicant receives the reason by e-mail."))
            _warn(request, problems)
            return redirect("applications:detail", pk=application.pk)
    return _detail(request, application, refuse_form=form, status=400)


@staff_required
def onboarding_list(request: HttpRequest) -> HttpResponse:
    threshold = settings.RONRON.lifecycle.stuck_after_days
    rows = onboarding.onboarding_rows(timezone.now(), threshold)
    return render(
        request,
        "members/onboarding/list.html",
        {
            "rows": rows,
            "threshold": threshold,
            "stuck": sum(1 for row in rows if row.stuck),
        },
    )
