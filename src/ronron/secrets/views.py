"""The public secrets pages: write a secret (``/secret/``) and reveal one (``/secret/<id>/``).

Encryption and decryption happen in the browser (static/secrets/secret.js); these views only
keep and hand back ciphertext. Opening a link (GET) reads and changes nothing, so link previews
and mail scanners cannot burn a secret; revealing is a POST.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from ronron.core import ratelimit
from ronron.secrets import envelope, store
from ronron.secrets.models import Secret

# Stricter than the console's: nothing but our own script, style and requests, and DOM sinks
# closed to strings (Trusted Types), so that a secret can only ever be shown as text.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)

LIFETIMES = (
    (3600, gettext_lazy("1 hour")),
    (86400, gettext_lazy("1 day")),
    (7 * 86400, gettext_lazy("7 days")),
    (30 * 86400, gettext_lazy("30 days")),
)
DEFAULT_LIFETIME = 86400


def _sealed_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Never cached, never indexed, and no address of ours told to another site. Not
    "no-referrer": a form posted from such a page (the language switch) carries "Origin: null",
    which Django's CSRF check refuses."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "same-origin"
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Content-Security-Policy"] = PAGE_POLICY
        return response

    return wrapper


def _error(message: str, status: int, **headers: str) -> JsonResponse:
    response = JsonResponse({"detail": message}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _too_many(verdict: ratelimit.Verdict) -> JsonResponse:
    minutes = max(1, -(-verdict.retry_after // 60))
    message = ngettext(
        "Too many requests from your address. Try again in %(minutes)d minute.",
        "Too many requests from your address. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    return _error(message, 429, **{"Retry-After": str(verdict.retry_after)})


def _body_cap() -> int:
    # base64 grows 4/3; the rest of the JSON is a few short fields.
    return store.largest_ciphertext() * 4 // 3 + 1024


@_sealed_page
@require_http_methods(["GET", "HEAD", "POST"])
def new(request: HttpRequest) -> HttpResponse:
    if request.method in {"GET", "HEAD"}:
        lifetimes = [(seconds, str(label)) for seconds, label in LIFETIMES]
        return render(
            request,
            "secrets/new.html",
            {
                "lifetimes": lifetimes,
                "default_lifetime": DEFAULT_LIFETIME,
                "max_bytes": settings.RONRON.secrets.max_bytes,
                "iterations": envelope.ITERATIONS,
            },
        )
    # The size is refused before the body is read.
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > _body_cap():
        return _error(store.too_big_message(), 413)
    verdict = ratelimit.hit(
        "secrets.create", request, limit=settings.RONRON.secrets.creations_per_hour
    )
    if not verdict.allowed:
        return _too_many(verdict)
    try:
        data = json.loads(request.body)
    except ValueError:
        return _error(_("The request is not understood."), 400)
    try:
        sealed = store.check_sealed(data)
        lifetime = store.check_lifetime(data.get("lifetime"))
    except ValidationError as exc:
        status = 413 if exc.code == "too_big" else 400
        return _error(exc.messages[0], status)
    secret_id, row = store.store(sealed, lifetime=lifetime, origin=Secret.Origin.PAGE)
    return JsonResponse(
        {
            "path": reverse("secrets:show", args=[secret_id]),
            "expires_at": row.expires_at.isoformat(),
        },
        status=201,
    )


@_sealed_page
@require_http_methods(["GET", "HEAD", "POST"])
def show(request: HttpRequest, secret_id: str) -> HttpResponse:
    if request.method in {"GET", "HEAD"}:
        secret = store.peek(secret_id)
        return render(
            request,
            "secrets/show.html",
            {"secret": secret},
            status=200 if secret else 404,
        )
    verdict = ratelimit.hit(
        "secrets.reveal", request, limit=settings.RONRON.secrets.reveals_per_hour
    )
    if not verdict.allowed:
        return _too_many(verdict)
    sealed = store.claim(secret_id)
    if sealed is None:
        # The same answer whether it was revealed, expired or never existed.
        return _error(
            _("This secret no longer exists: it was already revealed, or its link expired."),
            410,
        )
    return JsonResponse(
        {
            "ciphertext": sealed.ciphertext,
            "iv": sealed.iv,
            "salt": sealed.salt,
            "iterations": sealed.iterations,
        }
    )
