"""Two members, A and B, each with its manager and a bit of everything a member has.

Rows that belong to parts not under test here (service requests, help) are written with the ORM;
everything the portal itself does goes through HTTP in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from ronron.members import actions as member_actions
from ronron.members.models import Contact, Member, Membership
from ronron.monitoring.models import Check
from ronron.portal.models import (
    HelpMessage,
    HelpRequest,
    Invitation,
    ManagerAccess,
    Offer,
    ServiceRequest,
)
from ronron.services.actions import record_external_service
from ronron.services.models import Service
from tests.core.helpers import make_member

PASSWORD = "un-mot-de-passe-solide"
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@dataclass
class Tenant:
    member: Member
    manager: Any
    access: ManagerAccess
    contact: Contact
    other_contact: Contact
    membership: Membership
    service: Service
    external: Service
    check: Check
    service_request: ServiceRequest
    help_request: HelpRequest
    help_message: HelpMessage
    invitation: Invitation

    @property
    def secrets(self) -> list[str]:
        """Strings that only this tenant's data holds: none may show on another's pages."""
        return [
            self.member.name,
            self.contact.email,
            self.other_contact.email,
            self.contact.name,
            self.service.domain,
            self.help_request.subject,
            self.help_message.body,
            self.service_request.domain,
        ]


@pytest.fixture(autouse=True)
def portal_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


@pytest.fixture
def offer(db):
    return Offer.objects.get_or_create(
        kind="wordpress",
        defaults={"title": "WordPress site", "description": "A site you edit yourself."},
    )[0]


def make_tenant(
    django_user_model: Any,
    offer: Offer,
    *,
    number: str,
    name: str,
    domain: str,
    manager: str,
    staff: Any = None,
) -> Tenant:
    member = make_member(actor=staff, number=number, name=name, kind="association")
    contact = member_actions.add_contact(
        member,
        actor=staff,
        name=f"Présidence {name}",
        email=f"presidence@{domain}",
        roles="president",
    )
    other = member_actions.add_contact(
        member, actor=staff, name=f"Technique {name}", email=f"tech@{domain}", roles="tech"
    )
    year = date.today().year
    membership = member_actions.call_dues(
        member, actor=staff, year=year, amount=Decimal("30.00"), on=date(year, 1, 2)
    )
    member_actions.create_membership(
        member,
        actor=staff,
        year=year - 1,
        amount=Decimal("25.00"),
        called_on=date(year - 1, 1, 2),
        paid_on=date(year - 1, 2, 3),
        payment_method="transfer",
    )
    service = Service.objects.create(
        member=member,
        kind="wordpress",
        family="web",
        managed=True,
        slug=number.lower(),
        domain=f"site.{domain}",
        observed_state=Service.Observed.PRESENT,
    )
    external = record_external_service(
        member, actor=staff, kind="list", family="lists", name=f"liste-{number}"
    )
    check = Check.objects.create(
        name=f"site.{domain}",
        kind=Check.Kind.HTTP,
        target=f"https://site.{domain}/",
        member=member,
        service=service,
        purpose="https",
        status=Check.Status.UP,
        availability={"24h": 99.5, "7d": 99.9, "30d": 98.25, "365d": None},
    )
    user = django_user_model.objects.create_user(username=manager, email=manager, password=PASSWORD)
    access = ManagerAccess.objects.create(user=user, member=member)
    service_request = ServiceRequest.objects.create(
        member=member,
        offer=offer,
        domain=f"nouveau.{domain}",
        details={"title": f"Nouveau site {name}"},
        message=f"Merci de la part de {name}",
        requested_by=user,
    )
    help_request = HelpRequest.objects.create(
        member=member, subject=f"Question de {name}", service=service, opened_by=user
    )
    help_message = HelpMessage.objects.create(
        request=help_request,
        author=user,
        author_name=manager,
        body=f"Notre site {domain} ne répond plus",
    )
    invitation = Invitation.objects.create(
        member=member,
        email=f"invitee@{domain}",
        token_hash=f"{number:0>64}"[-64:],
        expires_at=timezone.now() + timedelta(days=3),
    )
    return Tenant(
        member=member,
        manager=user,
        access=access,
        contact=contact,
        other_contact=other,
        membership=membership,
        service=service,
        external=external,
        check=check,
        service_request=service_request,
        help_request=help_request,
        help_message=help_message,
        invitation=invitation,
    )


@pytest.fixture
def tenant_a(django_user_model, offer, staff_user):
    return make_tenant(
        django_user_model,
        offer,
        number="A0202",
        name="Les Amis du Vélo",
        domain="amis-velo.example.org",
        manager="marie@amis-velo.example.org",
        staff=staff_user,
    )


@pytest.fixture
def tenant_b(django_user_model, offer, staff_user, tenant_a):
    # Made after A, so that B's rows never share a primary key with A's of the same table.
    return make_tenant(
        django_user_model,
        offer,
        number="Z0999",
        name="Zèbres Solidaires",
        domain="zebres-solidaires.example.net",
        manager="zoe@zebres-solidaires.example.net",
        staff=staff_user,
    )


@pytest.fixture
def manager_a(client, tenant_a):
    client.force_login(tenant_a.manager)
    return client


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client
