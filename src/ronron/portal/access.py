"""Who may use which member's space in the portal.

Every portal view is decorated with :func:`portal_login_required` and gets its member through
:func:`member_for` — the one door: a member the logged-in account does not manage is a 404,
whether it exists or not. The portal is for member managers: staff accounts are not let in
(they have the console), so a slip of an admin's session never shows the portal as a manager.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url

from ronron.core.scoping import scope
from ronron.members.models import Member

View = Callable[..., HttpResponseBase]


def is_manager_account(user: Any) -> bool:
    """An active, logged-in account that is not staff (staff use the console)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and not getattr(user, "is_staff", False)
    )


def members_managed_by(user: Any) -> QuerySet[Member]:
    """The members ``user`` manages in the portal (none for staff and anonymous users)."""
    if not is_manager_account(user):
        return Member.objects.none()
    try:
        return scope(Member.objects.all(), user, member_path="")
    except PermissionDenied:
        return Member.objects.none()


def member_for(request: HttpRequest, number: str) -> Member:
    """The member numbered ``number`` if the logged-in account manages it; else 404."""
    members = members_managed_by(request.user)
    number = (number or "").strip()
    member = members.filter(number=number).first() or members.filter(number=number.upper()).first()
    if member is None:
        raise Http404("no such member in your portal")
    return member


def portal_login_required(view: View) -> View:
    """Anonymous visitors go to the login page, coming back here afterwards."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))
        return view(request, *args, **kwargs)

    return wrapped
