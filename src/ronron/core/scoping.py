"""Tenant scoping: the one place that decides which rows a user may see.

Staff (the hoster's admins) see everything. Member managers (coming with the member portal) will
see only their own organisation; every tenant-scoped query goes through :func:`scope`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def scope(queryset: QuerySet[M], user: Any, *, member_path: str = "") -> QuerySet[M]:
    """Restrict ``queryset`` to what ``user`` may see.

    ``member_path`` is the lookup from the model to its member ("" for Member itself,
    "member" for Contact and Membership).
    """
    if getattr(user, "is_active", False) and getattr(user, "is_staff", False):
        return queryset
    raise PermissionDenied
