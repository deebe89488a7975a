"""The console's own pages: login, second factor, dashboard."""

from __future__ import annotations

from base64 import b32encode
from datetime import date
from typing import Any

import django_otp
import segno
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from ronron.core import actions
from ronron.core.forms import LoginForm, PasswordConfirmForm, TokenForm, attach_errors
from ronron.core.models import AuditEntry
from ronron.core.permissions import needs_second_factor, staff_required
from ronron.jobs.models import Job
from ronron.members.dues import annotate_dues_status
from ronron.members.models import Member, Membership

PENDING_KEY = "ronron_totp_pending_key"


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        # Member managers have the portal; the console is for staff.
        if not self.request.user.is_staff:
            return reverse("portal:home")
        return super().get_default_redirect_url()

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        if needs_second_factor(self.request.user):
            query = urlencode({"next": self.get_success_url()})
            return HttpResponseRedirect(f"{reverse('core:otp_verify')}?{query}")
        return response


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not (user.is_active and user.is_staff):
        raise PermissionDenied
    next_url = _safe_next(request, reverse("core:dashboard"))
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None or not needs_second_factor(user):
        return redirect(next_url)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _details = device.verify_is_allowed()
        if not allowed:
            form.add_error(
                "token",
                _("Too many wrong codes in a row. Wait a minute, then type the new code."),
            )
        else:
            verified = django_otp.verify_token(
                user, device.persistent_id, form.cleaned_data["token"]
            )
            if verified is not None:
                django_otp.login(request, verified)
                return redirect(next_url)
            form.add_error(
                "token",
                _(
                    "This code is not the right one. Codes change every 30 seconds: type the "
                    "one your app shows now."
                ),
            )
    return render(request, "core/otp_verify.html", {"form": form, "next": next_url})


def _qr_svg(device: TOTPDevice) -> str:
    # segno draws the code on the server: no image from another host, no script. The SVG is
    # generated from our own data (the otpauth URL), so it is safe to insert as is.
    svg = segno.make(device.config_url, error="m").svg_inline(
        scale=5, title=_("QR code to scan with your authenticator app")
    )
    return mark_safe(svg)  # noqa: S308


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@staff_required
def otp_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        return render(
            request,
            "core/otp_setup.html",
            {"device": device, "remove_form": PasswordConfirmForm(user)},
        )
    # The secret waits in the session until a first code proves the app has it: nothing is
    # written until then, and a reload shows the same QR code.
    key = request.session.get(PENDING_KEY) or random_hex(20)
    request.session[PENDING_KEY] = key
    pending = TOTPDevice(user=user, name=actions.DEVICE_NAME, key=key)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = actions.confirm_totp_device(
                user, actor=user, key=key, token=form.cleaned_data["token"]
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            del request.session[PENDING_KEY]
            django_otp.login(request, device)
            messages.success(
                request,
                _(
                    "Two-step login is on. From now on, you will be asked for a code after "
                    "your password."
                ),
            )
            return redirect("core:otp_setup")
    secret = b32encode(pending.bin_key).decode()
    return render(
        request,
        "core/otp_setup.html",
        {"form": form, "qr_svg": _qr_svg(pending), "secret": _grouped(secret)},
    )


@require_POST
@staff_required
def otp_remove(request: HttpRequest) -> HttpResponse:
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return redirect("core:otp_setup")
    form = PasswordConfirmForm(user, request.POST)
    if form.is_valid():
        actions.remove_totp_device(device, actor=user)
        messages.success(request, _("Two-step login is off for your account."))
        return redirect("core:otp_setup")
    return render(request, "core/otp_setup.html", {"device": device, "remove_form": form})


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    today = date.today()
    year = today.year
    by_status = dict(
        Member.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    statuses = [
        {"value": value, "label": label, "count": by_status.get(value, 0)}
        for value, label in Member.Status.choices
    ]
    dues_qs = annotate_dues_status(Membership.objects.filter(year=year), year, today)
    dues = dues_qs.aggregate(
        paid=Count("id", filter=Q(dues_status="paid")),
        paid_amount=Sum("amount", filter=Q(dues_status="paid")),
        overdue=Count("id", filter=Q(dues_status="overdue")),
        overdue_amount=Sum("amount", filter=Q(dues_status="overdue")),
        cut_off=Count("id", filter=Q(dues_status="cut_off")),
        cut_off_amount=Sum("amount", filter=Q(dues_status="cut_off")),
        called=Count("id", filter=Q(dues_status="called")),
        called_amount=Sum("amount", filter=Q(dues_status="called")),
    )
    context = {
        "statuses": statuses,
        "member_total": sum(by_status.values()),
        "year": year,
        "dues": dues,
        "recent": AuditEntry.objects.all()[:10],
        "jobs": Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])[:10],
    }
    return render(request, "core/dashboard.html", context)
