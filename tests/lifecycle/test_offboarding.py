"""Departures through the portal and the console: the rule shown before the member confirms,
the notice and its mails, the verified export and its link, the leaving day, the removal held
without a verified export, and the erasure that keeps the reports' figures."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from ronron.core.models import AuditEntry
from ronron.members import actions as member_actions
from ronron.members.models import Contact, Member, Theme
from ronron.members.models_lifecycle import DepartureExport
from ronron.portal.models import HelpMessage, HelpRequest, Invitation, ManagerAccess
from ronron.reports.figures import build_report
from ronron.services.models import Service
from tests.lifecycle.conftest import IMMEDIATE, contact, new_member, run_chore, static_site

pytestmark = pytest.mark.django_db

PASSWORD = "un-mot-de-passe-solide"
LINK = re.compile(r"https://ronron\.example\.org(/portal/A0202/departure/export/[A-Za-z0-9_-]+/)")


def today():
    # Asked when the test runs (not when it is collected, maybe the day before).
    return timezone.localdate()


# Last year: every date below is in the past whatever day the tests run.
Y = today().year - 1


@pytest.fixture
def velo():
    member = new_member("A0202", "Les Amis du Vélo", address="12 rue des Cyclistes")
    member.themes.set([Theme.objects.get_or_create(slug="mobilite", name="Mobilité")[0]])
    contact(member, "Presidente", "president")
    contact(member, "Tech", "tech")
    contact(member, "Tresorier", "treasurer")
    return member


def manager_of(member: Member, django_user_model, username: str) -> Client:
    user = django_user_model.objects.create_user(
        username=username, email=f"{username}@example.org", password=PASSWORD
    )
    ManagerAccess.objects.create(user=user, member=member)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager(velo, django_user_model) -> Client:
    return manager_of(velo, django_user_model, "marie")


PAGE = "/portal/A0202/departure/"


def test_the_page_explains_the_rule_and_what_follows_before_the_member_confirms(manager, velo):
    page = manager.get(PAGE)
    assert page.status_code == 200
    text = " ".join(page.content.decode().split())
    assert "Membership runs by calendar year." in text
    assert "A notice given by January 20 ends your membership at once" in text
    in_time = date(today().year, 1, 20) >= today()
    if in_time:
        assert "your membership ends today and you owe nothing" in text
    else:
        assert f"your membership ends on Dec. 31, {today().year}" in text
        assert f"the {today().year} dues remain owed" in text
    assert "90 days later, they are removed" in text
    assert "365 days after your departure, your personal data is erased" in text
    assert "Confirm the departure of Les Amis du Vélo" in text
    velo.refresh_from_db()
    assert velo.status == Member.Status.MEMBER


def test_confirming_needs_the_box_ticked(manager, velo):
    page = manager.post(PAGE, {})
    assert page.status_code == 200
    assert "Tick the box to confirm the departure." in page.content.decode()
    velo.refresh_from_db()
    assert velo.status == Member.Status.MEMBER and mail.outbox == []


def test_only_the_members_managers_reach_the_page(client, velo, django_user_model, staff_user):
    radio = new_member("A0203", "Radio Ramonville")
    other = manager_of(radio, django_user_model, "paul")
    assert other.get(PAGE).status_code == 404
    assert other.post(PAGE, {"confirm": "on"}).status_code == 404
    anonymous = client.get(PAGE)
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    client.force_login(staff_user)  # staff use the console, not the portal
    assert client.get(PAGE).status_code == 404
    velo.refresh_from_db()
    assert velo.status == Member.Status.MEMBER
    assert not AuditEntry.objects.filter(action="offboarding.notice_given").exists()


@override_settings(TASKS=IMMEDIATE)
def test_the_notice_mails_its_terms_then_a_verified_export_link(
    manager, velo, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = manager.post(PAGE, {"confirm": "on"})
    assert confirmed.status_code == 302 and confirmed["Location"] == PAGE
    velo.refresh_from_db()
    in_time = date(today().year, 1, 20) >= today()
    last_day = today() if in_time else date(today().year, 12, 31)
    # left_on is the first day without membership.
    assert (velo.status, velo.left_on) == (Member.Status.LEAVING, last_day + timedelta(days=1))

    notice, ready = mail.outbox
    recipients = ["presidente@a0202.example.org", "tech@a0202.example.org", "marie@example.org"]
    assert notice.to == recipients and ready.to == recipients
    assert notice.subject == (
        "[Le Chaton Libre] Departure of Les Amis du Vélo: we received your notice"
    )
    assert f"{last_day:%B} {last_day.day}, {last_day.year}" in notice.body
    assert "https://ronron.example.org/portal/A0202/departure/" in notice.body
    assert ready.subject == "[Le Chaton Libre] All the data of Les Amis du Vélo is ready"
    assert "We read the whole file back before sending it to you" in ready.body
    path = LINK.search(ready.body).group(1)  # type: ignore[union-attr]

    export = DepartureExport.objects.get()
    assert export.verified_at is not None and export.mailed_at is not None
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert token not in export.token_hash and len(export.token_hash) == 64
    assert abs(export.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)

    # The link works without an account, and gives the member's own file.
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="A0202-data.zip"'
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        document = archive.read("member.json").decode()
    assert '"number": "A0202"' in document and "Les Amis du Vélo" in document
    assert AuditEntry.objects.filter(action="offboarding.export_downloaded").count() == 1

    # A wrong number, a wrong token, an expired link: nothing.
    assert client.get(path.replace("A0202", "A0203")).status_code == 404
    assert client.get(path[:-5] + "abcd/").status_code == 404
    DepartureExport.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(path).status_code == 404

    # The page now tells what happens and when.
    text = " ".join(manager.get(PAGE).content.decode().split())
    assert "Your notice is recorded" in text and "ready and verified" in text
    assert "Confirm the departure" not in text
    # Twice is refused.
    assert manager.post(PAGE, {"confirm": "on"}).status_code == 200
    assert AuditEntry.objects.filter(action="offboarding.notice_given").count() == 1


def test_the_rule_by_the_deadline_and_after_it(console, velo, django_capture_on_commit_callbacks):
    radio = new_member("A0203", "Radio Ramonville")
    contact(radio, "Chef", "president,treasurer")
    run_chore("dues.follow_up", f"{Y - 1}-12-01T08:00")  # both called for Y
    with django_capture_on_commit_callbacks(execute=True):
        for member, day in ((velo, 20), (radio, 21)):
            page = console.post(
                reverse("portal:portal_departure:console_notice", args=[member.number]),
                {"on": f"{Y}-01-{day}"},
            )
            assert page.status_code == 302
    velo.refresh_from_db()
    radio.refresh_from_db()
    # By the deadline: the notice's day is the last, nothing is owed for Y.
    assert velo.left_on == date(Y, 1, 21)
    # After it: a member until the end of Y, Y's dues owed.
    assert radio.left_on == date(Y + 1, 1, 1)
    notices = [m for m in mail.outbox if "we received your notice" in m.subject]
    assert f"no dues are owed for {Y}" in notices[0].body
    assert f"the {Y} dues are still owed" in notices[1].body
    given = AuditEntry.objects.filter(action="offboarding.notice_given").first()
    assert given is not None and given.after["in_time"] is False

    mail.outbox.clear()
    run_chore("dues.follow_up", f"{Y}-06-01T08:00")
    assert [m.to for m in mail.outbox] == [["chef@a0203.example.org"]]


def test_a_notice_in_the_future_is_refused(console, velo):
    tomorrow = today() + timedelta(days=1)
    page = console.post(
        reverse("portal:portal_departure:console_notice", args=["A0202"]),
        {"on": tomorrow.isoformat()},
        follow=True,
    )
    assert "A notice cannot be received in the future." in page.content.decode()
    velo.refresh_from_db()
    assert velo.status == Member.Status.MEMBER


def test_the_console_panel_records_a_notice_and_offers_the_export_again(
    console, velo, django_capture_on_commit_callbacks, settings
):
    detail = reverse("members:detail", args=[velo.pk])
    text = console.get(detail).content.decode()
    assert 'id="departure-title"' in text and "Record the notice" in text
    with django_capture_on_commit_callbacks(execute=True):
        console.post(
            reverse("portal:portal_departure:console_notice", args=["A0202"]),
            {"on": f"{Y}-03-01"},
        )
    text = " ".join(console.get(detail).content.decode().split())
    assert f"<dt>Last day of membership</dt><dd>Dec. 31, {Y}</dd>" in text
    assert "being prepared" in text  # the job waits for the worker
    page = console.post(
        reverse("portal:portal_departure:console_export", args=["A0202"]), follow=True
    )
    assert "An export is already being prepared" in page.content.decode()

    # The worker runs it; an admin asks for another one, then for a new link.
    settings.TASKS = IMMEDIATE
    from ronron.jobs.models import Job
    from ronron.members.offboarding import departure_export_task

    departure_export_task.enqueue(Job.objects.get(kind="offboarding.export").pk)
    assert "ready and verified" in console.get(detail).content.decode()
    mail.outbox.clear()
    page = console.post(
        reverse("portal:portal_departure:console_export", args=["A0202"]), follow=True
    )
    assert "The export is being prepared" in page.content.decode()
    assert [m.subject for m in mail.outbox] == [
        "[Le Chaton Libre] All the data of Les Amis du Vélo is ready"
    ]
    first = LINK.search(mail.outbox[0].body).group(1)  # type: ignore[union-attr]
    page = console.post(
        reverse("portal:portal_departure:console_link", args=["A0202"]), follow=True
    )
    assert "A new download link was sent." in page.content.decode()
    second = LINK.search(mail.outbox[1].body).group(1)  # type: ignore[union-attr]
    assert first != second
    assert Client().get(first).status_code == 404  # replaced
    assert Client().get(second).status_code == 200
    assert DepartureExport.objects.count() == 2


def test_the_leaving_day_suspends_and_removal_waits_for_a_verified_export(
    console, velo, web1, django_capture_on_commit_callbacks
):
    sites = [static_site(velo, web1, d) for d in ("velo.example.org", "agenda.velo.example.org")]
    console.post(
        reverse("portal:portal_departure:console_notice", args=["A0202"]), {"on": f"{Y}-02-01"}
    )
    leave_on = date(Y + 1, 1, 1)
    run_chore("offboarding.leave", f"{Y}-12-31T08:00")
    velo.refresh_from_db()
    assert velo.status == Member.Status.LEAVING  # still a member on its last day
    run_chore("offboarding.leave", f"{Y + 1}-01-01T08:00")
    velo.refresh_from_db()
    assert (velo.status, velo.left_on) == (Member.Status.LEFT, leave_on)
    for site in sites:
        site.refresh_from_db()
        assert site.wanted_state == Service.Wanted.SUSPENDED  # its data kept

    # No verified export: nothing is marked for removal, and the console says so (once).
    removal_day = (leave_on + timedelta(days=90)).isoformat()
    run_chore("offboarding.remove_services", f"{leave_on + timedelta(days=89)}T08:00")
    assert not AuditEntry.objects.filter(action="offboarding.removal_held").exists()
    run_chore("offboarding.remove_services", f"{removal_day}T08:00")
    run_chore("offboarding.remove_services", f"{removal_day}T20:00")
    held = AuditEntry.objects.get(action="offboarding.removal_held")
    assert held.after == {"reason": "no verified export", "services": [s.pk for s in sites]}
    for site in sites:
        site.refresh_from_db()
        assert site.wanted_state == Service.Wanted.SUSPENDED
    text = console.get(reverse("members:detail", args=[velo.pk])).content.decode()
    assert "Services are not removed: no verified export" in text


def test_erasure_keeps_the_figures_and_forgets_the_people(
    velo, manager, django_capture_on_commit_callbacks, django_user_model
):
    # A bit of everything personal.
    Invitation.objects.create(
        member=velo,
        email="invite@example.org",
        token_hash="0" * 64,
        expires_at=timezone.now() + timedelta(days=3),
    )
    question = HelpRequest.objects.create(member=velo, subject="Notre site ne répond plus")
    HelpMessage.objects.create(request=question, author_name="Marie", body="Mon numéro: 0601")
    member_actions.update_member(velo, actor=None, notes="Présidente: Marie, 0601020304")
    with django_capture_on_commit_callbacks(execute=True):
        manager.post(PAGE, {"confirm": "on"})
    velo.refresh_from_db()
    leave_on = velo.left_on
    assert leave_on is not None
    run_chore("offboarding.leave", f"{leave_on}T08:00")
    before_report = build_report(leave_on.year - 1).current.members.associations

    erase_day = leave_on + timedelta(days=365)
    run_chore("offboarding.erase_personal_data", f"{erase_day - timedelta(days=1)}T08:00")
    velo.refresh_from_db()
    assert velo.anonymised_at is None
    run_chore("offboarding.erase_personal_data", f"{erase_day}T08:00")
    velo.refresh_from_db()
    assert velo.anonymised_at is not None
    assert velo.name == "Former member A0202"
    assert (velo.address, velo.notes, velo.rna, velo.siren) == ("", "", "", "")
    # What the reports count stays.
    assert (velo.kind, velo.postal_code, velo.departement, velo.region) == (
        "association",
        "31520",
        "31",
        "Occitanie",
    )
    assert [t.slug for t in velo.themes.all()] == ["mobilite"]
    assert velo.joined_on == date(2020, 3, 1) and velo.left_on == leave_on
    assert not Contact.objects.filter(member=velo).exists()
    assert not ManagerAccess.objects.filter(member=velo).exists()
    assert not Invitation.objects.filter(member=velo).exists()
    assert not django_user_model.objects.filter(username="marie").exists()
    assert HelpMessage.objects.get().body == "" and HelpMessage.objects.get().author_name == ""
    for entry in AuditEntry.objects.filter(member_id=velo.pk).exclude(
        action="member.personal_data_erased"
    ):
        assert entry.before in (None, {"erased": True}) and entry.after in (None, {"erased": True})
        assert "Vélo" not in entry.object_repr
    written = " ".join(str(v) for v in AuditEntry.objects.filter(member_id=velo.pk).values_list())
    for personal in ("Vélo", "presidente@", "0601", "Marie", "12 rue"):
        assert personal not in written
    assert not DepartureExport.objects.filter(erased_at__isnull=True).exists()
    assert build_report(leave_on.year - 1).current.members.associations == before_report == 1

    # Idempotent: a second run erases nothing more and writes nothing more.
    count = AuditEntry.objects.count()
    assert "'erased': 0" in run_chore("offboarding.erase_personal_data", f"{erase_day}T20:00")
    assert AuditEntry.objects.count() == count
