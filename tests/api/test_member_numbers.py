"""Member numbers in the API: found whatever their case; an unknown one answered in our words."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ronron.api import actions as api_actions
from ronron.members import actions
from ronron.members.models import Member

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/members/"


@pytest.fixture
def api(staff_user):
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {api_actions.issue_token(staff_user, actor=None)}"
    )
    return client


def test_numbers_are_stored_in_upper_case_and_found_in_any_case(api):
    response = api.post(MEMBERS, {"number": "a0400", "kind": "association", "name": "Un"})
    assert response.status_code == 201, response.content
    assert response.json()["number"] == "A0400"
    assert api.get(f"{MEMBERS}a0400/").json()["number"] == "A0400"
    assert api.get(f"{MEMBERS}a0400/contacts/").status_code == 200

    again = api.post(MEMBERS, {"number": "A0400", "kind": "association", "name": "Deux"})
    assert again.status_code == 400
    assert "number" in again.json()
    assert Member.objects.count() == 1


def test_an_unknown_number_is_answered_in_our_words(api):
    for url in (f"{MEMBERS}Z9999/", f"{MEMBERS}Z9999/memberships/"):
        response = api.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 404
        assert response.json() == {"detail": "There is no member with the number Z9999."}
    response = api.get("/api/v1/contacts/999999/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "matches the given query" not in response.json()["detail"]


def test_a_bad_french_postal_code_is_refused_on_update_too(api):
    actions.create_member(actor=None, number="A1", kind="association", name="Un")
    response = api.patch(f"{MEMBERS}A1/", {"postal_code": "3100"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["postal_code"]
    response = api.patch(f"{MEMBERS}A1/", {"postal_code": "31 000"}, format="json")
    assert response.status_code == 200
    assert response.json()["postal_code"] == "31000"
