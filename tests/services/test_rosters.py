"""Rosters computed from the member file, and the authenticated feed Sympa reads them from."""

from __future__ import annotations

import base64
from datetime import date

import pytest
from django.db import transaction
from django.test.utils import override_settings
from django.urls import reverse

from ronron.members import actions as member_actions
from ronron.members.models import Member
from ronron.services import rosters
from ronron.services.credentials import secret
from ronron.services.models import Roster, RosterSync, Service
from ronron.services.tasks import sync_rosters
from ronron.services.views_feed import ROSTER_FEED, feed_user

pytestmark = pytest.mark.django_db
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def new_member(number: str, status: str = Member.Status.MEMBER, **data) -> Member:
    data.setdefault("joined_on", date(2020, 1, 1))
    return member_actions.create_member(
        actor=None, number=number, kind="association", name=f"Association {number}",
        status=status, **data,
    )  # fmt: skip


@pytest.fixture
def members():
    velo = new_member("A1")
    member_actions.add_contact(
        velo, actor=None, name="Marie Dupont", email="Marie@Example.org", roles="president"
    )
    member_actions.add_contact(
        velo, actor=None, name="Tech Vélo", email="tech@velo.org", roles="tech"
    )
    jardin = new_member("A2")
    member_actions.add_contact(jardin, actor=None, name="Paul", email="paul@jardin.org", roles="")
    gone = new_member("A3", status=Member.Status.LEFT, left_on=date(2023, 6, 1))
    member_actions.add_contact(gone, actor=None, name="Ancien", email="old@gone.org", roles="")
    applicant = new_member("A4", status=Member.Status.APPLIED, joined_on=None)
    member_actions.add_contact(applicant, actor=None, name="Candidat", email="new@apply.org")
    return velo, jardin


def emails(roster: Roster) -> list[str]:
    return [entry.email for entry in rosters.entries(roster)]


def test_member_file_sources(members):
    velo, _ = members
    everyone = Roster.objects.create(slug="tous", name="Tous", source="members")
    board = Roster.objects.create(slug="bureaux", name="Bureaux", source="board")
    tech = Roster.objects.create(slug="tech", name="Tech", source="tech")
    one = Roster.objects.create(slug="velo", name="Vélo", source="member", member=velo)
    assert emails(everyone) == ["marie@example.org", "paul@jardin.org", "tech@velo.org"]
    assert emails(board) == ["marie@example.org"]
    assert emails(tech) == ["tech@velo.org"]
    assert emails(one) == ["marie@example.org", "tech@velo.org"]


def test_uploaded_roster_is_deduplicated_case_insensitively():
    roster = Roster.objects.create(
        slug="ca",
        name="CA",
        source="upload",
        uploaded=[
            {"email": "Anne@Example.org", "name": "Anne"},
            {"email": "anne@example.org", "name": "Anne bis"},
            {"email": "bob@example.org"},
        ],
    )
    assert rosters.entries(roster) == [
        rosters.Entry("anne@example.org", "Anne"),
        rosters.Entry("bob@example.org", ""),
    ]


def test_feed_text_is_what_sympa_reads():
    text = rosters.feed_text(
        [
            rosters.Entry("anne@example.org", "Anne # not a comment"),
            rosters.Entry("bad\naddress@example.org", "Evil"),
            rosters.Entry("bob@example.org", ""),
        ]
    )
    assert text == "# Ronron roster\nanne@example.org Anne  not a comment\nbob@example.org\n"


@pytest.fixture
def list_service(members):
    velo, _ = members
    roster = Roster.objects.create(slug="tous", name="Tous", source="members")
    service = Service.objects.create(
        member=velo, kind="list", family="lists", managed=True, name="tous", roster=roster
    )
    secret(service, ROSTER_FEED)
    return service


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_feed_needs_the_service_credential(client, list_service):
    url = reverse("roster_feed", args=[list_service.pk])
    assert client.get(url).status_code == 401
    wrong = client.get(url, HTTP_AUTHORIZATION=basic(feed_user(list_service), "nope"))
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"].startswith("Basic")
    other_user = client.get(
        url, HTTP_AUTHORIZATION=basic("service-999", list_service.credentials[ROSTER_FEED])
    )
    assert other_user.status_code == 401
    assert client.post(url).status_code == 405


