"""Rules the actions enforce, so that the console, the API and the CSV import agree."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from ronron.members import actions
from ronron.members.imports import import_members
from ronron.members.models import Member, Membership
from tests.core.helpers import make_member

pytestmark = pytest.mark.django_db

HEADER = "numero,type,nom,code_postal,ville,pays"


@pytest.fixture(autouse=True)
def english(settings, tmp_path):
    settings.LANGUAGE_CODE = "en"
    settings.DATA_DIR = tmp_path
    with translation.override("en"):
        yield


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def errors(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


def import_errors(*lines: str, header: str = HEADER) -> list[tuple[int, str, str]]:
    data = ("\n".join([header, *lines]) + "\n").encode()
    report = import_members(data, actor=None)
    return [(e.line, e.column, e.message) for e in report.errors]


# --- Calling the dues ----------------------------------------------------------------------


@pytest.mark.parametrize("year", ["-1", "40000", "abc", "", "1900"])
def test_calling_dues_for_an_impossible_year_explains_it(staff_client, year):
    member = make_member(number="A0001")
    url = reverse("members:call_dues", args=[member.pk])

    response = staff_client.post(url, {"year": year}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("members:detail", args=[member.pk])
    assert b"The dues were not called" in response.content
    assert not Membership.objects.exists()

    response = staff_client.post(url, {"year": year, "back": "dues"}, follow=True)
    assert response.status_code == 200
    assert b"The dues were not called" in response.content
    assert not Membership.objects.exists()


def test_calling_dues_for_a_good_year_still_works(staff_client):
    member = make_member(number="A0001")
    response = staff_client.post(reverse("members:call_dues", args=[member.pk]), {"year": "2031"})
    assert response.status_code == 302
    assert Membership.objects.get(member=member).year == 2031


@pytest.mark.parametrize("year", [-1, 0, 1900, 10000, 40000])
def test_call_dues_action_refuses_a_year_out_of_range(year):
    member = make_member(number="A0001")
    with pytest.raises(ValidationError) as caught:
        actions.call_dues(member, actor=None, year=year)
    assert "year" in errors(caught)
    assert not Membership.objects.exists()


# --- Leaving before joining ----------------------------------------------------------------


def test_leaving_before_joining_is_said_plainly_on_the_leaving_date():
    with pytest.raises(ValidationError) as caught:
        make_member(number="A0001", joined_on=date(2024, 1, 1), left_on=date(2023, 1, 1))
    assert errors(caught) == {"left_on": ["The leaving date cannot come before the joining date."]}
    member = make_member(number="A0002", joined_on=date(2024, 1, 1))
    with pytest.raises(ValidationError) as caught:
        actions.record_departure(member, actor=None, on=date(2023, 12, 31))
    assert errors(caught) == {"left_on": ["The leaving date cannot come before the joining date."]}


def test_the_constraint_itself_speaks_plainly():
    member = Member(
        number="A0001",
        kind="association",
        name="X",
        joined_on=date(2024, 1, 1),
        left_on=date(2023, 1, 1),
    )
    with pytest.raises(ValidationError) as caught:
        member.validate_constraints()
    assert caught.value.messages == ["The leaving date cannot come before the joining date."]
    assert caught.value.error_dict["__all__"][0].code == "left_before_joined"


def test_the_console_shows_it_next_to_the_leaving_date(staff_client):
    member = make_member(number="A0001", joined_on=date(2024, 1, 1))
    response = staff_client.post(
        reverse("members:departure", args=[member.pk]), {"departure-on": "2023-06-01"}
    )
    assert response.status_code == 200
    assert b"The leaving date cannot come before the joining date." in response.content
    assert b"constraint" not in response.content


def test_lifecycle_dates_follow_each_other():
    member = make_member(number="A0001", joined_on=None, applied_on=date(2024, 3, 1))
    with pytest.raises(ValidationError) as caught:
        actions.approve_application(member, actor=None, on=date(2024, 2, 1))
    assert list(errors(caught)) == ["approved_on"]
    member = actions.approve_application(member, actor=None, on=date(2024, 3, 10))
    with pytest.raises(ValidationError) as caught:
        actions.admit_member(member, actor=None, on=date(2024, 3, 9))
    assert list(errors(caught)) == ["joined_on"]
    member = actions.admit_member(member, actor=None, on=date(2024, 3, 10))
    assert member.status == Member.Status.MEMBER
    with pytest.raises(ValidationError) as caught:
        actions.update_member(member, actor=None, applied_on=date(2024, 4, 1))
    assert list(errors(caught)) == ["approved_on"]


# --- French postal codes -------------------------------------------------------------------


@pytest.mark.parametrize("code", ["3100", "310000", "31OOO", "2A004"])
def test_a_french_postal_code_has_five_digits(code):
    with pytest.raises(ValidationError) as caught:
        make_member(number="A0001", postal_code=code)
    assert list(errors(caught)) == ["postal_code"]
    member = make_member(number="A0002", postal_code="31000")
    with pytest.raises(ValidationError) as caught:
        actions.update_member(member, actor=None, postal_code=code)
    assert list(errors(caught)) == ["postal_code"]


def test_postal_codes_abroad_and_spaced_french_ones():
    assert make_member(number="A0001", postal_code="31 000").postal_code == "31000"
    belgian = make_member(number="A0002", postal_code="1000", city="Bruxelles", country="BE")
    assert belgian.postal_code == "1000"
    assert make_member(number="A0003", postal_code="").postal_code == ""


def test_the_import_refuses_a_bad_french_postal_code_with_line_and_column():
    assert import_errors(
        "A0001,association,Un,31000,Toulouse,FR",
        "A0002,association,Deux,3100,Toulouse,FR",
        "A0003,association,Trois,1000,Bruxelles,BE",
        "A0004,association,Quatre,750 11,Paris,",
    ) == [(3, "code_postal", "A French postal code has five digits, for example 31000.")]
    assert not Member.objects.exists()


# --- Payments ------------------------------------------------------------------------------


def test_a_payment_needs_both_a_date_and_a_method():
    member = make_member(number="A0001")
    with pytest.raises(ValidationError) as caught:
        actions.create_membership(member, actor=None, year=2024, payment_method="cheque")
    assert list(errors(caught)) == ["paid_on"]
    with pytest.raises(ValidationError) as caught:
        actions.create_membership(member, actor=None, year=2024, paid_on=date(2024, 1, 5))
    assert list(errors(caught)) == ["payment_method"]
    membership = actions.create_membership(member, actor=None, year=2024)
    with pytest.raises(ValidationError) as caught:
        actions.update_membership(membership, actor=None, paid_on=date(2024, 1, 5))
    assert list(errors(caught)) == ["payment_method"]
    with pytest.raises(ValidationError) as caught:
        actions.record_payment(membership, actor=None, paid_on=date(2024, 1, 5), method="")
    assert list(errors(caught)) == ["payment_method"]
    membership = actions.record_payment(
        membership, actor=None, paid_on=date(2024, 1, 5), method="cheque", amount=Decimal("30")
    )
    assert membership.payment_method == "cheque"
    with pytest.raises(ValidationError) as caught:
        actions.update_membership(membership, actor=None, paid_on=None)
    assert list(errors(caught)) == ["paid_on"]


# --- Member numbers ------------------------------------------------------------------------


def test_member_numbers_do_not_depend_on_case():
    member = make_member(number=" a0001 ")
    assert member.number == "A0001"
    with pytest.raises(ValidationError) as caught:
        make_member(number="A0001", name="Autre")
    assert list(errors(caught)) == ["number"]
    with pytest.raises(ValidationError):
        actions.update_member(make_member(number="B1"), actor=None, number="a0001")


def test_the_import_sees_a1_and_A1_as_one_number():
    assert import_errors(
        "A1,association,Un,31000,Toulouse,FR",
        "a1,association,Deux,31000,Toulouse,FR",
    ) == [
        (2, "numero", "The member number A1 also appears on line 3."),
        (3, "numero", "The member number A1 also appears on line 2."),
    ]
    report = import_members(b"numero,type,nom\na2,association,Deux\n", actor=None)
    assert not report.errors
    assert Member.objects.get().number == "A2"
    # The same member, written in lower case, is updated rather than created twice.
    report = import_members(b"numero,type,nom\na2,association,Deux bis\n", actor=None)
    assert not report.errors and report.updated == ["A2"]
    assert Member.objects.get().name == "Deux bis"


def test_a_number_recorded_in_lower_case_before_is_still_found_by_the_import():
    member = make_member(number="A3")
    Member.objects.filter(pk=member.pk).update(number="a3")  # as written by an older version
    report = import_members(b"numero,type,nom\nA3,association,Nouveau nom\n", actor=None)
    assert not report.errors and report.updated == ["A3"]
    assert list(Member.objects.values_list("number", "name")) == [("a3", "Nouveau nom")]


# --- The CSV reader's own messages ---------------------------------------------------------


def test_a_quote_never_closed_is_reported_in_our_words_with_line_and_column():
    long_text = "x" * 200_000
    found = import_errors(
        "A0001,association,Un,31000,Toulouse,FR",
        f'A0002,association,"Deux {long_text},31000,Toulouse,FR',
        "A0003,association,Trois,31000,Toulouse,FR",
    )
    assert len(found) == 1
    line, column, message = found[0]
    assert (line, column) == (3, "nom")
    assert "longer than 10 000 characters" in message
    assert "field limit" not in message
    assert not Member.objects.exists()


def test_a_long_cell_without_a_name_in_the_header_is_reported_too():
    found = import_errors(
        "A0001,association,Un,31000,Toulouse,FR," + "y" * 20_000, header=HEADER + ","
    )
    assert [(line, column) for line, column, _ in found] == [(2, "")]
    assert "column 7" in found[0][2]


# --- The command line's plurals -------------------------------------------------------------


def test_cli_summary_agrees_with_each_count(tmp_path: Path):
    path = tmp_path / "un.csv"
    path.write_text("numero,type,nom\nA1,association,Un\n", encoding="utf-8")
    out = io.StringIO()
    call_command("members", "import", str(path), "--dry-run", stdout=out)
    assert "1 member would be created, 0 would be updated, 0 would stay unchanged." in (
        out.getvalue()
    )
    out = io.StringIO()
    call_command("members", "import", str(path), stdout=out)
    assert "1 member created, 0 updated, 0 unchanged." in out.getvalue()


# --- Console upload size -------------------------------------------------------------------


def test_the_console_refuses_a_file_over_10_mb_and_points_to_the_command(staff_client):
    upload = io.BytesIO(b"numero,type,nom\n" + b"A1,association,Un\n" * 600_000)
    upload.name = "adherents.csv"
    assert len(upload.getvalue()) > 10 * 1024 * 1024
    response = staff_client.post(reverse("members_import:upload"), {"file": upload})
    assert response.status_code == 200
    assert b"This file is too large" in response.content
    assert b"ronron members import" in response.content
    assert not Member.objects.exists()
