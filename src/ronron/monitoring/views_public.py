"""The public status pages: the hoster's, each member's, incidents, and the embeddable badge.

No login. They read only what the prober and ``availability.refresh_all`` keep on each check
(status, since when, availability per window), in one query for the checks and two for the
incidents, and their content is kept in Django's cache for ``PAGE_CACHE_SECONDS``, so a
member's page stays fast under load (a visit then reads only the member).

A member's page is public (at its member number) or private (only at its secret link); the
secret link shows every check of the member, the public pages only the checks marked public.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Model, Prefetch, Q, QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from ronron.members.models import Member
from ronron.monitoring.badges import badge_svg
from ronron.monitoring.models import WINDOWS, Check, Incident, IncidentUpdate, StatusPage

# The stylesheet's status classes: a colour and a sign, next to the status word.
STATUS_CSS: dict[str, str] = {
    Check.Status.UP: "ok",
    Check.Status.DEGRADED: "overdue",
    Check.Status.DOWN: "failed",
    Check.Status.UNKNOWN: "unknown",
}
STATUS_LABELS: dict[str, Any] = dict(Check.Status.choices)
INCIDENT_CSS: dict[str, str] = {
    Incident.Status.INVESTIGATING: "failed",
    Incident.Status.IDENTIFIED: "overdue",
    Incident.Status.MONITORING: "running",
    Incident.Status.RESOLVED: "ok",
}
WINDOW_LABELS: dict[str, Any] = {
    "24h": gettext_lazy("24 hours"),
    "7d": gettext_lazy("7 days"),
    "30d": gettext_lazy("30 days"),
    "365d": gettext_lazy("365 days"),
}
# Resolved incidents stay on the pages this long.
RECENT_INCIDENTS = timedelta(days=14)
RECENT_INCIDENTS_SHOWN = 10
# What a page needs of each check, in this order (see make_row).
ROW_VALUES = ("pk", "name", "status", "status_since", "last_checked_at", "availability")
# What a private link's token looks like (secrets.token_urlsafe), not a secret itself.
TOKEN_PATTERN = r"[A-Za-z0-9_-]{20,64}"  # noqa: S105
NUMBER_PATTERN = r"[A-Za-z0-9_-]{1,20}"
BADGE_MAX_AGE = 60
# A status page is built at most once per this many seconds and language: what the prober
# writes shows within that time; what admins change shows at once (see forget_pages).
PAGE_CACHE_SECONDS = 15
CACHE_PREFIX = "ronron:status:"
_GENERATION = CACHE_PREFIX + "generation"


def _generation() -> int:
    return int(cache.get_or_set(_GENERATION, 0, None) or 0)


def forget_pages(**_kwargs: Any) -> None:
    """What admins change (a check, an incident and its updates, a status page) shows on the
    next visit: every cached page is dropped (the cache key carries a generation number)."""
    try:
        cache.incr(_GENERATION)
    except ValueError:
        cache.set(_GENERATION, 1, None)


_ADMIN_MODELS: tuple[type[Model], ...] = (Check, Incident, IncidentUpdate, StatusPage)
for _model in _ADMIN_MODELS:
    post_save.connect(forget_pages, sender=_model, dispatch_uid=f"status-pages-{_model.__name__}")
    post_delete.connect(
        forget_pages, sender=_model, dispatch_uid=f"status-pages-del-{_model.__name__}"
    )
m2m_changed.connect(
    forget_pages, sender=Incident.checks.through, dispatch_uid="status-pages-incident-checks"
)


def availability_text(value: Any) -> str | None:
    """99.987 → "99,98 %" in French: rounded down, so a check never looks better than it was;
    None when nothing is known."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    shown = math.floor(float(value) * 100) / 100
    if shown >= 100:
        return "100\u00a0%"
    return f"{formats.number_format(shown, 2, use_l10n=True)}\u00a0%"


@dataclass
class Row:
    """A check as the pages show it, every text ready (a page lists many: the template only
    places them)."""

    pk: int
    name: str
    status: str
    label: str
    css: str
    since: str  # "since 12/03/2025 14:05", or ""
    windows: list[tuple[str, str | None]]  # (cell's label, availability as shown or None)


def window_columns() -> list[tuple[str, str]]:
    """(column header, cell label) of each availability window, for the current language."""
    return [
        (str(label), _("Availability over %(window)s") % {"window": label})
        for label in WINDOW_LABELS.values()
    ]


def _cells() -> list[str]:
    return [cell for _header, cell in window_columns()]


