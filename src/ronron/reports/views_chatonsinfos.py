"""Public ChatonsInfos files under /.well-known/chatonsinfos/ (CHATONS statistics).

No login: the CHATONS collective's statistics site fetches them like any visitor. Read-only, so
exempt from CSRF: any other method than GET or HEAD gets 405 rather than a CSRF refusal.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from ronron.reports import chatonsinfos

CONTENT_TYPE = "text/plain; charset=utf-8"


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("chatonsinfos:index"))


def _text(body: str) -> HttpResponse:
    return HttpResponse(body.encode("utf-8"), content_type=CONTENT_TYPE)


@csrf_exempt
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """The address of every file there is, one a line."""
    base = _base_url(request)
    names = [chatonsinfos.ORGANIZATION_ID, *chatonsinfos.file_ids()]
    return _text("".join(f"{base}{name}{chatonsinfos.SUFFIX}\n" for name in names))


@csrf_exempt
@require_safe
def organization(request: HttpRequest) -> HttpResponse:
    return _text(chatonsinfos.organization_file(_base_url(request)))


@csrf_exempt
@require_safe
def service(request: HttpRequest, file_id: str) -> HttpResponse:
    body = chatonsinfos.service_file(file_id)
    if body is None:
        raise Http404(file_id)
    return _text(body)
