"""Tenant isolation: with two members A and B, each with its manager, manager A tries every
URL of the project with B's identifiers — reading (GET) and writing (POST) — and never gets
B's data, nor changes a single row of B.

The routes are not listed by hand: the test walks Django's resolver, so a new route is swept as
soon as it exists. Each URL keyword is filled with B's value for it; a keyword the test does not
know fails the test (say in ``VALUES`` what it names), so that no route escapes the sweep. Routes
that are public by design are listed in ``PUBLIC`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from ronron.members.models import Application, Contact, Member, Membership
from ronron.monitoring.models import Check, Incident, Maintenance
from ronron.portal import exports
from ronron.portal.models import (
    HelpMessage,
    HelpRequest,
    Invitation,
    ManagerAccess,
    ServiceRequest,
)
from ronron.services.models import Roster, Service
from tests.portal.conftest import IMMEDIATE, Tenant

pytestmark = pytest.mark.django_db

# Public by design: anyone may open them, logged in or not; none shows a member's data to
# another member (status pages show only what the member published).
PUBLIC: dict[str, str] = {
    "core:login": "the login page",
    "core:logout": "logs the visitor out of their own session, nothing else",
    "set_language": "the language choice, kept in the visitor's own cookie",
    "status:": "public status pages, feeds and badges (a member's page is published by choice)",
    "secrets:": "one-time secret links (the link's key is the credential)",
    "join:": "the public application form",
    "chatonsinfos:": "the public CHATONS statistics files",
    "portal:invitation": "accepting an invitation (the link's token is the credential)",
    "api:schema": "the API's description: no data",
}
# A route with no name cannot be built; each one is listed here with the reason.
UNNAMED: dict[str, str] = {
    "api/^": "the API's catch-all answer for unknown paths (404, no data)",
}
ANONYMOUS_API_STATUSES = {401, 403, 404, 405}
REFUSED = {403, 404, 405}
# What the sweep POSTs: a plausible write to any form of the project (contacts, requests,
# help, invitations, dues…), so that a view that forgot to check would really change a row.
PAYLOAD = {
    "name": "Pirate",
    "email": "pirate@example.org",
    "phone": "0000",
    "roles": ["tech"],
    "subject": "Pirate",
    "body": "Pirate",
    "message": "Pirate",
    "reason": "Pirate",
    "domain": "pirate.example.org",
    "is_helper": "1",
    "year": "2030",
    "amount": "1",
    "paid_on": "2030-01-01",
    "method": "cash",
    "on": "2030-01-01",
    "leave_on": "2030-12-31",
    "action": "accept",
}


@dataclass
class Target:
    """The identifiers the URLs are built from, and B's strings that must never show."""

    tenant: Tenant
    job: int
    roster: int
    application: int
    maintenance: int
    incident: int
    offer: int


def _pk_owner(name: str, namespace: str) -> str | None:
    """What ``pk`` names in the route ``namespace:name`` (None: unknown, the test fails)."""
    if namespace == "desk":
        if name.startswith("catalog"):
            return "offer"
        return "help_request" if name.startswith("help") else "service_request"
    if namespace == "monitoring":
        for prefix, owner in (
            ("check", "check"),
            ("maintenance", "maintenance"),
            ("incident", "incident"),
            ("status_page", "member"),
        ):
            if name.startswith(prefix):
                return owner
        return None
    if namespace == "access":
        return {"invite": "member", "cancel": "invitation"}.get(name, "access")
    if namespace == "api":
        return "membership" if name.startswith("membership") else "contact"
    return {
        "members": "member",
        "services": "service",
        "rosters": "roster",
        "jobs": "job",
        "applications": "application",
        "reconcile": "run",
        "themes": "theme",
        "portal:portal_requests": "service_request",
        "portal:portal_help": "help_request",
        "portal:helpers": "help_request",
        "": "roster" if name == "roster_feed" else None,
    }.get(namespace)


def _owned(target: Target) -> dict[str, Any]:
    b = target.tenant
    return {
        "member": b.member.pk,
        "contact": b.contact.pk,
        "membership": b.membership.pk,
        "service": b.service.pk,
        "check": b.check.pk,
        "service_request": b.service_request.pk,
        "help_request": b.help_request.pk,
        "access": b.access.pk,
        "invitation": b.invitation.pk,
        "job": target.job,
        "roster": target.roster,
        "application": target.application,
        "maintenance": target.maintenance,
        "incident": target.incident,
    }


