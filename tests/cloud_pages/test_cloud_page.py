"""/cloud/: the licences of apps bought by the seat and who uses them, every live space; and a
member's request above a licence, which waits for a seat instead of being lost."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.portal.models import Offer, ServiceRequest
from ronron.services.actions_cloud import set_licence
from ronron.services.models import AppLicence, Service
from tests.cloud_pages.conftest import GB, account, new_space, observe, page

pytestmark = pytest.mark.django_db


@pytest.fixture
def spaces(velo, zebres, cloud1):
    set_licence(actor=None, app="onlyoffice", seats=3, note="Le contrat de 2026")
    velo_space = new_space(
        velo,
        cloud1,
        account("camille", "camille@velo.example"),
        account("alex", "alex@velo.example"),
        apps=["onlyoffice", "calendar"],
    )
    zebres_space = new_space(zebres, cloud1, account("zoe", "zoe@zebres.example"))
    observe(zebres_space, [{"id": "zoe", "name": "zoe", "used": 5 * GB, "quota": 50 * GB,
                            "enabled": True}])  # fmt: skip
    return velo_space, zebres_space


def licence_row(text: str, app_label: str) -> str:
    row = re.search(rf"<tr>\s*<td[^>]*>{re.escape(app_label)}</td>.*?</tr>", text, re.S)
    assert row is not None, f"no row for {app_label}"
    return re.sub(r"\s+", " ", row.group(0))


def test_the_licence_counts_members_accounts_and_free_seats(console, spaces):
    text = page(console.get(reverse("cloud:index")))
    row = licence_row(text, "OnlyOffice (documents edited together)")
    cells = re.findall(r'class="num">([^<]*)</td>', row)
    assert cells == ["3", "1", "2", "1"]  # seats, members, accounts, free seats
    assert "Le contrat de 2026" in row
    assert "over the licence" not in text


def test_a_licence_made_smaller_than_its_use_is_flagged(console, spaces):
    set_licence(actor=None, app="onlyoffice", seats=1)
    text = page(console.get(reverse("cloud:index")))
    assert "over the licence: 2 accounts for 1 seats" in text
    assert "no space may add accounts with it" in text


def test_a_licence_is_added_changed_and_removed_from_the_page(console, staff_user, spaces):
    response = console.post(
        reverse("cloud:licence_set"), {"app": "spreed", "seats": "10", "note": ""}, follow=True
    )
    assert "Licence recorded: Talk (chat and video calls), 10 seats." in page(response)
    console.post(reverse("cloud:licence_set"), {"app": "spreed", "seats": "12", "note": "x"})
    assert AppLicence.objects.get(app="spreed").seats == 12

    response = console.post(reverse("cloud:licence_set"), {"app": "spreed", "seats": "0"})
    assert response.status_code == 400
    assert "seats" in response.context["form"].errors
    assert AppLicence.objects.get(app="spreed").seats == 12

    response = console.post(reverse("cloud:licence_remove"), {"app": "spreed"}, follow=True)
    assert "any number of accounts may have it now" in page(response)
    assert not AppLicence.objects.filter(app="spreed").exists()
    assert AuditEntry.objects.filter(action="cloud.licence_removed", actor=staff_user).exists()


def test_every_space_is_listed_by_member_number_or_by_storage(console, spaces):
    text = page(console.get(reverse("cloud:index")))
    assert text.index("A0202") < text.index("Z0999")
    assert "5.0\xa0GB of 50.0\xa0GB used (10 %)" in text  # Zèbres, as last observed
    assert "not measured yet" in text  # Vélo, never observed
    by_use = page(console.get(reverse("cloud:index") + "?sort=used"))
    assert by_use.index("Z0999") < by_use.index("A0202")
    assert 'aria-sort="descending"' in by_use


def test_the_cloud_page_is_for_staff_only(manager_of, velo):
    client = manager_of(velo)
    assert client.get(reverse("cloud:index")).status_code == 403
    assert (
        client.post(reverse("cloud:licence_set"), {"app": "deck", "seats": "1"}).status_code == 403
    )
    assert not AppLicence.objects.exists()


def test_a_request_above_the_licence_waits_for_a_seat(console, manager_of, velo, cloud1):
    set_licence(actor=None, app="onlyoffice", seats=1)
    offer = Offer.objects.create(
        kind="cloud", title="Cloud", description="Un espace.", needs_approval=True
    )
    # The member asks from its portal: no address, the accounts, the room and the apps.
    portal = manager_of(velo)
    ask = reverse("portal:portal_requests:ask", args=[velo.number, offer.pk])
    form = page(portal.get(ask))
    assert 'name="accounts"' in form and 'name="domain"' not in form
    response = portal.post(
        ask,
        {
            "allowance": "10 Go",
            "apps": ["onlyoffice"],
            "accounts": "camille; c@velo.example\nalex; a@velo.example",
            "message": "Pour le bureau.",
        },
    )
    assert response.status_code == 302, page(response)
    item = ServiceRequest.objects.get(member=velo)
    assert (item.domain, item.details["allowance"]) == ("", 10 * GB)

    listing = page(console.get(reverse("desk:requests")))
    assert "waits for a licence seat" in listing
    detail = page(console.get(reverse("desk:request_detail", args=[item.pk])))
    assert "It waits for a licence seat:" in detail
    assert "camille &lt;c@velo.example&gt;" in detail  # the accounts asked for, readable

    response = console.post(reverse("desk:request_approve", args=[item.pk]), follow=True)
    assert "Not approved: OnlyOffice (documents edited together) is licensed for 1 accounts" in (
        page(response)
    )
    item.refresh_from_db()
    assert item.status == ServiceRequest.Status.PENDING
    assert not Service.objects.filter(kind="cloud").exists()

    # A larger licence, and the same request goes through.
    set_licence(actor=None, app="onlyoffice", seats=5)
    assert "waits for a licence seat" not in page(console.get(reverse("desk:requests")))
    console.post(reverse("desk:request_approve", args=[item.pk]))
    item.refresh_from_db()
    assert item.status == ServiceRequest.Status.APPROVED
    assert item.service.spec["apps"] == ["onlyoffice"]