def make_row(values: tuple[Any, ...], cells: list[str]) -> Row:
    """A row from the ``ROW_VALUES`` of a check (pages read values, not model instances: a
    page of many checks is built several times faster)."""
    pk, name, status, status_since, _checked, figures = values[: len(ROW_VALUES)]
    figures = figures or {}
    since = ""
    if status_since is not None:
        when = formats.date_format(timezone.localtime(status_since), "SHORT_DATETIME_FORMAT")
        since = _("since %(when)s") % {"when": when}
    return Row(
        pk=pk,
        name=name,
        status=status,
        label=str(STATUS_LABELS.get(status, status)),
        css=STATUS_CSS.get(status, "unknown"),
        since=since,
        windows=[
            (cell, availability_text(figures.get(key)))
            for cell, key in zip(cells, WINDOWS, strict=True)
        ],
    )


def row(check: Check) -> Row:
    values = tuple(getattr(check, name) for name in ROW_VALUES)
    return make_row(values, _cells())


@dataclass
class Summary:
    """How a set of checks is doing, in one status and one sentence."""

    status: str
    css: str
    label: str
    text: str
    counts: dict[str, int] = field(default_factory=dict)


def summary(rows: Iterable[Row]) -> Summary:
    counts = {status: 0 for status in Check.Status.values}
    for item in rows:
        counts[item.status] = counts.get(item.status, 0) + 1
    total = sum(counts.values())
    if counts[Check.Status.DOWN]:
        status = Check.Status.DOWN
        text = _("Some services are down.")
    elif counts[Check.Status.DEGRADED]:
        status = Check.Status.DEGRADED
        text = _("Some services are slow.")
    elif total and counts[Check.Status.UP] == total:
        status = Check.Status.UP
        text = _("Every service is working.")
    elif counts[Check.Status.UP]:
        status = Check.Status.UP
        text = _("Every service checked so far is working.")
    else:
        status = Check.Status.UNKNOWN
        text = _("Nothing has been checked yet.")
    return Summary(
        status=status,
        css=STATUS_CSS[status],
        label=str(STATUS_LABELS[status]),
        text=text,
        counts=counts,
    )


def public_incidents(incidents: QuerySet[Incident]) -> tuple[list[Incident], list[Incident]]:
    """(open incidents, recently resolved ones), public only, each with its updates newest
    first — two queries."""
    since = timezone.now() - RECENT_INCIDENTS
    found = list(
        incidents.filter(public=True)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=since))
        .distinct()
        .order_by("-started_at", "-pk")
        .prefetch_related(
            Prefetch("updates", queryset=IncidentUpdate.objects.order_by("-at", "-pk"))
        )[: RECENT_INCIDENTS_SHOWN * 3]
    )
    for incident in found:
        incident.css = INCIDENT_CSS.get(incident.status, "unknown")  # type: ignore[attr-defined]
    open_ones = [i for i in found if i.resolved_at is None]
    recent = [i for i in found if i.resolved_at is not None][:RECENT_INCIDENTS_SHOWN]
    return open_ones, recent


def _page_is_public(member: Member) -> bool:
    try:
        return bool(member.status_page.public)
    except StatusPage.DoesNotExist:
        return False


@dataclass
class Group:
    number: str
    name: str
    public_page: bool
    rows: list[Row]


def _hoster_content(request: HttpRequest) -> str:
    found = (
        Check.objects.filter(enabled=True, public=True)
        .order_by("member__number", "name", "pk")
        .values_list(
            *ROW_VALUES,
            "member_id",
            "member__number",
            "member__name",
            "member__status_page__public",
        )
    )
    own: list[Row] = []
    groups: list[Group] = []
    cells = _cells()
    member_id: int | None = None
    latest: datetime | None = None
    for values in found:
        item = make_row(values, cells)
        latest = _later(latest, values[4])
        owner, number, name, public_page = values[len(ROW_VALUES) :]
        if owner is None:
            own.append(item)
            continue
        if owner != member_id:
            member_id = owner
            groups.append(Group(number, name, bool(public_page), []))
        groups[-1].rows.append(item)
    every = own + [r for g in groups for r in g.rows]
    open_incidents, recent = public_incidents(Incident.objects.all())
    return render_to_string(
        "monitoring/public_hoster_content.html",
        {
            "own": own,
            "groups": groups,
            "summary": summary(every),
            "open_incidents": open_incidents,
            "recent_incidents": recent,
            "columns": window_columns(),
            "updated_at": latest,
        },
        request,
    )


