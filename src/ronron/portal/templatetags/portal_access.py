"""Template tags of portal access: the managers' panel of the console's member page
(``{% member_portal_access member %}``) and the portal's own menu (``portal/_nav.html``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ronron.portal import actions
from ronron.portal.forms import InviteForm
from ronron.portal.models import Invitation, ManagerAccess

register = template.Library()


@register.inclusion_tag("portal/access_panel.html", takes_context=True)
def member_portal_access(context: template.Context, member: Any) -> dict[str, Any]:
    now = timezone.now()
    pending = list(
        Invitation.objects.filter(member=member, accepted_at__isnull=True, expires_at__gt=now)
        .select_related("invited_by")
        .order_by("-created_at")
    )
    for invitation in pending:
        invitation.mail_problem = actions.mail_problem(invitation)  # type: ignore[attr-defined]
    return {
        "member": member,
        "accesses": ManagerAccess.objects.filter(member=member)
        .select_related("user")
        .order_by("user__username"),
        "pending": pending,
        "form": InviteForm(),
        "csrf_token": context.get("csrf_token"),
    }


# What the portal's menu offers: (key, label, URL name, needs the member's number). The parts
# other modules add appear once their URL exists.
PORTAL_LINKS: list[tuple[str, Any, str, bool]] = [
    ("dashboard", _("Overview"), "portal:dashboard", True),
    ("services", _("Services"), "portal:services", True),
    ("requests", _("Ask for a service"), "portal:portal_requests:index", True),
    ("dues", _("Dues"), "portal:dues", True),
    ("contacts", _("Contacts"), "portal:contacts", True),
    ("help", _("Help"), "portal:portal_help:index", True),
    ("data", _("Our data"), "portal:data", True),
    ("departure", pgettext_lazy("portal menu", "Leaving"), "portal:portal_departure:index", True),
]
HELPERS_LINK = ("helpers", _("Help queue"), "portal:helpers:queue")
# URL names (as resolved) that belong to each menu entry, besides the entry's own.
SECTIONS = {
    "portal:contact_add": "contacts",
    "portal:contact_edit": "contacts",
    "portal:contact_remove": "contacts",
    "portal:data_download": "data",
}


def _url(name: str, kwargs: dict[str, Any] | None = None) -> str | None:
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def _current(request: Any) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    name = match.view_name
    if name in SECTIONS:
        return SECTIONS[name]
    for key, _label, url_name, _needs in PORTAL_LINKS:
        namespace = url_name.rsplit(":", 1)[0]
        # A part with its own namespace (requests, help…) is one entry, whatever its page.
        if name == url_name or (namespace != "portal" and match.namespace == namespace):
            return key
    if match.namespace == "portal:helpers":
        return "helpers"
    return ""


@register.simple_tag(takes_context=True)
def portal_links(context: template.Context, member: Any) -> list[dict[str, Any]]:
    """The portal's menu for ``member``: only entries whose page exists."""
    request = context.get("request")
    current = _current(request)
    links = []
    for key, label, name, needs_number in PORTAL_LINKS:
        url = _url(name, {"number": member.number} if needs_number else None)
        if url is not None:
            links.append({"key": key, "label": label, "url": url, "current": key == current})
    user_id = getattr(getattr(request, "user", None), "pk", None)
    if user_id is None:
        return links
    accesses = ManagerAccess.objects.filter(user_id=user_id)
    if accesses.filter(is_helper=True).exists():
        key, label, name = HELPERS_LINK
        url = _url(name)
        if url is not None:
            links.append({"key": key, "label": label, "url": url, "current": key == current})
    if accesses.count() > 1:
        links.append(
            {
                "key": "home",
                "label": _("Another member"),
                "url": reverse("portal:home"),
                "current": False,
            }
        )
    return links
