"""Template helpers about a member's mailing lists, for pages outside the list pages."""

from __future__ import annotations

from django import template

from ronron.members.models import Member
from ronron.services.models import Service

register = template.Library()


@register.filter
def has_lists(member: Member) -> bool:
    """Whether the member has a live mailing list managed by Ronron."""
    return Service.objects.filter(
        member=member, kind="list", managed=True, removed_at__isnull=True
    ).exists()
