"""The onboarding checklist on the console's member page."""

from __future__ import annotations

from typing import Any

from django import template

from ronron.members.models import Application, Member
from ronron.members.onboarding_steps import checklist, in_onboarding

register = template.Library()


@register.inclusion_tag("members/onboarding/panel.html")
def onboarding_checklist(member: Member) -> dict[str, Any]:
    """Shown for members who came through the application form, and for those on their way in
    not welcomed yet; nothing for the others (the panel's template then renders nothing)."""
    if not in_onboarding(member):
        return {"hidden": True}
    return {
        "application": Application.objects.filter(member=member).first(),
        "steps": checklist(member),
    }
