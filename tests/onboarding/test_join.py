"""The public application form: what a volunteer fills in, what is kept, who is told; and what
keeps robots and mistakes out (nothing is written unless the whole form is right)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.members.models import Application
from ronron.services.actions import request_service
from tests.core.helpers import make_member
from tests.onboarding.conftest import BOARD, WITH_SERVICES, application_form

pytestmark = pytest.mark.django_db


def error_of(html: str, field_id: str) -> str:
    match = re.search(rf'<div class="field__error" id="{field_id}_error">(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)).strip() if match else ""


def nothing_written() -> None:
    assert Application.objects.count() == 0
    assert not AuditEntry.objects.filter(action__startswith="application.").exists()
    assert mail.outbox == []


def test_the_form_shows_the_catalog_with_descriptions(client, catalog):
    page = client.get(reverse("join:form"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "WordPress site" in html
    assert "without knowing any code" in html  # the catalog entry's description
    assert 'name="address_wordpress"' in html and 'name="want_list"' in html
    # The field robots fill is in the page, hidden from people.
    assert re.search(r'<div hidden aria-hidden="true">.*name="reference"', html, re.S)


def test_an_application_is_kept_and_both_sides_are_told(apply, catalog, servers):
    response = apply(application_form(**WITH_SERVICES))
    assert response.status_code == 302
    assert response["Location"] == reverse("join:thanks")

    application = Application.objects.get()
    assert application.status == Application.Status.PENDING
    assert (application.postal_code, application.country, application.rna) == (
        "31000",
        "FR",
        "W313012345",
    )
    assert application.contact_email == "camille@velo.example.org"
    assert [t.slug for t in application.themes.all()] == ["velo"]
    asked = {item["kind"]: item for item in application.requested_services}
    assert set(asked) == {"wordpress", "list"}
    assert asked["wordpress"]["domain"] == "velo.example.org"
    # The applicant administers the site and owns the list.
    assert asked["wordpress"]["details"]["admin_email"] == "camille@velo.example.org"
    assert asked["wordpress"]["details"]["title"] == "Les Amis du Vélo"
    assert asked["list"]["domain"] == "adherents@listes.velo.example.org"
    assert asked["list"]["details"]["owners"] == ["camille@velo.example.org"]
    assert asked["list"]["details"]["subject"] == "Les Amis du Vélo"
    entry = AuditEntry.objects.get(action="application.received")
    assert entry.after["consent"] is True and entry.actor is None

    to_applicant, to_board = mail.outbox
    assert to_applicant.to == ["camille@velo.example.org"]
    assert "We received your application" in to_applicant.subject
    assert "WordPress site: velo.example.org" in to_applicant.body
    assert to_board.to == [BOARD]
    assert "Les Amis du Vélo" in to_board.subject
    assert f"/applications/{application.pk}/" in to_board.body


def test_the_thanks_page_says_what_happens_next(client):
    page = client.get(reverse("join:thanks")).content.decode()
    assert "What happens next" in page
    assert "The board looks at your application" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"postal_code": "3100"}, "postal_code", "A French postal code has five digits"),
        ({"contact_email": "camille@"}, "contact_email", "Enter a valid e-mail address"),
        ({"rna": "X123"}, "rna", "An RNA number is a W followed by 9 characters"),
        ({"siren": "123456789"}, "siren", "A SIREN is 9 digits with a valid check digit"),
        ({"name": "Les Amis\r\nBcc: x@example.org"}, "name", "Line breaks"),
        ({"name": ""}, "name", "This field is required"),
        ({"consent": None}, "consent", "We need your agreement"),
        ({"want_wordpress": "on"}, "address_wordpress", "Give the address"),
        (
            {"want_wordpress": "on", "address_wordpress": "pas un domaine"},
            "address_wordpress",
            "is not a valid domain name",
        ),
        (
            {"want_list": "on", "address_list": "listes.velo.example.org"},
            "address_list",
            "Enter the list",
        ),
        (
            {
                "want_wordpress": "on",
                "address_wordpress": "velo.example.org",
                "want_static": "on",
                "address_static": "Velo.Example.org",
            },
            "address_wordpress",  # the catalog lists the simple site first
            "You already asked for",
        ),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_kept(
    apply, catalog, changes, field, message
):
    response = apply(application_form(**changes))
    assert response.status_code == 400
    assert message in error_of(response.content.decode(), f"id_{field}")
    nothing_written()


def test_an_address_another_service_uses_is_refused(apply, catalog, servers):
    velo = make_member(number="A0001")
    request_service(velo, actor=None, kind="static", domain="velo.example.org")
    response = apply(
        application_form(want_static="on", address_static="velo.example.org"),
    )
    assert response.status_code == 400
    assert "Another service already uses velo.example.org" in error_of(
        response.content.decode(), "id_address_static"
    )
    nothing_written()


def test_too_many_applications_from_one_address_are_refused(apply, catalog):
    for _ in range(5):
        assert apply(application_form()).status_code == 302
    mail.outbox.clear()

    refused = apply(application_form(name="Encore une"))
    assert refused.status_code == 429
    assert "Too many applications were sent from your address" in refused.content.decode()
    assert Application.objects.count() == 5
    assert mail.outbox == []
    # Another address is not held back.
    assert apply(application_form(name="Jardins"), address="198.51.100.7").status_code == 302


def test_a_robot_filling_the_hidden_field_gets_the_usual_answer_and_nothing_is_kept(apply, catalog):
    response = apply(application_form(reference="http://spam.example.com"))
    assert response.status_code == 302
    assert response["Location"] == reverse("join:thanks")
    nothing_written()


def test_an_application_whose_confirmation_cannot_go_is_kept_and_said(apply, catalog, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    response = apply(application_form(), follow=True)
    assert "could not send you the confirmation e-mail" in response.content.decode()
    assert Application.objects.count() == 1
    failures = AuditEntry.objects.filter(action="onboarding.mail_failed")
    assert {e.after["message"] for e in failures} == {
        "onboarding.application_received",
        "onboarding.application_notice",
    }