# Keyword → B's value for it (or, for keywords that name no member's row, a valid value).
VALUES: dict[str, Callable[[Target, str, str], Any]] = {
    "number": lambda t, name, ns: t.tenant.member.number,
    "contact_pk": lambda t, name, ns: t.tenant.contact.pk,
    "membership_pk": lambda t, name, ns: t.tenant.membership.pk,
    "job_id": lambda t, name, ns: t.job,
    "offer_id": lambda t, name, ns: t.offer,  # the catalog is the same for every member
    "token": lambda t, name, ns: "x" * 43,  # a guessed token
    "fmt": lambda t, name, ns: "csv",
    "name": lambda t, name, ns: "web-local",  # servers are the hoster's, not a member's
    "slug": lambda t, name, ns: "velo",  # themes are shared
    "key": lambda t, name, ns: "portal.invitation",  # message kinds are the hoster's
    "language": lambda t, name, ns: "fr",
    "pk": lambda t, name, ns: _pk(t, name, ns),
}
# Keywords whose value is one of B's rows: with A's number and these, the URL still names B.
B_ROWS = {"contact_pk", "membership_pk", "job_id", "pk"}


def _pk(target: Target, name: str, namespace: str) -> Any:
    owner = _pk_owner(name, namespace)
    if owner is None:
        pytest.fail(
            f"the sweep does not know what pk names in {namespace}:{name}; say it in _pk_owner"
        )
    owned = _owned(target)
    if owner in owned:
        return owned[owner]
    return {"run": 1, "offer": target.offer, "theme": 1}[owner]


@dataclass
class Route:
    namespace: str
    name: str | None
    route: str
    keywords: list[str]

    @property
    def full_name(self) -> str:
        return f"{self.namespace}:{self.name}" if self.namespace else str(self.name)

    def is_public(self) -> bool:
        return any(
            self.full_name == key or (key.endswith(":") and self.full_name.startswith(key))
            for key in PUBLIC
        )


def _keywords(pattern: Any) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters:
        return list(converters)
    return list(pattern.regex.groupindex)