def _cached(key: str, build: Callable[[], str]) -> SafeString:
    """``build()``, or what it gave moments ago for ``key`` in this language and generation."""
    full_key = f"{CACHE_PREFIX}{key}:{get_language()}:{_generation()}"
    content = cache.get(full_key)
    if content is None:
        content = build()
        cache.set(full_key, content, PAGE_CACHE_SECONDS)
    return mark_safe(content)  # noqa: S308 — our own rendered template


@require_safe
def hoster(request: HttpRequest) -> HttpResponse:
    """Every member and its public checks, the hoster's own checks first."""
    content = _cached("hoster", lambda: _hoster_content(request))
    return render(request, "monitoring/public_hoster.html", {"content": content})


def _later(latest: datetime | None, moment: datetime | None) -> datetime | None:
    if moment is None or (latest is not None and latest >= moment):
        return latest
    return moment


def _member_content(request: HttpRequest, member: Member, *, private_link: bool) -> str:
    checks = Check.objects.filter(member=member, enabled=True)
    if not private_link:
        checks = checks.filter(public=True)
    cells = _cells()
    shown: list[Row] = []
    latest: datetime | None = None
    for values in checks.order_by("name", "pk").values_list(*ROW_VALUES):
        shown.append(make_row(values, cells))
        latest = _later(latest, values[4])
    # The member's own incidents, those about its checks, and those about everyone.
    incidents = Incident.objects.filter(
        Q(member=member) | Q(checks__member=member) | Q(member__isnull=True, checks__isnull=True)
    )
    open_incidents, recent = public_incidents(incidents)
    return render_to_string(
        "monitoring/public_member_content.html",
        {
            "member": member,
            "rows": shown,
            "summary": summary(shown),
            "open_incidents": open_incidents,
            "recent_incidents": recent,
            "private_link": private_link,
            "columns": window_columns(),
            "updated_at": latest,
        },
        request,
    )


def _member_page(
    request: HttpRequest, member: Member, page: StatusPage, *, private_link: bool
) -> HttpResponse:
    """The member's page; its content comes from the cache when it was made moments ago (keyed
    by a digest of the page's token: a new link or a new page never meets an old entry)."""
    digest = hashlib.sha256(page.token.encode()).hexdigest()[:24]
    content = _cached(
        f"member:{digest}:{int(private_link)}",
        lambda: _member_content(request, member, private_link=private_link),
    )
    response = render(
        request,
        "monitoring/public_member.html",
        {"member": member, "content": content, "private_link": private_link},
    )
    if private_link:
        # The link is the key: keep it out of search engines and other sites' logs.
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Referrer-Policy"] = "same-origin"
    return response


@require_safe
def member_by_token(request: HttpRequest, token: str) -> HttpResponse:
    page = StatusPage.objects.select_related("member").filter(token=token).first()
    if page is None:
        raise Http404
    return _member_page(request, page.member, page, private_link=True)


@require_safe
def member_by_number(request: HttpRequest, number: str) -> HttpResponse:
    member = Member.objects.select_related("status_page").filter(number=number).first()
    if member is None or not _page_is_public(member):
        raise Http404
    page = member.status_page
    return _member_page(request, member, page, private_link=False)


@require_safe
def incident(request: HttpRequest, pk: int) -> HttpResponse:
    found = (
        Incident.objects.filter(pk=pk, public=True)
        .prefetch_related(
            Prefetch("updates", queryset=IncidentUpdate.objects.order_by("-at", "-pk")),
            Prefetch(
                "checks",
                queryset=Check.objects.filter(public=True).only("name").order_by("name"),
            ),
        )
        .first()
    )
    if found is None:
        raise Http404
    found.css = INCIDENT_CSS.get(found.status, "unknown")  # type: ignore[attr-defined]
    return render(request, "monitoring/public_incident.html", {"incident": found})


@require_safe
def badge(request: HttpRequest, pk: int) -> HttpResponse:
    """An SVG image other sites embed: the check's name and its status word."""
    check = Check.objects.filter(pk=pk, public=True).only("name", "status", "enabled").first()
    if check is None:
        raise Http404
    if check.enabled:
        word, status = str(STATUS_LABELS.get(check.status, check.status)), check.status
    else:
        word, status = _("Paused"), Check.Status.UNKNOWN
    response = HttpResponse(
        badge_svg(check.name, word, status), content_type="image/svg+xml; charset=utf-8"
    )
    response["Cache-Control"] = f"public, max-age={BADGE_MAX_AGE}"
    return response
