"""Leaving: the portal's departure page (the rule explained, the notice confirmed, then what
happens and when), the download of the departure export, and the console's actions on a
member's behalf (the panel of the member page, members/templatetags/offboarding.py).

The download is the one page here without a login: its link is mailed to the member's
contacts, who may have no portal account, and holds a random token Ronron knows only the
SHA-256 of — the token is the key, like a one-time secret's link."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ronron.core.forms import ConsoleFormMixin
from ronron.core.permissions import staff_required
from ronron.jobs.models import Job
from ronron.members import offboarding
from ronron.members.models import Member
from ronron.members.models_lifecycle import DepartureExport
from ronron.portal.access import member_for, portal_login_required


class NoticeForm(ConsoleFormMixin, forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I confirm that we are leaving, on the terms explained above."),
        error_messages={"required": gettext_lazy("Tick the box to confirm the departure.")},
    )


class OnBehalfForm(ConsoleFormMixin, forms.Form):
    on = forms.DateField(
        label=gettext_lazy("Notice received on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("The day the member told you; the rule applies to that day."),
    )

    def clean_on(self) -> date:
        value: date = self.cleaned_data["on"]
        if value > timezone.localdate():
            raise ValidationError(_("A notice cannot be received in the future."))
        return value


def departure_state(member: Member) -> dict[str, Any]:
    """What the portal page and the console panel both show."""
    today = timezone.localdate()
    export = DepartureExport.objects.filter(member=member).order_by("-created_at", "-pk").first()
    job = offboarding.export_jobs(member).order_by("-created_at", "-pk").first()
    return {
        "member": member,
        "today": today,
        "terms": offboarding.notice_terms(today, member.joined_on),
        "can_give_notice": member.status == Member.Status.MEMBER,
        "leaving": member.status in (Member.Status.LEAVING, Member.Status.LEFT),
        "deadlines": offboarding.deadlines(member),
        "export": export,
        "export_link_valid": bool(
            export and export.expires_at and export.expires_at > timezone.now()
        ),
        "job": job,
        "link_days": offboarding.EXPORT_LINK_DAYS,
        "lifecycle": settings.RONRON.lifecycle,
        "anonymised": member.anonymised_at is not None,
    }


@require_http_methods(["GET", "POST"])
@portal_login_required
def departure(request: HttpRequest, number: str) -> HttpResponse:
    member = member_for(request, number)
    form = NoticeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            offboarding.give_notice(member, actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Your notice is recorded. A confirmation and, soon, your data are on their way."),
            )
            return redirect("portal:portal_departure:index", number=member.number)
    return render(request, "portal/departure/page.html", {**departure_state(member), "form": form})


@never_cache
@require_GET
def download(request: HttpRequest, number: str, token: str) -> HttpResponseBase:
    try:
        export = offboarding.export_for_token(number, token)
    except DepartureExport.DoesNotExist:
        return render(request, "portal/departure/link_invalid.html", status=404)
    # Checked again now: what is offered is exactly what was verified.
    if not offboarding.export_reads_back(export):
        return render(request, "portal/departure/link_invalid.html", status=404)
    offboarding.record_download(export)
    handle = open(export.file, "rb")  # noqa: SIM115 - FileResponse closes it
    response = FileResponse(handle, as_attachment=True, filename=f"{export.member.number}-data.zip")
    response["Content-Type"] = "application/zip"
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- the console, on the member's behalf ------------------------------------------------------


def _member(number: str) -> Member:
    return get_object_or_404(Member, number=number)


@staff_required
@require_POST
def console_notice(request: HttpRequest, number: str) -> HttpResponse:
    member = _member(number)
    form = OnBehalfForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("members:detail", pk=member.pk)
    try:
        offboarding.give_notice(member, actor=request.user, on=form.cleaned_data["on"])
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
    else:
        messages.success(request, _("The notice is recorded; the member is told by mail."))
    return redirect("members:detail", pk=member.pk)


@staff_required
@require_POST
def console_export(request: HttpRequest, number: str) -> HttpResponse:
    member = _member(number)
    waiting = offboarding.export_jobs(member).filter(
        status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
    )
    if waiting.exists():
        messages.info(request, _("An export is already being prepared."))
    else:
        offboarding.start_export(member, actor=request.user)
        messages.success(
            request, _("The export is being prepared; its link goes out once verified.")
        )
    return redirect("members:detail", pk=member.pk)


@staff_required
@require_POST
def console_link(request: HttpRequest, number: str) -> HttpResponse:
    member = _member(number)
    export = offboarding.latest_verified_export(member)
    if export is None:
        messages.error(request, _("There is no verified export to send: prepare one first."))
        return redirect("members:detail", pk=member.pk)
    try:
        error = offboarding.send_export_link(export, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if error:
            messages.error(request, _("The link could not be sent: %(error)s") % {"error": error})
        else:
            messages.success(request, _("A new download link was sent."))
    return redirect("members:detail", pk=member.pk)
