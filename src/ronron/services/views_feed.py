"""The roster feed Sympa reads (``include_remote_file``): one URL and one credential per service.

Sympa calls it from the list server with HTTP Basic authentication — the user is
``service-<pk>``, the password the service's ``roster_feed`` secret — so a list can only read its
own roster, and a leaked credential exposes one roster, not the member file.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from ronron.services import rosters
from ronron.services.models import Service
from ronron.services.rosters import ROSTER_FEED, feed_user

log = logging.getLogger(__name__)


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _refused() -> HttpResponse:
    response = HttpResponse("Authentication required\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Basic realm="Ronron rosters", charset="UTF-8"'
    return response


@csrf_exempt
@require_safe
def roster_feed(request: HttpRequest, pk: int) -> HttpResponse:
    given = _credentials(request)
    service = (
        Service.objects.select_related("roster")
        .filter(pk=pk, roster__isnull=False, removed_at__isnull=True)
        .first()
    )
    stored = (service.credentials or {}).get(ROSTER_FEED) if service else None
    if (
        service is None
        or given is None
        or not stored
        or not hmac.compare_digest(given[0].encode(), feed_user(service).encode())
        or not hmac.compare_digest(given[1].encode(), str(stored).encode())
    ):
        return _refused()
    assert service.roster is not None
    try:
        found = rosters.entries(service.roster)
    except Exception:
        # Sympa keeps a list's members when its source fails, but empties it on an empty
        # answer: a roster that cannot be computed must never look empty.
        log.exception("the roster of service %s cannot be computed", service.pk)
        return HttpResponse(
            "Roster unavailable\n", status=503, content_type="text/plain; charset=utf-8"
        )
    text = rosters.feed_text(found)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response
