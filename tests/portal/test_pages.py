"""The portal's pages show the member's own services, availability, dues and contacts; contact
changes go through the member actions, and bad input writes nothing."""

from __future__ import annotations

import dataclasses
import re
from datetime import date

import pytest
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.members.models import Contact
from ronron.portal.models import ManagerAccess

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"portal:{name}", args=["A0202", *args])


def error_of(html: str, field_id: str) -> str:
    match = re.search(rf'<div class="field__error" id="{field_id}_error">(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)).strip() if match else ""


def test_home_goes_straight_to_the_only_member(manager_a):
    response = manager_a.get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"] == url("dashboard")


def test_dashboard_shows_the_member_services_availability_and_dues(manager_a, tenant_a, tenant_b):
    response = manager_a.get(url("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "A0202" in html and "Les Amis du Vélo" in html
    # The managed site with its state in plain words and its availability; the external list
    # has no check yet.
    assert "site.amis-velo.example.org" in html and "Running" in html
    assert "99.50" in html and "98.25" in html
    assert "liste-A0202" in html and "no check yet" in html
    # This year's dues, called and not paid yet.
    year = date.today().year
    assert f"Dues {year}" in html and "30.00" in html
    for secret in tenant_b.secrets:
        assert secret not in html
    # The portal's menu: the member's pages, and those of the parts that exist.
    for name in ("dashboard", "services", "dues", "contacts", "data"):
        assert f'href="{url(name)}"' in html
    assert reverse("portal:portal_requests:index", args=["A0202"]) in html
    assert reverse("portal:portal_help:index", args=["A0202"]) in html


def test_services_page_lists_every_service(manager_a, tenant_a):
    html = manager_a.get(url("services")).content.decode()
    assert "site.amis-velo.example.org" in html and "liste-A0202" in html
    assert "Hosted elsewhere" in html


def test_dues_page_lists_years_and_how_to_pay(manager_a, settings):
    organization = {**settings.RONRON.organization, "email": "tresorerie@hoster.example.org"}
    settings.RONRON = dataclasses.replace(settings.RONRON, organization=organization)
    html = manager_a.get(url("dues")).content.decode()
    year = date.today().year
    assert str(year) in html and str(year - 1) in html
    assert "30.00" in html and "25.00" in html
    assert "Paid" in html and "Bank transfer" in html
    assert "tresorerie@hoster.example.org" in html
    assert "A0202" in html


def test_contacts_can_be_added_changed_and_removed(manager_a, tenant_a):
    page = manager_a.get(url("contacts")).content.decode()
    assert tenant_a.contact.email in page and tenant_a.other_contact.email in page

    response = manager_a.post(
        url("contact_add"),
        {"name": "Sam Trésor", "email": "Sam@Amis-Velo.example.org", "roles": ["treasurer"]},
    )
    assert response.status_code == 302 and response["Location"] == url("contacts")
    added = Contact.objects.get(member=tenant_a.member, email="sam@amis-velo.example.org")
    assert added.roles == "treasurer"
    entry = AuditEntry.objects.get(action="contact.added", object_id=str(added.pk))
    assert entry.actor == tenant_a.manager and entry.member_id == tenant_a.member.pk

    response = manager_a.post(
        url("contact_edit", added.pk),
        {
            "name": "Sam Trésor",
            "email": "sam@amis-velo.example.org",
            "phone": "05 61 00 00 00",
            "roles": ["treasurer", "billing"],
        },
    )
    assert response.status_code == 302
    added.refresh_from_db()
    assert added.phone == "05 61 00 00 00" and added.roles == "billing,treasurer"

    assert manager_a.get(url("contact_remove", added.pk)).status_code == 200
    response = manager_a.post(url("contact_remove", added.pk))
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=added.pk).exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "Sam", "email": "not an address"}, "email", "valid email"),
        ({"name": "Sam\r\nBcc: x@example.org", "email": "sam@example.org"}, "name", "Line breaks"),
        ({"name": "", "email": "sam@example.org"}, "name", "required"),
        ({"name": "Sam", "email": "sam@example.org", "phone": "05\n61"}, "phone", "Line breaks"),
        ({"name": "Sam", "email": "sam@example.org", "roles": ["boss"]}, "roles", "valid choice"),
    ],
)
def test_bad_contact_input_writes_nothing(manager_a, tenant_a, data, field, message):
    before = list(Contact.objects.order_by("pk").values())
    audit_before = AuditEntry.objects.count()

    response = manager_a.post(url("contact_add"), data)

    assert response.status_code == 200
    assert message in error_of(response.content.decode(), f"id_{field}")
    assert list(Contact.objects.order_by("pk").values()) == before
    assert AuditEntry.objects.count() == audit_before


def test_a_duplicate_address_is_shown_next_to_the_email(manager_a, tenant_a):
    before = list(Contact.objects.order_by("pk").values())
    response = manager_a.post(
        url("contact_edit", tenant_a.other_contact.pk),
        {"name": "Technique", "email": tenant_a.contact.email, "roles": ["tech"]},
    )
    assert response.status_code == 200
    assert "already has this address" in error_of(response.content.decode(), "id_email")
    assert list(Contact.objects.order_by("pk").values()) == before


def test_the_last_contact_cannot_be_removed(manager_a, tenant_a):
    manager_a.post(url("contact_remove", tenant_a.other_contact.pk))
    assert Contact.objects.filter(member=tenant_a.member).count() == 1

    response = manager_a.post(url("contact_remove", tenant_a.contact.pk))

    assert response.status_code == 400
    assert "at least one contact" in response.content.decode()
    assert Contact.objects.filter(pk=tenant_a.contact.pk).exists()


def test_another_members_contact_is_not_found_through_our_number(manager_a, tenant_a, tenant_b):
    for name in ("contact_edit", "contact_remove"):
        assert manager_a.get(url(name, tenant_b.contact.pk)).status_code == 404
        assert (
            manager_a.post(
                url(name, tenant_b.contact.pk), {"name": "X", "email": "x@example.org"}
            ).status_code
            == 404
        )
    tenant_b.contact.refresh_from_db()
    assert tenant_b.contact.name == "Présidence Zèbres Solidaires"


def test_a_disabled_account_sees_nothing(client, tenant_a):
    tenant_a.manager.is_active = False
    tenant_a.manager.save()
    client.force_login(tenant_a.manager)
    assert client.get(url("dashboard")).status_code in (302, 404)
    assert ManagerAccess.objects.filter(user=tenant_a.manager).exists()
