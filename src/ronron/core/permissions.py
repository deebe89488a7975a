"""Who may use the staff console: a logged-in, active staff account, verified by its second
factor when it has one. Every console view goes through :func:`staff_required` or
:class:`StaffRequiredMixin`, so the rule lives in one place."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url
from django.urls import reverse
from django_otp import user_has_device

View = Callable[..., HttpResponseBase]


def needs_second_factor(user: Any) -> bool:
    """True when the account has a confirmed device but this session has not used it yet."""
    is_verified = getattr(user, "is_verified", None)
    return bool(user_has_device(user) and not (is_verified and is_verified()))


def check_staff(request: HttpRequest) -> HttpResponse | None:
    """None when the request may go on; otherwise the response that stops it."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))
    if not (user.is_active and user.is_staff):
        raise PermissionDenied
    if needs_second_factor(user):
        return redirect_to_login(request.get_full_path(), reverse("core:otp_verify"))
    return None


def staff_required(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refusal = check_staff(request)
        if refusal is not None:
            return refusal
        return view(request, *args, **kwargs)

    return wrapped


class StaffRequiredMixin:
    """The class-based counterpart of :func:`staff_required`; list it first in the bases."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refusal = check_staff(request)
        if refusal is not None:
            return refusal
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
