"""The dues follow-up along Le PIC's calendar, through ``ronron chores run dues.follow_up
--now …``: the call on 1 December for the coming year, one reminder from 1 June to those
still unpaid, the cut-off on 1 September (services suspended only when the hoster enabled it),
and a payment that resumes exactly what the missed payment suspended."""

from __future__ import annotations

import socket
from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.members import actions as member_actions
from ronron.members.models import Member, Membership
from ronron.services import actions as service_actions
from ronron.services.models import Service
from tests.lifecycle.conftest import configure, contact, new_member, run_chore, static_site

pytestmark = pytest.mark.django_db

CHORE = "dues.follow_up"


@pytest.fixture
def velo():
    """An association with a treasurer: the dues go to the treasurer only."""
    member = new_member("A0202", "Les Amis du Vélo")
    contact(member, "Presidente", "president")
    contact(member, "Tresorier", "treasurer")
    return member


@pytest.fixture
def radio():
    """An association with a president and a plain contact: the dues go to the president."""
    member = new_member("A0203", "Radio Ramonville")
    contact(member, "Benevole")
    contact(member, "Chef", "president,tech")
    return member


@pytest.fixture
def camille():
    """An individual with one contact and no role: the dues go to that contact."""
    member = new_member("I0007", "Camille Martin", kind="individual")
    contact(member, "Camille", email="camille@example.org")
    return member


def sent(key_words: str = "") -> list[tuple[list[str], str]]:
    return [(m.to, m.subject) for m in mail.outbox if key_words in m.subject]


def membership(member: Member, year: int = 2027) -> Membership:
    return Membership.objects.get(member=member, year=year)


def test_the_dues_of_the_coming_year_are_called_once_on_the_call_date(velo, radio, camille):
    # Not a member (yet, or any more): no call.
    new_member("A0300", "En attente", status="approved", joined_on=None)
    leaving = new_member("A0301", "Sur le départ")
    member_actions.record_departure_notice(leaving, actor=None, leave_on=date(2026, 12, 31))
    contact(leaving, "Partante", "treasurer")

    assert "called" not in run_chore(CHORE, "2026-11-30T08:00")
    assert mail.outbox == [] and not Membership.objects.exists()

    run_chore(CHORE, "2026-12-01T08:00")
    assert sorted(sent()) == [
        (["camille@example.org"], "[Le Chaton Libre] 2027 dues — Camille Martin"),
        (["chef@a0203.example.org"], "[Le Chaton Libre] 2027 dues — Radio Ramonville"),
        (["tresorier@a0202.example.org"], "[Le Chaton Libre] 2027 dues — Les Amis du Vélo"),
    ]
    called = membership(velo)
    assert (called.called_on, called.amount) == (date(2026, 12, 1), Decimal("30.00"))
    assert membership(camille).amount == Decimal("10.00")
    assert not Membership.objects.filter(member__number__in=["A0300", "A0301"]).exists()
    body = next(m.body for m in mail.outbox if "Vélo" in m.subject)
    assert "Amount: 30.00 €" in body and "before June 1, 2027" in body
    assert "https://ronron.example.org/portal/" in body
    # The sending is in the member's history.
    assert AuditEntry.objects.filter(action="mail.sent", member_id=velo.pk).count() == 1

    # Idempotent: the next days (or a second run the same day) call nobody again.
    for when in ("2026-12-01T20:00", "2026-12-02T08:00", "2027-02-01T08:00"):
        run_chore(CHORE, when)
    assert len(mail.outbox) == 3
    assert AuditEntry.objects.filter(action="membership.dues_called").count() == 3


def test_a_member_admitted_during_the_call_is_called_but_not_one_called_by_hand(velo, radio):
    # An admin already called Radio's dues from the console: the chore does not call again.
    member_actions.call_dues(radio, actor=None, year=2027, on=date(2026, 11, 20))
    run_chore(CHORE, "2026-12-01T08:00")
    assert [to for to, _subject in sent()] == [["tresorier@a0202.example.org"]]
    late = new_member("A0400", "Nouveaux venus", joined_on=date(2027, 2, 10))
    contact(late, "Nouvelle", "treasurer")
    run_chore(CHORE, "2027-02-11T08:00")
    assert [to for to, _subject in sent()][-1] == ["nouvelle@a0400.example.org"]
    assert membership(late).called_on == date(2027, 2, 11)


