"""The member pages of the console: finding members, changing them, their dues and history."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from ronron.core.models import AuditEntry
from ronron.members import actions
from ronron.members.models import Contact, Member, Membership, Theme
from ronron.services.actions import record_external_service
from tests.core.helpers import make_member


def today():
    # Asked when the test runs (not when it is collected, maybe the day before), in the
    # hoster's time zone as the pages use it.
    return timezone.localdate()


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def listed(client, **params) -> list[str]:
    """The member numbers the list shows for these filters (all pages)."""
    numbers: list[str] = []
    page = 1
    while True:
        response = client.get(reverse("members:list"), {**params, "page": page})
        assert response.status_code == 200
        numbers += [m.number for m in response.context["members"]]
        if not response.context["page_obj"].has_next():
            return sorted(numbers)
        page += 1


def error_of(html: str, field_id: str) -> str:
    """The error text shown next to the field ``field_id`` (empty when none)."""
    match = re.search(rf'<div class="field__error" id="{field_id}_error">(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)).strip() if match else ""


# -- finding members ---------------------------------------------------------------------------


@pytest.fixture
def crowd(staff_user):
    culture, velo = Theme.objects.get(slug="culture"), Theme.objects.get(slug="velo")
    a = make_member(
        actor=staff_user,
        number="A0001",
        name="Les Amis du Vélo",
        city="Toulouse",
        postal_code="31000",
        themes=[velo],
    )
    b = make_member(
        actor=staff_user,
        number="A0002",
        name="Théâtre du Pont",
        city="Paris",
        postal_code="75011",
        themes=[culture],
    )
    c = make_member(
        actor=staff_user,
        number="I0003",
        kind="individual",
        name="Claude Dupont",
        city="Albi",
        postal_code="81000",
        joined_on=None,
    )
    actions.add_contact(b, actor=staff_user, name="Sacha Leroy", email="sacha@example.net")
    record_external_service(a, actor=staff_user, kind="", family="lists")
    record_external_service(b, actor=staff_user, kind="wordpress", family="")
    return a, b, c


@pytest.mark.django_db
def test_search_finds_number_name_city_and_contacts(staff_client, crowd):
    assert listed(staff_client) == ["A0001", "A0002", "I0003"]
    assert listed(staff_client, q="a0002") == ["A0002"]
    assert listed(staff_client, q="vélo") == ["A0001"]
    assert listed(staff_client, q="albi") == ["I0003"]
    assert listed(staff_client, q="Sacha") == ["A0002"]
    assert listed(staff_client, q="sacha@example") == ["A0002"]
    assert listed(staff_client, q="nobody-has-this") == []


@pytest.mark.django_db
def test_each_filter_keeps_the_right_members(staff_client, crowd):
    a, _b, _c = crowd
    assert listed(staff_client, kind="individual") == ["I0003"]
    assert listed(staff_client, kind="association") == ["A0001", "A0002"]
    assert listed(staff_client, status="applied") == ["I0003"]
    assert listed(staff_client, status="member") == ["A0001", "A0002"]
    assert listed(staff_client, theme="culture") == ["A0002"]
    assert listed(staff_client, theme="velo") == ["A0001"]
    assert a.region and a.region != Member.objects.get(number="A0002").region
    assert listed(staff_client, region=a.region) == sorted(
        m.number for m in Member.objects.filter(region=a.region)
    )
    assert "A0002" not in listed(staff_client, region=a.region)
    assert listed(staff_client, family="lists") == ["A0001"]
    assert listed(staff_client, family="web") == ["A0002"]
    assert listed(staff_client, family="cloud") == []
    # Filters add up.
    assert listed(staff_client, kind="association", theme="velo", q="toulouse") == ["A0001"]


@pytest.mark.django_db
def test_the_dues_filter_agrees_with_the_dues_calendar(staff_client, staff_user):
    last, this, next_ = today().year - 1, today().year, today().year + 1
    paid_last = make_member(actor=staff_user, number="M01")
    unpaid_last = make_member(actor=staff_user, number="M02")
    make_member(actor=staff_user, number="M03")  # no membership at all
    for member, year in [(paid_last, last), (unpaid_last, last), (paid_last, this)]:
        actions.call_dues(member, actor=staff_user, year=year, on=date(year - 1, 12, 1))
    actions.record_payment(
        paid_last.memberships.get(year=last),
        actor=staff_user,
        paid_on=date(last, 2, 1),
        method="transfer",
    )
    actions.create_membership(unpaid_last, actor=staff_user, year=this)  # never called
    actions.create_membership(unpaid_last, actor=staff_user, year=next_)
    actions.call_dues(paid_last, actor=staff_user, year=next_)

    # Last year's calendar is over: known answers.
    assert listed(staff_client, dues_year=last, dues_status="paid") == ["M01"]
    assert listed(staff_client, dues_year=last, dues_status="cut_off") == ["M02"]
    assert listed(staff_client, dues_year=last, dues_status="none") == ["M03"]
    assert listed(staff_client, dues_year=last, dues_status="overdue") == []
    # Any year: the filter gives exactly the members whose membership has that status today.
    for year in (last, this, next_):
        for status in Membership.Status.values:
            expected = sorted(
                m.member.number
                for m in Membership.objects.filter(year=year).select_related("member")
                if m.status_on(today()) == status
            )
            assert listed(staff_client, dues_year=year, dues_status=status) == expected


@pytest.mark.django_db
def test_the_list_is_paginated_and_pages_keep_the_filters(staff_client, staff_user):
    for i in range(55):
        make_member(actor=staff_user, number=f"A{i:04d}", name=f"Association {i}")
    make_member(actor=staff_user, number="I9999", kind="individual", name="Solo")
    response = staff_client.get(reverse("members:list"))
    assert len(response.context["members"]) == 50
    assert response.context["found"] == 56
    html = response.content.decode()
    assert 'href="?page=2"' in html
    second = staff_client.get(reverse("members:list"), {"page": 2})
    assert len(second.context["members"]) == 6

    filtered = staff_client.get(reverse("members:list"), {"kind": "association"})
    assert filtered.context["found"] == 55
    assert "kind=association&amp;page=2" in filtered.content.decode()
    last = staff_client.get(reverse("members:list"), {"kind": "association", "page": 2})
    assert [m.kind for m in last.context["members"]] == ["association"] * 5


# -- changing members --------------------------------------------------------------------------


@pytest.mark.django_db
def test_creating_a_member_with_mistakes_shows_them_next_to_the_fields(staff_client):
    before = (Member.objects.count(), AuditEntry.objects.count())
    response = staff_client.post(
        reverse("members:create"),
        {"number": "A 02 02!", "kind": "association", "name": "", "country": "FR", "rna": "123"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "A member number is 1 to 20 letters" in error_of(html, "id_number")
    assert error_of(html, "id_name")
    assert "RNA number is a W" in error_of(html, "id_rna")
    assert error_of(html, "id_city") == ""
    assert re.search(
        r'<input[^>]*aria-invalid="true"[^>]*name="number"|'
        r'<input[^>]*name="number"[^>]*aria-invalid="true"',
        html,
    )
    assert (Member.objects.count(), AuditEntry.objects.count()) == before


@pytest.mark.django_db
def test_creating_then_editing_a_member(staff_client, staff_user):
    response = staff_client.post(
        reverse("members:create"),
        {
            "number": "A0202",
            "kind": "association",
            "name": "Les Jardins Partagés",
            "postal_code": "31000",
            "city": "Toulouse",
            "country": "FR",
            "themes": ["nature"],
            "joined_on": "2021-09-15",
        },
    )
    member = Member.objects.get(number="A0202")
    assert response["Location"] == reverse("members:detail", args=[member.pk])
    assert member.status == Member.Status.MEMBER
    assert list(member.themes.values_list("slug", flat=True)) == ["nature"]

    edit = reverse("members:edit", args=[member.pk])
    assert staff_client.get(edit).context["form"]["city"].value() == "Toulouse"
    # A duplicate number is refused next to the field, and nothing changes.
    make_member(actor=staff_user, number="A0303")
    data = {
        "number": "A0303",
        "kind": "association",
        "name": "Les Jardins Partagés",
        "postal_code": "81000",
        "city": "Albi",
        "country": "FR",
        "themes": ["nature"],
        "joined_on": "2021-09-15",
    }
    response = staff_client.post(edit, data)
    assert response.status_code == 200
    assert error_of(response.content.decode(), "id_number")
    member.refresh_from_db()
    assert (member.number, member.city) == ("A0202", "Toulouse")

    data["number"] = "A0202"
    response = staff_client.post(edit, data)
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.city == "Albi"
    page = staff_client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "Details changed" in page
    assert "<del>Toulouse</del> → <ins>Albi</ins>" in page
    assert "camille" in page


@pytest.mark.django_db
def test_lifecycle_steps_write_the_history_shown_on_the_member_page(staff_client):
    member = make_member(number="A0500", joined_on=None)
    assert member.status == Member.Status.APPLIED
    page_url = reverse("members:detail", args=[member.pk])
    steps = [
        ("members:approve", "approve-on", "2024-01-10", "approved", "Application approved"),
        ("members:admit", "admit-on", "2024-02-01", "member", "Admitted as a member"),
        (
            "members:departure_notice",
            "departure_notice-on",
            "2025-12-31",
            "leaving",
            "Notice of departure recorded",
        ),
        ("members:departure", "departure-on", "2025-12-31", "left", "Departure recorded"),
    ]
    for name, field, day, status, words in steps:
        assert (
            f'action="{reverse(name, args=[member.pk])}"'
            in staff_client.get(page_url).content.decode()
        )
        response = staff_client.post(reverse(name, args=[member.pk]), {field: day})
        assert response.status_code == 302, name
        member.refresh_from_db()
        assert member.status == status
        page = staff_client.get(page_url).content.decode()
        assert words in page
    assert AuditEntry.objects.filter(member_id=member.pk).count() == 5  # created + 4 steps
    assert member.approved_on == date(2024, 1, 10) and member.joined_on == date(2024, 2, 1)


@pytest.mark.django_db
def test_a_step_that_does_not_apply_is_refused_with_an_explanation(staff_client):
    member = make_member(number="A0600")  # already a member
    count = AuditEntry.objects.count()
    response = staff_client.post(
        reverse("members:approve", args=[member.pk]), {"approve-on": "2024-01-10"}
    )
    assert response.status_code == 200
    assert "cannot be done while the member" in response.content.decode()
    assert AuditEntry.objects.count() == count


@pytest.mark.django_db
def test_contacts_are_added_edited_and_removed(staff_client):
    member = make_member(number="A0700")
    add = reverse("members:contact_add", args=[member.pk])
    response = staff_client.post(
        add, {"name": "Alex Martin", "email": "Alex@Example.org", "roles": ["president", "tech"]}
    )
    assert response.status_code == 302
    contact = Contact.objects.get(member=member)
    assert (contact.email, contact.roles) == ("alex@example.org", "president,tech")

    # The same address twice: the action refuses, the form says so, nothing is written.
    count = AuditEntry.objects.count()
    response = staff_client.post(add, {"name": "Alex bis", "email": "alex@example.org"})
    assert response.status_code == 200
    assert 'class="form-errors"' in response.content.decode()
    assert Contact.objects.filter(member=member).count() == 1
    assert AuditEntry.objects.count() == count

    bad = staff_client.post(add, {"name": "Sans adresse", "email": "pas-une-adresse"})
    assert error_of(bad.content.decode(), "id_email")

    edit = reverse("members:contact_edit", args=[member.pk, contact.pk])
    staff_client.post(edit, {"name": "Alex Martin", "email": "alex@example.org", "roles": ["tech"]})
    contact.refresh_from_db()
    assert contact.roles == "tech"

    remove = reverse("members:contact_remove", args=[member.pk, contact.pk])
    assert staff_client.get(remove).status_code == 200
    assert Contact.objects.filter(pk=contact.pk).exists()  # a GET only asks
    staff_client.post(remove)
    assert not Contact.objects.filter(pk=contact.pk).exists()
    page = staff_client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "Contact added" in page and "Contact changed" in page and "Contact removed" in page


# -- dues --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_recording_a_payment_changes_the_dues_of_the_year(staff_client, staff_user):
    year = today().year - 1  # its calendar is over: unpaid dues are cut off
    member = make_member(actor=staff_user, number="A0800")
    membership = actions.call_dues(member, actor=staff_user, year=year, amount=Decimal("30"))
    dues_url = reverse("members:dues")

    before = staff_client.get(dues_url, {"year": year})
    assert before.context["totals"]["cut_off"] == Decimal("30")
    assert before.context["totals"]["paid"] == Decimal("0")
    assert [
        m.member.number
        for m in staff_client.get(dues_url, {"year": year, "status": "cut_off"}).context[
            "memberships"
        ]
    ] == ["A0800"]

    pay = reverse("members:payment", args=[member.pk, membership.pk])
    prefix = f"m{membership.pk}"
    wrong = staff_client.post(pay, {f"{prefix}-paid_on": "pas une date", f"{prefix}-method": ""})
    assert wrong.status_code == 200
    assert error_of(wrong.content.decode(), f"id_{prefix}-paid_on")
    assert error_of(wrong.content.decode(), f"id_{prefix}-method")

    response = staff_client.post(
        pay, {f"{prefix}-paid_on": f"{year}-10-02", f"{prefix}-method": "cheque"}
    )
    assert response.status_code == 302
    after = staff_client.get(dues_url, {"year": year})
    assert after.context["totals"]["paid"] == Decimal("30")
    assert after.context["totals"]["cut_off"] == Decimal("0")
    paid = staff_client.get(dues_url, {"year": year, "status": "paid"})
    assert [m.member.number for m in paid.context["memberships"]] == ["A0800"]
    page = staff_client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "Payment recorded" in page


@pytest.mark.django_db
def test_the_dues_page_lists_members_without_dues_and_calls_them(staff_client, staff_user):
    year = today().year
    member = make_member(actor=staff_user, number="A0900", joined_on=date(year - 2, 1, 1))
    gone = make_member(
        actor=staff_user,
        number="A0901",
        joined_on=date(year - 5, 1, 1),
        left_on=date(year - 3, 6, 1),
    )
    response = staff_client.get(reverse("members:dues"), {"year": year})
    assert [m.number for m in response.context["missing"]] == ["A0900"]
    assert gone.number not in response.content.decode()

    staff_client.post(
        reverse("members:call_dues", args=[member.pk]), {"year": year, "back": "dues"}
    )
    membership = Membership.objects.get(member=member, year=year)
    assert membership.called_on == today() and membership.amount == Decimal("30.00")
    response = staff_client.get(reverse("members:dues"), {"year": year})
    assert list(response.context["missing"]) == []
    assert [m.member.number for m in response.context["memberships"]] == ["A0900"]


@pytest.mark.django_db
def test_memberships_are_added_and_corrected(staff_client):
    member = make_member(number="A1000", kind="individual")
    add = reverse("members:membership_add", args=[member.pk])
    assert staff_client.get(add).context["form"].initial["amount"] == Decimal("10.00")
    response = staff_client.post(add, {"year": "2023", "amount": "10.00", "payment_method": "cash"})
    assert response.status_code == 200  # a method without a date
    assert error_of(response.content.decode(), "id_paid_on")
    assert not member.memberships.exists()

    staff_client.post(add, {"year": "2023", "amount": "10.00"})
    membership = member.memberships.get()
    assert membership.amount == Decimal("10.00")
    edit = reverse("members:membership_edit", args=[member.pk, membership.pk])
    # In French, amounts are typed with a decimal comma.
    staff_client.post(edit, {"year": "2023", "amount": "12,50"}, headers={"accept-language": "fr"})
    membership.refresh_from_db()
    assert membership.amount == Decimal("12.50")


# -- themes ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_themes_are_added_renamed_and_deleted(staff_client):
    url = reverse("members:themes")
    assert "Vélo" in staff_client.get(url).content.decode()
    staff_client.post(url, {"new-name": "Logiciels libres"})
    theme = Theme.objects.get(slug="logiciels-libres")
    duplicate = staff_client.post(url, {"new-name": "Autre", "new-slug": "logiciels-libres"})
    assert duplicate.status_code == 200 and Theme.objects.filter(name="Autre").count() == 0

    staff_client.post(
        reverse("members:theme_rename", args=[theme.pk]), {f"t{theme.pk}-name": "Logiciel libre"}
    )
    theme.refresh_from_db()
    assert theme.name == "Logiciel libre"

    delete = reverse("members:theme_delete", args=[theme.pk])
    assert staff_client.get(delete).status_code == 200
    staff_client.post(delete)
    assert not Theme.objects.filter(pk=theme.pk).exists()
    assert AuditEntry.objects.filter(action__startswith="theme.").count() == 3
