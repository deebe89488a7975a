"""The public application form, ``/join/``: anyone may apply; the board decides in the console.

A limit per client address and a field hidden from people keep robots out; nothing is written
unless the whole form is right.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from ronron.core import ratelimit
from ronron.core.forms import attach_errors
from ronron.members import onboarding
from ronron.members.forms_onboarding import JoinForm

log = logging.getLogger(__name__)

APPLICATIONS_PER_HOUR = 5
SCOPE = "join.apply"

FORM_TEMPLATE = "members/join/form.html"


def _too_many(form: JoinForm, verdict: ratelimit.Verdict) -> None:
    minutes = max(1, -(-verdict.retry_after // 60))
    form.add_error(
        None,
        ngettext(
            "Too many applications were sent from your address. Try again in %(minutes)d "
            "minute, or write to us.",
            "Too many applications were sent from your address. Try again in %(minutes)d "
            "minutes, or write to us.",
            minutes,
        )
        % {"minutes": minutes},
    )


@require_http_methods(["GET", "HEAD", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    form = JoinForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_bot():
            # Counted like an application, kept like none; the robot sees the usual answer.
            ratelimit.hit(SCOPE, request, limit=APPLICATIONS_PER_HOUR)
            log.info("application form: hidden field filled, nothing kept")
            return redirect("join:thanks")
        if form.is_valid():
            verdict = ratelimit.hit(SCOPE, request, limit=APPLICATIONS_PER_HOUR)
            if not verdict.allowed:
                _too_many(form, verdict)
                status = 429
            else:
                try:
                    received = onboarding.receive_application(actor=None, **form.action_data())
                except ValidationError as exc:
                    attach_errors(form, exc)
                else:
                    if not received.acknowledged:
                        messages.warning(
                            request,
                            _(
                                "Your application is recorded, but we could not send you the "
                                "confirmation e-mail. No need to apply again: we will write "
                                "to you."
                            ),
                        )
                    return redirect("join:thanks")
        if form.errors and status == 200:
            status = 400
    return render(request, FORM_TEMPLATE, {"form": form}, status=status)


@require_http_methods(["GET", "HEAD"])
def thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "members/join/thanks.html")
