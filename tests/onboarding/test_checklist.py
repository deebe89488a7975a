"""The checklist of a new member along its journey (who each step waits on, since when), the
welcome sent once every service runs and its credentials went out, and the console's list of
members on their way in with the stuck ones first."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from ronron.core.models import AuditEntry
from ronron.members import actions
from ronron.members.models import Application, Member
from ronron.members.onboarding import checklist
from ronron.services.handover import hand_over_credentials
from ronron.services.models import Service
from tests.core.helpers import make_member
from tests.onboarding.conftest import WITH_SERVICES, application_form

pytestmark = pytest.mark.django_db


def today():
    # Asked when the test runs (not when it is collected, maybe the day before), in the
    # hoster's time zone as the pages use it.
    return timezone.localdate()


TECH = "camille@velo.example.org"


def states(member: Member) -> dict[str, tuple[str, str]]:
    return {step.key: (step.state, step.waits_on) for step in checklist(member)}


def run_welcome() -> None:
    call_command("chores", "run", "onboarding.welcome")


def welcomes() -> list:
    return [m for m in mail.outbox if "are ready" in m.subject]


def observed_running(service: Service) -> None:
    # What the reconciler records once the apply made the service (simulated: no host here).
    Service.objects.filter(pk=service.pk).update(
        observed_state=Service.Observed.PRESENT, observed_at=timezone.now()
    )


@pytest.fixture
def approved(apply, console, catalog, servers) -> Member:
    assert apply(application_form(**WITH_SERVICES)).status_code == 302
    application = Application.objects.get()
    response = console.post(
        reverse("applications:approve", args=[application.pk]), {"approve-on": today().isoformat()}
    )
    assert response.status_code == 302
    mail.outbox.clear()
    return Member.objects.get()


def test_a_pending_application_waits_on_the_board(apply, console, catalog):
    apply(application_form())
    application = Application.objects.get()
    page = console.get(reverse("applications:detail", args=[application.pk]))
    steps = {s.key: (s.state, s.waits_on) for s in page.context["steps"]}
    assert steps["received"] == ("done", "")
    assert steps["decision"] == ("current", "board")
    assert steps["member"] == steps["welcome"] == ("waiting", "")


def test_the_checklist_follows_the_journey_and_the_welcome_goes_once(approved, console):
    member = approved
    services = {s.kind: s for s in member.services.all()}
    assert states(member) == {
        "received": ("done", ""),
        "decision": ("done", ""),
        "member": ("done", ""),
        "dues_called": ("done", ""),
        "dues_paid": ("current", "member"),
        "services": ("current", "admins"),
        "welcome": ("waiting", ""),
        "done": ("waiting", ""),
    }
    assert next(s for s in checklist(member) if s.key == "member").detail == "A0001"
    page = console.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert 'id="onboarding-title"' in page and "Requested services set up" in page

    # The list runs; the site is not made yet: no welcome.
    observed_running(services["list"])
    assert states(member)["services"] == ("current", "admins")
    run_welcome()
    assert welcomes() == []

    # The site runs, but its administrator's password is still to be handed over.
    observed_running(services["wordpress"])
    site = Service.objects.get(pk=services["wordpress"].pk)
    site.credentials = {"admin_password": "un-mot-de-passe-tout-neuf"}
    site.save()
    step = next(s for s in checklist(member) if s.key == "services")
    assert step.state == "current"
    assert "credentials not sent yet" in " ".join(i.status for i in step.items)
    run_welcome()
    assert welcomes() == []

    # The credentials go out as a one-time link: now everything the welcome announces is ready.
    handed = hand_over_credentials(site)
    assert [d.recipient for d in handed.deliveries] == [TECH]
    assert states(member)["services"] == ("done", "")
    assert states(member)["welcome"] == ("current", "admins")

    run_welcome()
    (welcome,) = welcomes()
    assert welcome.to == [TECH]
    assert "A0001" in welcome.body
    assert "http://127.0.0.1:8000/portal/A0001/" in welcome.body
    assert "http://127.0.0.1:8000/portal/A0001/help/" in welcome.body
    assert (
        "velo.example.org" in welcome.body and "adherents@listes.velo.example.org" in welcome.body
    )
    assert "one-time links" in welcome.body
    member.refresh_from_db()
    assert member.welcomed_at is not None
    welcome_step = next(s for s in checklist(member) if s.key == "welcome")
    assert welcome_step.state == "done"
    assert [i.status for i in welcome_step.items] == ["Link sent, not opened yet"]

    run_welcome()
    assert len(welcomes()) == 1  # once only

    # The dues arrive: the journey is over, the console's list lets the member go.
    assert (
        reverse("members:detail", args=[member.pk])
        in console.get(reverse("applications:onboarding")).content.decode()
    )
    actions.record_payment(member.memberships.get(), actor=None, paid_on=today(), method="transfer")
    assert states(member)["done"] == ("done", "")
    assert console.get(reverse("applications:onboarding")).context["rows"] == []


def test_a_member_without_an_application_shows_no_checklist(console):
    old = make_member(number="A0100")  # a member since 2020, imported
    page = console.get(reverse("members:detail", args=[old.pk])).content.decode()
    assert 'id="onboarding-title"' not in page


def _age(application: Application, days: int) -> None:
    Application.objects.filter(pk=application.pk).update(
        created_at=timezone.now() - timedelta(days=days, hours=1)
    )


def test_the_stuck_are_listed_first_with_a_configurable_threshold(
    apply, console, catalog, settings
):
    for name in ("Récente", "Oubliée", "Moyenne"):
        apply(application_form(name=name))
    _age(Application.objects.get(name="Récente"), 3)
    _age(Application.objects.get(name="Oubliée"), 20)
    _age(Application.objects.get(name="Moyenne"), 10)

    def listed() -> list[tuple[str, int, bool]]:
        rows = console.get(reverse("applications:onboarding")).context["rows"]
        return [(row.name, row.days, row.stuck) for row in rows]

    assert listed() == [("Oubliée", 20, True), ("Moyenne", 10, False), ("Récente", 3, False)]
    page = console.get(reverse("applications:onboarding")).content.decode()
    assert "1 waiting for more than 14 days at a step" in page
    assert "the board" in page

    lifecycle = dataclasses.replace(settings.RONRON.lifecycle, stuck_after_days=7)
    settings.RONRON = dataclasses.replace(settings.RONRON, lifecycle=lifecycle)
    assert listed() == [("Oubliée", 20, True), ("Moyenne", 10, True), ("Récente", 3, False)]

    lifecycle = dataclasses.replace(settings.RONRON.lifecycle, stuck_after_days=30)
    settings.RONRON = dataclasses.replace(settings.RONRON, lifecycle=lifecycle)
    assert [stuck for _name, _days, stuck in listed()] == [False, False, False]


def test_a_new_member_waiting_for_its_services_is_listed_with_whom_it_waits_on(approved, console):
    rows = console.get(reverse("applications:onboarding")).context["rows"]
    (row,) = rows
    assert row.number == "A0001"
    assert {(s.key, s.waits_on) for s in row.current} == {
        ("dues_paid", "member"),
        ("services", "admins"),
    }


def test_a_welcome_that_cannot_go_is_said_once_then_sent_when_mail_works(
    apply, console, catalog, settings
):
    apply(application_form())  # no service asked for: the welcome is due at once
    application = Application.objects.get()
    console.post(
        reverse("applications:approve", args=[application.pk]), {"approve-on": today().isoformat()}
    )
    member = Member.objects.get()
    mail.outbox.clear()

    locmem = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    run_welcome()
    run_welcome()
    failures = AuditEntry.objects.filter(member_id=member.pk, action="onboarding.welcome_failed")
    assert failures.count() == 1
    step = next(s for s in checklist(member) if s.key == "welcome")
    assert (step.state, step.waits_on) == ("current", "admins")
    assert "could not be sent" in step.detail

    settings.EMAIL_BACKEND = locmem
    run_welcome()
    (welcome,) = welcomes()
    assert welcome.to == [TECH] and "A0001" in welcome.body
    member.refresh_from_db()
    assert member.welcomed_at is not None
