"""The departure panel of the console's member page: ``{% departure_panel member %}``."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from ronron.core.models import AuditEntry
from ronron.members.offboarding import REMOVAL_HELD, REMOVAL_REQUESTED

register = template.Library()


@register.inclusion_tag("portal/departure/panel.html", takes_context=True)
def departure_panel(context: template.Context, member: Any) -> dict[str, Any]:
    from ronron.portal.views_departure import OnBehalfForm, departure_state

    state = departure_state(member)
    last = (
        AuditEntry.objects.filter(member_id=member.pk, action__in=[REMOVAL_HELD, REMOVAL_REQUESTED])
        .order_by("-created_at", "-pk")
        .first()
    )
    return {
        **state,
        "form": OnBehalfForm(initial={"on": timezone.localdate()}),
        "removal_held": last if last is not None and last.action == REMOVAL_HELD else None,
        "csrf_token": context.get("csrf_token"),
    }
