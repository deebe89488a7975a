"""Tenant scoping: the one place that decides which rows a user may see.

Staff (the hoster's admins, active accounts) see everything. A member manager — an active
account that is not staff and holds ``portal.ManagerAccess`` rows — sees only the rows of the
members it manages. Anyone else (anonymous, disabled, or an account that manages nothing) is
refused with ``PermissionDenied``. Every tenant-scoped query goes through :func:`scope`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def _managed_member_ids(user: Any) -> QuerySet[Any] | None:
    """The ids of the members ``user`` manages, as a subquery; None when it manages none."""
    from ronron.portal.models import ManagerAccess

    accesses = ManagerAccess.objects.filter(user_id=user.pk)
    if not accesses.exists():
        return None
    return accesses.values("member_id")


def scope(queryset: QuerySet[M], user: Any, *, member_path: str = "") -> QuerySet[M]:
    """Restrict ``queryset`` to what ``user`` may see.

    ``member_path`` is the lookup from the model to its member ("" for Member itself,
    "member" for Contact and Membership, "request__member" for a help message…).
    """
    if not getattr(user, "is_active", False) or not getattr(user, "is_authenticated", False):
        raise PermissionDenied
    if getattr(user, "is_staff", False):
        return queryset
    member_ids = _managed_member_ids(user)
    if member_ids is None:
        raise PermissionDenied
    lookup = f"{member_path}__in" if member_path else "pk__in"
    return queryset.filter(**{lookup: member_ids})