def test_feed_follows_the_member_file(client, members, list_service):
    url = reverse("roster_feed", args=[list_service.pk])
    auth = basic(feed_user(list_service), list_service.credentials[ROSTER_FEED])
    body = client.get(url, HTTP_AUTHORIZATION=auth).content.decode()
    assert "paul@jardin.org Paul" in body.splitlines()

    _, jardin = members
    member_actions.record_departure(jardin, actor=None, on=date(2026, 1, 31))
    body = client.get(url, HTTP_AUTHORIZATION=auth).content.decode()
    assert "paul@jardin.org" not in body
    assert "marie@example.org Marie Dupont" in body.splitlines()


def test_feed_never_looks_empty_when_the_roster_cannot_be_computed(client, members, list_service):
    """Sympa would unsubscribe everyone on an empty answer; an error makes it keep them."""
    url = reverse("roster_feed", args=[list_service.pk])
    auth = basic(feed_user(list_service), list_service.credentials[ROSTER_FEED])
    # A source that is not there any more (say, a member's Galette plug-in was removed).
    Roster.objects.filter(pk=list_service.roster_id).update(source="galette")
    response = client.get(url, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 503
    assert "@" not in response.content.decode()


@pytest.mark.django_db(transaction=True)
@override_settings(TASKS=IMMEDIATE)
def test_a_committed_change_syncs_the_following_lists_once():
    velo = new_member("A1")
    member_actions.add_contact(velo, actor=None, name="Marie", email="marie@velo.org")
    jardin = new_member("A2")
    member_actions.add_contact(jardin, actor=None, name="Paul", email="paul@jardin.org")
    roster = Roster.objects.create(slug="tous", name="Tous", source="members")
    service = Service.objects.create(
        member=velo, kind="list", family="lists", managed=True, name="tous", roster=roster
    )
    before = RosterSync.objects.filter(service=service).count()

    with transaction.atomic():
        member_actions.record_departure(jardin, actor=None, on=date(2026, 1, 31))
        member_actions.add_contact(velo, actor=None, name="Nouvelle", email="n@velo.org")
        assert RosterSync.objects.filter(service=service).count() == before  # not before commit
    syncs = list(RosterSync.objects.filter(service=service))
    assert len(syncs) == before + 1  # two changes, one sync
    assert syncs[0].addresses == 2  # marie and n@velo: Paul is gone
    # This list has no server to reach: the sync is recorded as failed, with the reason (the
    # real Sympa is in tests/drivers/test_sympa.py).
    assert syncs[0].outcome == RosterSync.Outcome.FAILED and "no server" in syncs[0].message

    with transaction.atomic():
        member_actions.add_contact(jardin, actor=None, name="Paul 2", email="p2@jardin.org")
        transaction.set_rollback(True)
    assert RosterSync.objects.filter(service=service).count() == before + 1  # rolled back
    member_actions.add_contact(velo, actor=None, name="Luc", email="luc@velo.org")
    assert RosterSync.objects.filter(service=service).count() == before + 2


def test_unchanged_roster_is_not_synchronised_again(members, list_service):
    sync_rosters()
    RosterSync.objects.update(outcome=RosterSync.Outcome.OK)
    assert sync_rosters() == {"services": 0, "failed": 0, "messages": {}}
    member_actions.add_contact(members[0], actor=None, name="Nouvelle", email="n@velo.org")
    assert sync_rosters()["services"] == 1


@pytest.mark.django_db(transaction=True)
def test_changes_while_a_sync_waits_in_the_queue_queue_no_other(members):
    """An apply of hundreds of lists, or a burst of edits, leaves one sync waiting, not one each."""
    from django_tasks_db.models import DBTaskResult

    from ronron.services.tasks import sync_rosters_task

    waiting = DBTaskResult.objects.ready().filter(task_path=sync_rosters_task.module_path)
    waiting.delete()
    velo, jardin = members
    member_actions.add_contact(velo, actor=None, name="Une", email="une@velo.org")
    member_actions.add_contact(jardin, actor=None, name="Deux", email="deux@jardin.org")
    assert waiting.count() == 1
    # Once it has run, the next change queues a new one.
    waiting.update(status="SUCCESSFUL")
    member_actions.add_contact(jardin, actor=None, name="Trois", email="trois@jardin.org")
    assert waiting.count() == 1