def test_one_reminder_goes_to_those_still_unpaid_from_the_reminder_date(
    console, velo, radio, camille
):
    run_chore(CHORE, "2026-12-01T08:00")
    mail.outbox.clear()
    # Radio pays in March, through the console.
    paid = membership(radio)
    page = console.post(
        reverse("members:payment", args=[radio.pk, paid.pk]),
        {f"m{paid.pk}-paid_on": "2027-03-02", f"m{paid.pk}-method": "transfer"},
    )
    assert page.status_code == 302

    run_chore(CHORE, "2027-05-31T08:00")
    assert mail.outbox == []
    run_chore(CHORE, "2027-06-01T08:00")
    assert sorted(to for to, _subject in sent("Reminder")) == [
        ["camille@example.org"],
        ["tresorier@a0202.example.org"],
    ]
    reminder = next(m for m in mail.outbox if "Vélo" in m.subject)
    assert reminder.subject == "[Le Chaton Libre] Reminder: 2027 dues of Les Amis du Vélo"
    assert "called on December 1, 2026" in reminder.body
    assert "before September 1, 2027" in reminder.body
    # No second reminder, whatever the days.
    for when in ("2027-06-01T21:00", "2027-06-02T08:00", "2027-08-31T08:00"):
        run_chore(CHORE, when)
    assert len(mail.outbox) == 2


def test_the_cut_off_suspends_nothing_unless_the_hoster_enabled_it(settings, velo, web1):
    site = static_site(velo, web1, "velo.example.org")
    run_chore(CHORE, "2026-12-01T08:00")
    mail.outbox.clear()
    run_chore(CHORE, "2027-09-01T08:00")
    assert [subject for _to, subject in sent()] == [
        "[Le Chaton Libre] 2027 dues of Les Amis du Vélo not received"
    ]
    site.refresh_from_db()
    assert site.wanted_state == Service.Wanted.PRESENT
    assert not AuditEntry.objects.filter(action="service.suspended").exists()

    # The hoster turns suspension on: the next run suspends, once; the cut-off mail is not
    # sent twice.
    configure(settings, suspend_unpaid=True)
    run_chore(CHORE, "2027-09-02T08:00")
    site.refresh_from_db()
    assert site.wanted_state == Service.Wanted.SUSPENDED
    assert [subject for _to, subject in sent()][1:] == [
        "[Le Chaton Libre] Services of Les Amis du Vélo suspended"
    ]
    reason = AuditEntry.objects.get(action="membership.services_suspended")
    assert reason.after == {
        "year": 2027,
        "services": [site.pk],
        "reason": "dues unpaid at the cut-off",
    }
    assert reason.member_id == velo.pk
    run_chore(CHORE, "2027-09-03T08:00")
    assert len(mail.outbox) == 2
    assert AuditEntry.objects.filter(action="service.suspended").count() == 1


def test_the_cut_off_spares_those_who_paid_or_were_called_late(settings, velo, radio, web1):
    configure(settings, suspend_unpaid=True)
    run_chore(CHORE, "2026-12-01T08:00")
    member_actions.record_payment(
        membership(radio), actor=None, paid_on=date(2027, 8, 30), method="cheque"
    )
    newcomer = new_member("A0500", "Arrivés en août", joined_on=date(2027, 8, 20))
    contact(newcomer, "Arrivee", "treasurer")
    member_actions.call_dues(newcomer, actor=None, year=2027, on=date(2027, 8, 20))
    sites = [static_site(m, web1, f"{m.number.lower()}.example.org") for m in (radio, newcomer)]
    mail.outbox.clear()
    run_chore(CHORE, "2027-09-01T08:00")
    # Only Vélo (no site) hears of the cut-off; the newcomer's dues were just called.
    assert [to for to, _subject in sent()] == [["tresorier@a0202.example.org"]]
    for site in sites:
        site.refresh_from_db()
        assert site.wanted_state == Service.Wanted.PRESENT


