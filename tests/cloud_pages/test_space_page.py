"""A cloud space's page: its accounts with the space each uses, the allowance, the apps, the
retired accounts; its settings form; a work group's page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from ronron.drivers.base import Observation
from ronron.reconcile.observations import record_observation
from ronron.services.actions import request_service
from ronron.services.actions_rosters import create_roster, follow_roster
from ronron.services.models import RosterSync
from tests.cloud_pages.conftest import GB, account, new_space, observe, page

pytestmark = pytest.mark.django_db


@pytest.fixture
def space(velo, cloud1):
    return new_space(
        velo,
        cloud1,
        account("camille", "camille@velo.example", "Camille Martin", "10 Go"),
        account("alex", "alex@velo.example"),
        apps=["calendar"],
    )


def test_the_page_shows_each_account_with_its_usage_in_a_bar_and_in_words(console, space):
    observe(
        space,
        [
            {"id": "camille", "name": "Camille Martin", "used": 2 * GB, "quota": 10 * GB,
             "enabled": True},
            {"id": "alex", "name": "alex", "used": 0, "quota": 40 * GB, "enabled": False},
        ],
    )  # fmt: skip
    text = page(console.get(reverse("services:detail", args=[space.pk])))
    assert "2.0\xa0GB of 10.0\xa0GB used (20 %)" in text
    assert '<progress max="100" value="20"' in text
    # The space's own figure: what its accounts use of the allowance.
    assert "2.0\xa0GB of 50.0\xa0GB used (4 %)" in text
    row = re.search(r"<code>alex</code>.*?</tr>", text, re.S)
    assert row is not None and "disabled" in row.group(0)
    assert "Calendar and appointments" in text
    assert "Group on the cloud" in text


def test_the_settings_form_is_prefilled_and_retires_an_account_taken_out(console, space):
    url = reverse("services:settings", args=[space.pk])
    form = page(console.get(url))
    assert "camille; Camille Martin; camille@velo.example; 10 GB" in form
    assert "alex; alex@velo.example" in form
    assert 'value="50 GB"' in form

    response = console.post(
        url,
        {
            "allowance": "60 GB",
            "apps": ["calendar", "deck"],
            "accounts": "camille; Camille Martin; camille@velo.example; 10 GB",
        },
        follow=True,
    )
    space.refresh_from_db()
    assert [a["id"] for a in space.spec["accounts"]] == ["camille"]
    assert space.spec["retired"] == ["alex"]
    assert (space.spec["allowance"], space.spec["apps"]) == (60 * GB, ["calendar", "deck"])
    text = page(response)
    assert "Changes saved" in text
    assert "Retired accounts" in text
    assert "Disabled, files kept until the space is removed" in text

    # Put back, the account is simply active again.
    console.post(
        url,
        {
            "allowance": "60 GB",
            "accounts": "camille; camille@velo.example\nalex; alex@velo.example",
        },
    )
    space.refresh_from_db()
    assert space.spec["retired"] == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"allowance": "50 GB", "accounts": "camille; camille@velo.example; trop"},
            "accounts",
            "Line 1: “trop” is not a size",
        ),
        (
            {"allowance": "5 GB", "accounts": "camille; camille@velo.example; 10 GB"},
            "allowance",
            "add up to more than the space's allowance",
        ),
    ],
)
def test_a_mistake_in_the_settings_is_shown_and_nothing_changes(
    console, space, data, field, message
):
    before = dict(space.spec)
    response = console.post(reverse("services:settings", args=[space.pk]), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    space.refresh_from_db()
    assert space.spec == before


def test_suspending_a_space_speaks_of_its_accounts(console, space):
    text = page(console.get(reverse("services:suspend", args=[space.pk])))
    assert "Every account of the space is disabled" in text
    response = console.post(reverse("services:suspend", args=[space.pk]), follow=True)
    assert "The accounts will be disabled at the next apply" in page(response)


def test_a_work_group_page_shows_its_roster_members_and_syncs(console, velo, cloud1):
    roster = create_roster(actor=None, name="Conseil", source="board")
    group = request_service(velo, actor=None, kind="cloudgroup", server=cloud1, spec={})
    follow_roster(group, roster, actor=None)
    record_observation(group, Observation("present", {"group": True, "members": ["a", "b"]},
                                          {"members": 2}))  # fmt: skip
    RosterSync.objects.create(
        service=group, roster=roster, outcome="ok", addresses=3, message="2 added"
    )
    text = page(console.get(reverse("services:detail", args=[group.pk])))
    assert "2 accounts" in text
    assert "Conseil" in text and "Last synchronisations" in text and "2 added" in text
    # Its name in Nextcloud is the member's unless another is given.
    assert "<dt>Name in Nextcloud</dt><dd>Les Amis du Vélo</dd>" in text

    url = reverse("services:settings", args=[group.pk])
    # The roster is changed on the group's page, not among its settings.
    assert 'name="roster"' not in page(console.get(url))
    console.post(url, {"group_name": "Bureau"})
    group.refresh_from_db()
    assert (group.spec, group.roster) == ({"name": "Bureau"}, roster)
