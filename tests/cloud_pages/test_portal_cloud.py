"""A member's cloud space in its portal: its accounts and their usage, read only, and never
another member's."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.cloud_pages.conftest import GB, account, new_space, observe, page

pytestmark = pytest.mark.django_db


def test_the_dashboard_shows_the_members_own_space_only(manager_of, velo, zebres, cloud1):
    mine = new_space(velo, cloud1, account("camille", "camille@velo.example", "Camille Martin"))
    observe(mine, [{"id": "camille", "name": "Camille Martin", "used": GB, "quota": 50 * GB,
                    "enabled": True}])  # fmt: skip
    new_space(zebres, cloud1, account("zoe.zebre", "zoe@zebres.example"))

    portal = manager_of(velo)
    text = page(portal.get(reverse("portal:dashboard", args=["A0202"])))
    assert "Your cloud space" in text
    assert "Camille Martin" in text
    assert "1.0\xa0GB of 50.0\xa0GB used (2 %)" in text
    assert "zoe.zebre" not in text and "Zèbres" not in text
    # Read only: no form to change the space from here.
    assert reverse("services:settings", args=[mine.pk]) not in text
    assert portal.get(reverse("portal:dashboard", args=["Z0999"])).status_code == 404


def test_a_member_without_a_cloud_space_sees_no_cloud_section(manager_of, velo):
    text = page(manager_of(velo).get(reverse("portal:dashboard", args=["A0202"])))
    assert "Your cloud space" not in text
