"""The board's decision in the console: approving makes the member with its number, its
contact, its first dues, its service requests (created and queued for an apply) and invites
the contact to the portal; refusing tells the applicant why. Through HTTP."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from ronron.core.models import AuditEntry
from ronron.jobs.models import Job
from ronron.members.models import Application, Member
from ronron.members.onboarding import first_dues_year
from ronron.portal.models import Invitation, ServiceRequest
from ronron.reconcile.tasks import JOB_KIND as APPLY_JOB
from tests.core.helpers import make_member
from tests.onboarding.conftest import WITH_SERVICES, application_form

pytestmark = pytest.mark.django_db


def today():
    # Asked when the test runs (not when it is collected, maybe the day before), in the
    # hoster's time zone as the pages use it.
    return timezone.localdate()


def approve(console, application, on=None):
    on = on or today()
    return console.post(
        reverse("applications:approve", args=[application.pk]), {"approve-on": on.isoformat()}
    )


def applied(apply, **changes) -> Application:
    assert apply(application_form(**changes)).status_code == 302
    mail.outbox.clear()
    return Application.objects.order_by("-pk").first()


def subjects_to(address: str) -> list[str]:
    return [m.subject for m in mail.outbox if address in m.to]


def test_the_board_sees_what_waits_for_it(apply, console, catalog, servers):
    first = applied(apply, **WITH_SERVICES)
    second = applied(apply, name="Jardins Partagés")
    pending = console.get(reverse("applications:list"))
    assert list(pending.context["applications"]) == [second, first]

    page = console.get(reverse("applications:detail", args=[first.pk])).content.decode()
    assert "velo.example.org" in page and "adherents@listes.velo.example.org" in page
    assert "Bonjour, nous aimerions un site." in page
    assert "Approve the application" in page and "Refuse the application" in page

    approve(console, first)
    assert list(console.get(reverse("applications:list")).context["applications"]) == [second]
    approved = console.get(reverse("applications:list"), {"status": "approved"})
    assert list(approved.context["applications"]) == [first]


def test_approving_makes_the_member_with_everything_it_needs(
    apply, console, admin, catalog, servers, django_capture_on_commit_callbacks
):
    application = applied(apply, **WITH_SERVICES)
    with django_capture_on_commit_callbacks(execute=True):
        response = approve(console, application)
    member = Member.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("members:detail", args=[member.pk])

    assert member.number == "A0001"
    assert member.status == Member.Status.APPROVED
    assert (member.applied_on, member.approved_on) == (
        timezone.localdate(application.created_at),
        today(),
    )
    assert (member.name, member.rna, member.postal_code, member.departement) == (
        "Les Amis du Vélo",
        "W313012345",
        "31000",
        "31",
    )
    assert [t.slug for t in member.themes.all()] == ["velo"]

    contact = member.contacts.get()
    assert (contact.name, contact.email, contact.roles) == (
        "Camille Martin",
        "camille@velo.example.org",
        "president,tech",
    )
    membership = member.memberships.get()
    assert membership.year == first_dues_year(today())
    assert (membership.called_on, membership.amount) == (today(), Decimal("30.00"))

    requests = {r.offer.kind: r for r in ServiceRequest.objects.filter(member=member)}
    assert set(requests) == {"wordpress", "list"}
    for request in requests.values():
        assert request.status == ServiceRequest.Status.APPROVED
        assert request.service is not None and request.service.wanted_state == "present"
    assert requests["wordpress"].service.domain == "velo.example.org"
    assert requests["wordpress"].service.spec["admin_email"] == "camille@velo.example.org"
    assert Job.objects.filter(kind=APPLY_JOB).exists()  # the services' apply is queued

    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert (application.member, application.decided_on, application.decided_by) == (
        member,
        today(),
        admin,
    )
    actions = set(AuditEntry.objects.filter(actor=admin).values_list("action", flat=True))
    assert {
        "application.approved",
        "member.created",
        "contact.added",
        "membership.dues_called",
        "service_request.created",
    } <= actions

    received = subjects_to("camille@velo.example.org")
    assert any("your application is approved" in s for s in received)
    welcome_aboard = next(m for m in mail.outbox if "approved" in m.subject)
    assert "Your member number: A0001" in welcome_aboard.body
    invitation = Invitation.objects.get(member=member)
    assert invitation.email == "camille@velo.example.org"
    assert any("/portal/invitation/" in m.body for m in mail.outbox)


def test_numbers_follow_the_highest_one_of_each_kind(apply, console, catalog):
    make_member(number="A0202")
    make_member(number="I0007", kind="individual", name="Dominique")
    make_member(number="ADMIN", name="Not in the scheme")
    association = applied(apply)
    individual = applied(apply, kind="individual", name="Sam Petit")
    collective = applied(apply, kind="collective", name="Collectif Vélo")
    for application in (association, individual, collective):
        assert approve(console, application).status_code == 302
    numbers = {a.name: a.member.number for a in Application.objects.select_related("member")}
    assert numbers == {
        "Les Amis du Vélo": "A0203",
        "Sam Petit": "I0008",
        "Collectif Vélo": "A0204",
    }
    sam = Member.objects.get(number="I0008")
    assert sam.contacts.get().roles == "tech"  # an individual is their own technical contact
    assert sam.memberships.get().amount == Decimal("10.00")


def test_a_service_that_cannot_be_created_yet_does_not_hold_the_member_back(
    apply, console, catalog
):
    application = applied(apply, **WITH_SERVICES)  # no server takes web sites or lists
    response = approve(console, application)
    member = Member.objects.get()
    page = console.get(response["Location"]).content.decode()
    assert "waits for an admin" in page
    assert "No server takes" in page
    assert set(ServiceRequest.objects.values_list("status", flat=True)) == {"pending"}
    assert member.number == "A0001" and member.memberships.exists()


def test_a_decision_is_taken_once_and_not_in_the_future(apply, console, catalog):
    application = applied(apply)
    future = approve(console, application, on=today() + timedelta(days=1))
    assert future.status_code == 400
    assert "cannot be in the future" in future.content.decode()
    assert not Member.objects.exists()

    assert approve(console, application).status_code == 302
    again = approve(console, application)
    assert again.status_code == 400
    assert "already decided" in again.content.decode()
    assert Member.objects.count() == 1


def test_refusing_tells_the_applicant_why(apply, console, admin, catalog):
    application = applied(apply)
    url = reverse("applications:refuse", args=[application.pk])

    missing = console.post(url, {"refuse-on": today().isoformat(), "refuse-reason": ""})
    assert missing.status_code == 400
    application.refresh_from_db()
    assert application.status == Application.Status.PENDING

    response = console.post(
        url,
        {
            "refuse-on": today().isoformat(),
            "refuse-reason": "Nous n'hébergeons que la Haute-Garonne.",
        },
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.status, application.decided_by) == (Application.Status.REFUSED, admin)
    assert not Member.objects.exists()
    assert AuditEntry.objects.filter(action="application.refused", actor=admin).exists()
    (message,) = mail.outbox
    assert message.to == ["camille@velo.example.org"]
    assert "Nous n'hébergeons que la Haute-Garonne." in message.body
    assert approve(console, application).status_code == 400


def test_only_staff_see_the_applications(client, django_user_model, apply, catalog):
    application = applied(apply)
    for url in (
        reverse("applications:list"),
        reverse("applications:detail", args=[application.pk]),
        reverse("applications:onboarding"),
    ):
        assert client.get(url).status_code == 302  # to the login page
    member_manager = django_user_model.objects.create_user(username="camille", password="x")
    client.force_login(member_manager)
    assert client.get(reverse("applications:list")).status_code == 403
    assert client.post(reverse("applications:approve", args=[application.pk])).status_code == 403
    assert not Member.objects.exists()
