"""What happened, as feeds: incident updates and state changes of public checks, newest first,
in Atom (Django's syndication framework) and JSON Feed 1.1. Probe messages stay out: they may
name internal addresses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from ronron.monitoring.models import Check, Incident, IncidentUpdate, StateChange

FEED_SIZE = 50
STATUS_LABELS = dict(Check.Status.choices)
INCIDENT_LABELS = dict(Incident.Status.choices)
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


@dataclass(frozen=True)
class Item:
    kind: str  # "incident" or "state_change"
    guid: str
    at: datetime
    title: str
    text: str
    path: str
    status: str
    subject: str  # the check's or the incident's name


def _host(request: HttpRequest) -> str:
    domain, _port = split_domain_port(request.get_host())
    return domain or "localhost"


def _tag(host: str, what: str, pk: int) -> str:
    # A tag URI (RFC 4151): stable whatever the page addresses become.
    return f"tag:{host},2025:ronron/{what}/{pk}"


def feed_items(host: str, size: int = FEED_SIZE) -> list[Item]:
    """The newest ``size`` events: two queries."""
    hoster_page = reverse("status:hoster")
    changes = (
        StateChange.objects.filter(endpoint__public=True)
        .select_related("endpoint")
        .only("at", "status", "endpoint__name")
        .order_by("-at", "-pk")[:size]
    )
    updates = (
        IncidentUpdate.objects.filter(incident__public=True)
        .select_related("incident")
        .only("at", "status", "message", "incident__title")
        .order_by("-at", "-pk")[:size]
    )
    items = [
        Item(
            kind="state_change",
            guid=_tag(host, "state-change", change.pk),
            at=change.at,
            title=_("%(check)s: %(status)s")
            % {
                "check": change.endpoint.name,
                "status": STATUS_LABELS.get(change.status, change.status),
            },
            text=_("%(check)s is now: %(status)s.")
            % {
                "check": change.endpoint.name,
                "status": STATUS_LABELS.get(change.status, change.status),
            },
            path=f"{hoster_page}#check-{change.endpoint_id}",
            status=change.status,
            subject=change.endpoint.name,
        )
        for change in changes
    ]
    items += [
        Item(
            kind="incident",
            guid=_tag(host, "incident-update", update.pk),
            at=update.at,
            title=_("%(incident)s — %(status)s")
            % {
                "incident": update.incident.title,
                "status": INCIDENT_LABELS.get(update.status, update.status),
            },
            text=update.message,
            path=reverse("status:incident", args=[update.incident_id]) + f"#update-{update.pk}",
            status=update.status,
            subject=update.incident.title,
        )
        for update in updates
    ]
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:size]


def _title() -> str:
    return _("Status of the services of %(hoster)s") % {"hoster": settings.RONRON.hoster_name}


class AtomFeed(Feed):
    feed_type = Atom1Feed
    item_guid_is_permalink = False

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> str:
        return _host(request)

    def title(self) -> str:
        return _title()

    def subtitle(self) -> str:
        return _("Incidents and changes of status.")

    def link(self) -> str:
        return reverse("status:hoster")

    def items(self, host: str) -> list[Item]:
        return feed_items(host)

    def item_title(self, item: Item) -> str:
        return item.title

    def item_description(self, item: Item) -> str:
        return item.text

    def item_link(self, item: Item) -> str:
        return item.path

    def item_guid(self, item: Item) -> str:
        return item.guid

    def item_pubdate(self, item: Item) -> datetime:
        return item.at

    def item_updateddate(self, item: Item) -> datetime:
        return item.at


atom_feed = AtomFeed()


@require_safe
def json_feed(request: HttpRequest) -> HttpResponse:
    host = _host(request)
    document = {
        "version": JSON_FEED_VERSION,
        "title": _title(),
        "home_page_url": request.build_absolute_uri(reverse("status:hoster")),
        "feed_url": request.build_absolute_uri(reverse("status:feed_json")),
        "language": get_language() or settings.LANGUAGE_CODE,
        "items": [
            {
                "id": item.guid,
                "url": request.build_absolute_uri(item.path),
                "title": item.title,
                "content_text": item.text,
                "date_published": item.at.isoformat(),
                "_ronron": {"type": item.kind, "status": item.status, "subject": item.subject},
            }
            for item in feed_items(host)
        ],
    }
    return HttpResponse(
        json.dumps(document, ensure_ascii=False),
        content_type="application/feed+json; charset=utf-8",
    )
