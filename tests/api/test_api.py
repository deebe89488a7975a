from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from ronron.api import actions as api_actions
from ronron.core.models import AuditEntry
from ronron.members import actions
from ronron.members.models import Contact, Member, Theme

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/members/"


@pytest.fixture
def token(staff_user):
    return api_actions.issue_token(staff_user, actor=None)


@pytest.fixture
def api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def themes():
    # The starting list of themes comes with the database.
    return {t.slug: t for t in Theme.objects.filter(slug__in=["culture", "education"])}


def _member(number, name, *, actor, themes=(), **fields):
    return actions.create_member(
        actor=actor, number=number, kind="association", name=name, themes=list(themes), **fields
    )


# --- authentication -----------------------------------------------------------------------


def test_requests_without_a_token_are_refused_with_401():
    response = APIClient().get(MEMBERS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_a_wrong_token_is_refused_with_401(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get(MEMBERS).status_code == 401


def test_a_non_staff_user_with_a_token_gets_403(django_user_model):
    user = django_user_model.objects.create_user(username="dominique", password="x-y-z-123456")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_actions.issue_token(user, actor=None)}")
    assert client.get(MEMBERS).status_code == 403


def test_token_command_prints_the_token_once_and_audits_without_it(staff_user):
    out = io.StringIO()
    call_command("api", "token", "camille", stdout=out)
    key = out.getvalue().strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(MEMBERS).status_code == 200

    with pytest.raises(CommandError):
        call_command("api", "token", "camille", stdout=io.StringIO())

    out = io.StringIO()
    call_command("api", "token", "camille", "--rotate", stdout=out)
    new_key = out.getvalue().strip()
    assert new_key != key
    assert client.get(MEMBERS).status_code == 401

    entries = AuditEntry.objects.filter(action__startswith="api.token_").order_by("id")
    assert [e.action for e in entries] == ["api.token_created", "api.token_rotated"]
    for entry in entries:
        text = f"{entry.object_repr} {entry.before} {entry.after}"
        assert key not in text
        assert new_key not in text


def test_token_command_revokes(staff_user, token):
    out = io.StringIO()
    call_command("api", "token", "camille", "--revoke", stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(MEMBERS).status_code == 401
    assert AuditEntry.objects.filter(action="api.token_revoked").count() == 1


def test_token_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError):
        call_command("api", "token", "personne", stdout=io.StringIO())


def test_schema_is_openapi_3_in_json_and_yaml(db):
    client = APIClient()
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/members/{number}/" in schema["paths"]
    assert "delete" not in schema["paths"]["/api/v1/members/{number}/"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    yaml = client.get("/api/schema/?format=yaml")
    assert yaml.status_code == 200
    assert b"openapi: 3." in yaml.content


# --- reading ------------------------------------------------------------------------------


def test_list_filters_and_pagination(api, staff_user, themes):
    _member(
        "A0001",
        "Les Amis du Cinéma",
        actor=staff_user,
        themes=[themes["culture"]],
        postal_code="31000",
        city="Toulouse",
        joined_on=date(2020, 1, 1),
    )
    _member("A0002", "École ouverte", actor=staff_user, themes=[themes["education"]])
    actions.create_member(actor=staff_user, number="I0003", kind="individual", name="Sam")

    everyone = api.get(MEMBERS).json()
    assert everyone["count"] == 3
    assert [m["number"] for m in everyone["results"]] == ["A0001", "A0002", "I0003"]

    first = everyone["results"][0]
    assert first["themes"] == ["culture"]
    assert first["departement"] == "31"
    assert first["status"] == "member"
    assert first["services"] == []

    def numbers(**params):
        response = api.get(MEMBERS, params)
        assert response.status_code == 200, response.content
        return [m["number"] for m in response.json()["results"]]

    assert numbers(kind="individual") == ["I0003"]
    assert numbers(status="member") == ["A0001"]
    assert numbers(theme="education") == ["A0002"]
    assert numbers(search="cinéma") == ["A0001"]
    assert numbers(search="toulouse") == ["A0001"]
    assert numbers(theme="unknown") == []

    page = api.get(MEMBERS, {"limit": 2, "offset": 1}).json()
    assert page["count"] == 3
    assert [m["number"] for m in page["results"]] == ["A0002", "I0003"]
    assert page["previous"] is not None

    bad = api.get(MEMBERS, {"kind": "company"})
    assert bad.status_code == 400
    assert "kind" in bad.json()


def test_retrieve_by_member_number_and_404(api, staff_user):
    _member("A0202", "Le PIC", actor=staff_user)
    response = api.get(f"{MEMBERS}A0202/")
    assert response.status_code == 200
    assert response.json()["name"] == "Le PIC"
    assert api.get(f"{MEMBERS}Z9999/").status_code == 404


def test_unknown_api_addresses_answer_in_json(api):
    for url in ["/api/v1/nothing/", "/api/v1/contacts/a/b/", "/api/v1/members"]:
        response = api.get(url)
        assert response.status_code == 404
        assert "detail" in response.json()
    assert api.get("/api/v1/contacts/not-a-number/").status_code == 404


def test_members_cannot_be_deleted_through_the_api(api, staff_user):
    _member("A0202", "Le PIC", actor=staff_user)
    assert api.delete(f"{MEMBERS}A0202/").status_code == 405
    assert Member.objects.filter(number="A0202").exists()


def test_themes_are_listed(api, staff_user):
    actions.create_theme(actor=staff_user, slug="zythologie", name="Zythologie")
    response = api.get("/api/v1/themes/", {"limit": 500})
    assert response.status_code == 200
    listed = {t["slug"]: t["name"] for t in response.json()["results"]}
    assert listed["zythologie"] == "Zythologie"
    assert response.json()["count"] == Theme.objects.count()
    assert api.get("/api/v1/themes/zythologie/").json()["name"] == "Zythologie"


# --- writing ------------------------------------------------------------------------------


def test_create_member_with_a_contact_and_a_membership(api, staff_user, themes):
    response = api.post(
        MEMBERS,
        {
            "number": "A0300",
            "kind": "association",
            "name": "Jardins partagés",
            "rna": "w313 012 345",
            "siren": "732 829 320",
            "postal_code": "31 000",
            "city": "Toulouse",
            "country": "fr",
            "themes": ["culture"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["rna"] == "W313012345"
    assert body["siren"] == "732829320"
    assert body["country"] == "FR"
    assert body["departement"] == "31"
    assert body["status"] == "applied"
    assert body["themes"] == ["culture"]

    contact = api.post(
        f"{MEMBERS}A0300/contacts/",
        {"name": "Alex Martin", "email": "Alex@Example.org", "roles": ["tech", "president"]},
        format="json",
    )
    assert contact.status_code == 201, contact.content
    assert contact.json()["email"] == "alex@example.org"
    assert contact.json()["roles"] == ["president", "tech"]
    assert contact.json()["member"] == "A0300"

    membership = api.post(
        f"{MEMBERS}A0300/memberships/", {"year": 2025, "amount": "30.00"}, format="json"
    )
    assert membership.status_code == 201, membership.content

    member = Member.objects.get(number="A0300")
    assert member.contacts.get().name == "Alex Martin"
    assert member.memberships.get().year == 2025
    created = AuditEntry.objects.filter(member_id=member.pk).values_list("action", flat=True)
    assert set(created) == {"member.created", "contact.added", "membership.created"}
    assert all(e.actor == staff_user for e in AuditEntry.objects.filter(member_id=member.pk))

    contacts = api.get(f"{MEMBERS}A0300/contacts/").json()
    assert [c["email"] for c in contacts["results"]] == ["alex@example.org"]
    assert api.get(f"{MEMBERS}NOPE/contacts/").status_code == 404


VALID = {"number": "A0400", "kind": "association", "name": "Un nom"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rna": "X123"}, "rna"),
        ({"siren": "732829321"}, "siren"),
        ({"postal_code": "3100"}, "postal_code"),
        ({"postal_code": "31\n000"}, "postal_code"),
        ({"country": "F1"}, "country"),
        ({"name": "Nom\r\nBcc: x@example.org"}, "name"),
        ({"city": "Tou\nlouse"}, "city"),
        ({"themes": ["nope"]}, "themes"),
        ({"number": "A 0400"}, "number"),
        ({"kind": "company"}, "kind"),
        ({"joined_on": "2024-01-01", "left_on": "2023-01-01"}, "left_on"),
    ],
)
def test_member_validation_errors_name_the_field(api, themes, changes, field):
    response = api.post(MEMBERS, {**VALID, **changes}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Member.objects.exists()


def test_a_duplicate_member_number_is_a_400_on_number(api, staff_user):
    _member("A0400", "Déjà là", actor=staff_user)
    response = api.post(MEMBERS, VALID, format="json")
    assert response.status_code == 400
    assert "number" in response.json()
    assert Member.objects.get().name == "Déjà là"


def test_contact_validation_errors_name_the_field(api, staff_user):
    member = _member("A0500", "Asso", actor=staff_user)
    url = f"{MEMBERS}A0500/contacts/"
    bad_email = api.post(url, {"name": "Lou", "email": "pas-une-adresse"}, format="json")
    assert bad_email.status_code == 400
    assert "email" in bad_email.json()
    bad_role = api.post(
        url, {"name": "Lou", "email": "lou@example.org", "roles": ["king"]}, format="json"
    )
    assert bad_role.status_code == 400
    assert "roles" in bad_role.json()
    assert (
        api.post(url, {"name": "Lou", "email": "lou@example.org"}, format="json").status_code == 201
    )
    duplicate = api.post(url, {"name": "Lou bis", "email": "LOU@example.org"}, format="json")
    assert duplicate.status_code == 400
    assert "email" in duplicate.json()
    assert member.contacts.count() == 1


def test_update_writes_an_audit_entry(api, staff_user, themes):
    member = _member("A0600", "Ancien nom", actor=staff_user, themes=[themes["culture"]])
    response = api.patch(
        f"{MEMBERS}A0600/",
        {"name": "Nouveau nom", "themes": ["education"], "postal_code": "75011"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["themes"] == ["education"]
    assert response.json()["departement"] == "75"
    entry = AuditEntry.objects.get(action="member.updated", member_id=member.pk)
    assert entry.actor == staff_user
    changes = entry.changes()
    assert ("name", "Ancien nom", "Nouveau nom") in changes
    assert ("themes", ["culture"], ["education"]) in changes

    # Read-only fields are ignored, not written.
    api.patch(f"{MEMBERS}A0600/", {"status": "left", "region": "Ailleurs"}, format="json")
    member.refresh_from_db()
    assert member.status == "applied"
    assert member.region == response.json()["region"] != "Ailleurs"


def test_put_replaces_and_validates(api, staff_user):
    _member("A0700", "Asso", actor=staff_user)
    url = f"{MEMBERS}A0700/"
    assert api.put(url, {"name": "Sans numéro"}, format="json").status_code == 400
    response = api.put(
        url, {"number": "A0700", "kind": "collective", "name": "Collectif"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert Member.objects.get(number="A0700").kind == "collective"


def test_contact_update_and_delete(api, staff_user):
    member = _member("A0800", "Asso", actor=staff_user)
    contact = actions.add_contact(member, actor=staff_user, name="Lou", email="lou@example.org")
    url = f"/api/v1/contacts/{contact.pk}/"
    response = api.patch(url, {"roles": ["treasurer"], "phone": "05 61 00 00 00"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["roles"] == ["treasurer"]
    assert api.patch(url, {"phone": "05\r\n61"}, format="json").status_code == 400

    assert api.delete(url).status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()
    removed = AuditEntry.objects.get(action="contact.removed")
    assert (removed.before or {})["email"] == "lou@example.org"
    assert removed.actor == staff_user
    assert api.get(url).status_code == 404


def test_membership_status_is_derived(api, staff_user):
    member = _member("A0900", "Asso", actor=staff_user)
    long_ago = date.today().year - 3
    old = actions.create_membership(member, actor=staff_user, year=long_ago, amount=30)
    response = api.get(f"/api/v1/memberships/{old.pk}/")
    assert response.json()["status"] == "cut_off"

    paid = api.post(
        f"/api/v1/memberships/{old.pk}/payment/",
        {"paid_on": str(date.today()), "payment_method": "transfer"},
        format="json",
    )
    assert paid.status_code == 200, paid.content
    assert paid.json()["status"] == "paid"
    assert AuditEntry.objects.filter(action="membership.payment_recorded").count() == 1

    # The status cannot be written: it follows the dates.
    api.patch(f"/api/v1/memberships/{old.pk}/", {"status": "not_called"}, format="json")
    assert api.get(f"/api/v1/memberships/{old.pk}/").json()["status"] == "paid"


def test_membership_errors(api, staff_user):
    member = _member("A1000", "Asso", actor=staff_user)
    actions.create_membership(member, actor=staff_user, year=2024, amount=30)
    url = f"{MEMBERS}A1000/memberships/"
    duplicate = api.post(url, {"year": 2024, "amount": "30.00"}, format="json")
    assert duplicate.status_code == 400
    assert "year" in duplicate.json()
    too_far = api.post(url, {"year": 20250, "amount": "30.00"}, format="json")
    assert too_far.status_code == 400
    assert "year" in too_far.json()
    negative = api.post(url, {"year": 2025, "amount": "-1"}, format="json")
    assert negative.status_code == 400
    assert "amount" in negative.json()
    assert member.memberships.count() == 1


def test_lifecycle_endpoints(api, staff_user):
    _member("A1100", "Asso", actor=staff_user)
    url = f"{MEMBERS}A1100/"
    today = date.today()

    wrong_order = api.post(url + "admit/", {"on": str(today)}, format="json")
    assert wrong_order.status_code == 400
    assert "non_field_errors" in wrong_order.json()

    assert api.post(url + "approve/", {}, format="json").status_code == 400
    approved = api.post(url + "approve/", {"on": str(today)}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    admitted = api.post(url + "admit/", {"on": str(today)}, format="json")
    assert admitted.json()["status"] == "member"
    notice = api.post(
        url + "departure-notice/", {"leave_on": str(today + timedelta(days=30))}, format="json"
    )
    assert notice.json()["status"] == "leaving"
    left = api.post(url + "leave/", {"on": str(today)}, format="json")
    assert left.json()["status"] == "left"
    assert left.json()["left_on"] == str(today)
    assert AuditEntry.objects.filter(action="member.left", actor=staff_user).count() == 1


def test_nul_characters_are_refused_before_the_database(api):
    # PostgreSQL answers a NUL in a query with an error: these must be plain 400s everywhere.
    created = api.post(
        "/api/v1/members/",
        {"number": "A0500", "kind": "association", "name": "Nul", "themes": ["cult\x00ure"]},
        format="json",
    )
    assert created.status_code == 400
    assert "themes" in created.json()
    assert api.get("/api/v1/members/A%0000/").status_code == 400
    assert api.get("/api/v1/members/?search=a%00b").status_code == 400