def walk(
    patterns: list[Any] | None = None,
    namespace: str = "",
    route: str = "",
    keywords: list[str] | None = None,
) -> Iterator[Route]:
    """Every URL pattern of the project, with its namespace and all its keywords."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        here = keywords or []
        if isinstance(entry, URLResolver):
            inner = entry.namespace or ""
            yield from walk(
                entry.url_patterns,
                f"{namespace}:{inner}".strip(":") if inner else namespace,
                route + str(entry.pattern),
                here + _keywords(entry.pattern),
            )
        elif isinstance(entry, URLPattern):
            yield Route(
                namespace, entry.name, route + str(entry.pattern), here + _keywords(entry.pattern)
            )


def build(route: Route, target: Target, overrides: dict[str, Any] | None = None) -> str:
    kwargs = {}
    for keyword in route.keywords:
        if keyword not in VALUES:
            pytest.fail(f"{route.full_name} ({route.route}): unknown URL keyword {keyword!r}")
        kwargs[keyword] = VALUES[keyword](target, route.name or "", route.namespace)
    kwargs.update(overrides or {})
    return reverse(route.full_name, kwargs=kwargs)


def swept_routes() -> list[Route]:
    routes = []
    for route in walk():
        if route.name is None:
            assert route.route in UNNAMED, f"unnamed route {route.route}: name it or list it"
            continue
        if not route.is_public():
            routes.append(route)
    return routes


def snapshot(tenant: Tenant) -> dict[str, list[dict[str, Any]]]:
    member = tenant.member
    tables: dict[str, Any] = {
        "member": Member.objects.filter(pk=member.pk),
        "contacts": Contact.objects.filter(member=member),
        "memberships": Membership.objects.filter(member=member),
        "services": Service.objects.filter(member=member),
        "checks": Check.objects.filter(member=member),
        "service_requests": ServiceRequest.objects.filter(member=member),
        "help_requests": HelpRequest.objects.filter(member=member),
        "help_messages": HelpMessage.objects.filter(request__member=member),
        "accesses": ManagerAccess.objects.filter(member=member),
        "invitations": Invitation.objects.filter(member=member),
        "applications": Application.objects.filter(member=member),
        "rosters": Roster.objects.filter(member=member),
        "maintenances": Maintenance.objects.filter(member=member),
        "incidents": Incident.objects.filter(member=member),
    }
    return {name: list(rows.order_by("pk").values()) for name, rows in tables.items()}


@pytest.fixture
def target(tenant_a, tenant_b, offer) -> Target:
    with override_settings(TASKS=IMMEDIATE):
        job = exports.start_member_export(tenant_b.member, actor=tenant_b.manager)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    b = tenant_b.member
    roster = Roster.objects.create(slug="zebres", name="Zèbres", source="member", member=b)
    application = Application.objects.create(
        kind="association",
        name=b.name,
        contact_name="Zoé",
        contact_email=b.contacts.first().email,
        member=b,
        status=Application.Status.APPROVED,
    )
    now = timezone.now()
    maintenance = Maintenance.objects.create(
        title="Zèbres", starts_at=now, ends_at=now + timedelta(hours=1), member=b
    )
    incident = Incident.objects.create(title="Zèbres", member=b, started_at=now)
    return Target(
        tenant=tenant_b,
        job=job.pk,
        roster=roster.pk,
        application=application.pk,
        maintenance=maintenance.pk,
        incident=incident.pk,
        offer=offer.pk,
    )


def _assert_refused(response: Any, url: str, method: str, target: Target) -> None:
    where = f"{method} {url}"
    status = response.status_code
    if status == 302:
        location = response["Location"]
        assert location.startswith((reverse("core:login"), reverse("portal:home"))) or (
            location.startswith(reverse("portal:dashboard", args=["A0202"]))
        ), f"{where} redirects to {location}"
    else:
        assert status in REFUSED | {401}, f"{where} answered {status}"
    content = b"" if getattr(response, "streaming", False) else response.content
    # Pages repeat their own address (the language form comes back to it): not B's data.
    text = content.decode("utf-8", "replace").replace(url, "")
    for secret in [target.tenant.member.number, *target.tenant.secrets]:
        assert secret not in text, f"{where} shows {secret!r}"


def test_manager_a_can_neither_read_nor_change_b(client, tenant_a, target):
    b = target.tenant
    before = snapshot(b)
    mail.outbox.clear()
    client.force_login(tenant_a.manager)
    swept = 0
    for route in swept_routes():
        urls = [build(route, target)]
        if "number" in route.keywords and B_ROWS & set(route.keywords):
            # Our own number with B's rows: the door is ours, the rows must still be refused.
            urls.append(build(route, target, {"number": "A0202"}))
        for url in urls:
            for method in ("GET", "POST"):
                if "_auth_user_id" not in client.session:
                    client.force_login(tenant_a.manager)
                response = client.get(url) if method == "GET" else client.post(url, PAYLOAD)
                _assert_refused(response, url, method, target)
                swept += 1
    assert swept > 200
    assert snapshot(b) == before
    for message in mail.outbox:
        assert not set(message.to) & {b.contact.email, b.other_contact.email, b.manager.email}


def test_the_api_refuses_a_manager_and_anyone_without_a_token(client, tenant_a, target):
    routes = [r for r in swept_routes() if r.namespace == "api"]
    assert len(routes) >= 10
    before = snapshot(target.tenant)
    for who in ("manager", "anonymous", "bad token"):
        client.logout()
        headers = {}
        if who == "manager":
            client.force_login(tenant_a.manager)
        elif who == "bad token":
            headers = {"HTTP_AUTHORIZATION": "Token " + "0" * 40}
        for route in routes:
            url = build(route, target)
            for method in ("get", "post", "patch", "delete"):
                response = getattr(client, method)(url, {}, **headers)
                assert response.status_code in ANONYMOUS_API_STATUSES, (
                    f"{who}: {method.upper()} {url} answered {response.status_code}"
                )
                for secret in [target.tenant.member.number, *target.tenant.secrets]:
                    assert secret.encode() not in response.content
    assert snapshot(target.tenant) == before


# Portal routes whose answer to a manager on their own member is not a page, and why.
NOT_A_PAGE = {
    "portal:helpers": "volunteer helpers only; A is not one",
}


def test_manager_a_opens_its_own_portal_pages(client, tenant_a, target):
    """The same sweep on A's own identifiers: every portal page of A answers."""
    a = Target(
        tenant=tenant_a,
        job=exports.start_member_export(tenant_a.member, actor=tenant_a.manager).pk,
        roster=target.roster,
        application=target.application,
        maintenance=target.maintenance,
        incident=target.incident,
        offer=target.offer,
    )
    client.force_login(tenant_a.manager)
    opened = []
    for route in swept_routes():
        if not route.namespace.startswith("portal") or route.namespace in NOT_A_PAGE:
            continue
        url = build(route, a)
        response = client.get(url)
        status = response.status_code
        if route.name.startswith("console") or route.namespace == "portal:helpers":
            assert status in REFUSED, f"GET {url}: {status}"  # staff's buttons
        elif "token" in route.keywords:
            assert status == 404, f"GET {url}: {status}"  # a guessed token opens nothing
        elif route.name == "data_download":
            # The job A just queued has not run (no worker here): nothing to download yet.
            assert status == 404, f"GET {url}: {status}"
        elif status == 302:  # the portal's home goes to A's only member
            assert response["Location"].startswith("/portal/A0202/"), f"GET {url}: {status}"
        else:
            assert status in (200, 405), f"GET {url}: {status}"
            if status == 200:
                opened.append(route.full_name)
    assert {
        "portal:dashboard",
        "portal:services",
        "portal:dues",
        "portal:contacts",
        "portal:contact_add",
        "portal:contact_edit",
        "portal:contact_remove",
        "portal:data",
    } <= set(opened)