def test_a_payment_resumes_only_what_the_missed_payment_suspended(settings, console, velo, web1):
    configure(settings, suspend_unpaid=True)
    main = static_site(velo, web1, "velo.example.org")
    paused = static_site(velo, web1, "archives.velo.example.org")
    # An admin paused the archives site in July, for another reason.
    service_actions.suspend_service(paused, actor=None)
    run_chore(CHORE, "2026-12-01T08:00")
    run_chore(CHORE, "2027-09-01T08:00")
    main.refresh_from_db()
    assert main.wanted_state == Service.Wanted.SUSPENDED
    notice = AuditEntry.objects.get(action="membership.services_suspended")
    assert notice.after["services"] == [main.pk]

    unpaid = membership(velo)
    page = console.post(
        reverse("members:payment", args=[velo.pk, unpaid.pk]),
        {f"m{unpaid.pk}-paid_on": "2027-09-10", f"m{unpaid.pk}-method": "transfer"},
    )
    assert page.status_code == 302
    # Whether the payment action resumed it at once or the next daily run does, the site
    # that dues suspended runs again; the one an admin paused stays paused.
    run_chore(CHORE, "2027-09-11T08:00")
    main.refresh_from_db()
    paused.refresh_from_db()
    assert main.wanted_state == Service.Wanted.PRESENT
    assert paused.wanted_state == Service.Wanted.SUSPENDED
    resumed = AuditEntry.objects.get(action="membership.services_resumed")
    assert resumed.after == {"year": 2027, "services": [main.pk]}
    # Once only.
    run_chore(CHORE, "2027-09-12T08:00")
    assert AuditEntry.objects.filter(action="service.resumed").count() == 1


def test_a_member_leaving_gets_nothing_back_on_payment(settings, velo, web1):
    from ronron.members.dues_reminders import payment_recorded

    configure(settings, suspend_unpaid=True)
    site = static_site(velo, web1, "velo.example.org")
    run_chore(CHORE, "2026-12-01T08:00")
    run_chore(CHORE, "2027-09-01T08:00")
    member_actions.record_departure_notice(velo, actor=None, leave_on=date(2027, 12, 31))
    paid = member_actions.record_payment(
        membership(velo), actor=None, paid_on=date(2027, 9, 20), method="cash"
    )
    assert payment_recorded(paid, actor=None) == []
    run_chore(CHORE, "2027-09-21T08:00")
    site.refresh_from_db()
    assert site.wanted_state == Service.Wanted.SUSPENDED


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_message_that_cannot_go_is_recorded_and_sent_the_next_day(settings, velo):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _closed_port()
    settings.EMAIL_USE_TLS = False
    run_chore(CHORE, "2026-12-01T08:00")
    failed = AuditEntry.objects.get(action="mail.failed", member_id=velo.pk)
    assert failed.after["message"] == "dues.call"
    assert failed.after["to"] == ["tresorier@a0202.example.org"]
    assert failed.after["error"]
    # The dues are called all the same: the mail server does not undo the call.
    assert membership(velo).called_on == date(2026, 12, 1)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    run_chore(CHORE, "2026-12-02T08:00")
    assert [to for to, _subject in sent()] == [["tresorier@a0202.example.org"]]
    run_chore(CHORE, "2026-12-03T08:00")
    assert len(mail.outbox) == 1


def test_the_chore_is_registered_daily():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("chores", "list", stdout=out)
    listed = dict(line.split("\t")[:2] for line in out.getvalue().splitlines())
    for name in (
        "dues.follow_up",
        "offboarding.leave",
        "offboarding.remove_services",
        "offboarding.erase_personal_data",
    ):
        assert listed[name] == "1 day, 0:00:00"
