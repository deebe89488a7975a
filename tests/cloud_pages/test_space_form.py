"""Asking for a cloud space or a work group in the console: the form makes the spec the driver
expects, and every mistake is shown next to its field, in words, with nothing recorded."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.services.actions_cloud import set_licence
from ronron.services.actions_rosters import create_roster
from ronron.services.models import Service
from tests.cloud_pages.conftest import GB, account, new_space, page

pytestmark = pytest.mark.django_db


def cloud_form(member: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "member": str(member.pk),
        "kind": "cloud",
        "domain": "",
        "server": "",
        "allowance": "50 Go",
        "apps": ["calendar", "deck"],
        "accounts": "camille.martin; Camille Martin; camille@velo.example; 10 Go\n"
        "\n"
        "alex\talex@velo.example\n",
        **overrides,
    }


def errors_of(response: Any) -> dict[str, str]:
    return {field: " ".join(items) for field, items in response.context["form"].errors.items()}


def test_the_form_records_a_space_with_the_spec_the_driver_expects(console, velo, cloud1):
    response = console.post(reverse("services:create"), cloud_form(velo), follow=True)
    service = Service.objects.get()
    assert response.redirect_chain[-1][0] == reverse("services:detail", args=[service.pk])
    assert (service.kind, service.server, service.domain) == ("cloud", cloud1, "")
    assert service.slug == "les-amis-du-velo"  # the group is named after the member
    assert service.spec == {
        "allowance": 50 * GB,
        "accounts": [
            {
                "id": "camille.martin",
                "name": "Camille Martin",
                "email": "camille@velo.example",
                "quota": 10 * GB,
            },
            {"id": "alex", "name": "alex", "email": "alex@velo.example", "quota": None},
        ],
        "apps": ["calendar", "deck"],
        "retired": [],
    }
    text = page(response)
    assert "Recorded. It will be created at the next apply" in text
    # Before any observation, the page says what each account will get.
    assert "camille.martin" in text and "not created yet" in text
    assert "40.0\xa0GB" in text  # alex shares what camille's own quota leaves


def test_a_login_an_email_and_a_quota_may_come_in_several_shapes(console, velo, cloud1):
    lines = "a; a@velo.example; 2 Go\nb; Bé Bop; b@velo.example\nc;;c@velo.example;1,5 Go\n"
    console.post(reverse("services:create"), cloud_form(velo, accounts=lines))
    accounts = {a["id"]: a for a in Service.objects.get().spec["accounts"]}
    assert (accounts["a"]["email"], accounts["a"]["quota"]) == ("a@velo.example", 2 * GB)
    assert (accounts["b"]["name"], accounts["b"]["quota"]) == ("Bé Bop", None)
    assert accounts["c"]["quota"] == int(1.5 * GB)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"accounts": "camille; camille@velo.example\nbad user!; x@velo.example"},
            "accounts",
            "Line 2: “bad user!” cannot be a cloud login",
        ),
        ({"accounts": "just-a-login"}, "accounts", "Line 1: give at least a login and an e-mail"),
        (
            {"accounts": "camille; camille@velo.example; lots"},
            "accounts",
            "Line 1: “lots” is not a size",
        ),
        ({"accounts": "camille; Camille; pas-une-adresse"}, "accounts", "Line 1: Enter a valid"),
        ({"accounts": "a;b;c@d.example;1 Go;extra"}, "accounts", "Line 1: too many parts"),
        (
            {"accounts": "camille; camille@velo.example\nCamille; autre@velo.example"},
            "accounts",
            "are the same login for the cloud",
        ),
        ({"allowance": "beaucoup"}, "allowance", "“beaucoup” is not a size"),
        ({"allowance": ""}, "allowance", "Give the storage the space may use"),
        (
            {"allowance": "5 Go", "accounts": "a; a@velo.example; 4 Go\nb; b@velo.example; 2 Go"},
            "allowance",
            "add up to more than the space's allowance",
        ),
        ({"apps": ["calendar", "bitcoin"]}, "apps", "Select a valid choice"),
    ],
)
def test_mistakes_show_next_to_their_field_and_nothing_is_recorded(
    console, velo, cloud1, overrides, field, message
):
    before = AuditEntry.objects.count()
    response = console.post(reverse("services:create"), cloud_form(velo, **overrides))
    assert response.status_code == 400
    assert message in errors_of(response)[field]
    assert f'id="id_{field}_error"' in page(response)
    assert Service.objects.count() == 0
    assert AuditEntry.objects.count() == before


def test_a_login_another_space_of_the_server_uses_is_refused_whatever_its_case(
    console, velo, zebres, cloud1
):
    new_space(zebres, cloud1, account("camille", "camille@zebres.example"))
    response = console.post(
        reverse("services:create"), cloud_form(velo, accounts="CAMILLE; c@velo.example")
    )
    assert response.status_code == 400
    assert "the login CAMILLE is used by Zèbres Solidaires" in errors_of(response)["accounts"]
    assert Service.objects.count() == 1


def test_a_space_above_the_licence_is_refused_next_to_the_apps(console, velo, zebres, cloud1):
    set_licence(actor=None, app="onlyoffice", seats=2, note="")
    new_space(zebres, cloud1, account("zoe", "zoe@zebres.example"), apps=["onlyoffice"])
    form = console.get(reverse("services:create")).content.decode()
    assert "licence: 1 of 2 seats free" in form
    response = console.post(reverse("services:create"), cloud_form(velo, apps=["onlyoffice"]))
    assert response.status_code == 400
    assert (
        "OnlyOffice (documents edited together) is licensed for 2 accounts: 1 have it already "
        "and this space asks for 2." in errors_of(response)["apps"]
    )
    assert Service.objects.count() == 1


def test_no_cloud_server_is_explained_next_to_the_server_field(console, velo):
    response = console.post(reverse("services:create"), cloud_form(velo))
    assert "No server takes cloud yet" in errors_of(response)["server"]


def test_a_web_site_still_needs_its_address(console, velo, cloud1):
    response = console.post(
        reverse("services:create"), {"member": str(velo.pk), "kind": "static", "domain": ""}
    )
    assert response.status_code == 400
    assert "This field is required." in errors_of(response)["domain"]


def test_a_work_group_follows_the_roster_chosen_with_it(console, velo, cloud1, staff_user):
    roster = create_roster(actor=None, name="Conseil", source="board")
    response = console.post(
        reverse("services:create"),
        {
            "member": str(velo.pk),
            "kind": "cloudgroup",
            "group_name": "Conseil d'administration",
            "roster": str(roster.pk),
        },
        follow=True,
    )
    group = Service.objects.get()
    assert (group.kind, group.server, group.roster) == ("cloudgroup", cloud1, roster)
    assert group.spec == {"name": "Conseil d'administration"}
    assert AuditEntry.objects.filter(action="service.roster_changed", actor=staff_user).exists()
    text = page(response)
    assert "Conseil d&#x27;administration" in text
    assert "Its members are the addresses of the roster" in text


def test_a_work_group_without_a_roster_is_refused(console, velo, cloud1):
    response = console.post(
        reverse("services:create"), {"member": str(velo.pk), "kind": "cloudgroup"}
    )
    assert response.status_code == 400
    assert "Choose the roster" in errors_of(response)["roster"]
    assert Service.objects.count() == 0
