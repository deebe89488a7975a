"""The roster and list pages of the console, through HTTP: create, edit and delete rosters, send
a file of addresses, see a roster's addresses and the lists that follow it, make a list follow a
roster from its page. The lists are recorded directly (the Sympa driver is tested elsewhere)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from ronron.core.models import AuditEntry
from ronron.fleet.actions import create_server
from ronron.members import actions as member_actions
from ronron.members.models import Member
from ronron.services.models import Roster, RosterSync, Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def lists1():
    return create_server(actor=None, name="lists1", roles=["lists"], memory_mb=16384, disk_gb=100)


def new_member(number: str, name: str) -> Member:
    return member_actions.create_member(
        actor=None, number=number, kind="association", name=name, joined_on=date(2020, 1, 1)
    )


@pytest.fixture
def velo(member):
    member_actions.add_contact(
        member, actor=None, name="Marie Dupont", email="marie@velo.org", roles="president"
    )
    member_actions.add_contact(member, actor=None, name="Tech", email="tech@velo.org", roles="tech")
    return member


@pytest.fixture
def jardin():
    jardin = new_member("A0303", "Jardins partagés")
    member_actions.add_contact(
        jardin, actor=None, name="Paul Martin", email="paul@jardin.org", roles="treasurer"
    )
    return jardin


def new_list(member, server, address: str, *, roster=None, **facts) -> Service:
    return Service.objects.create(
        member=member,
        kind="list",
        family="lists",
        managed=True,
        server=server,
        slug=address.split("@")[0],
        domain=address,
        roster=roster,
        spec={
            "subject": f"Subject of {address}",
            "type": "discussion_list",
            "owners": ["owner@example.org"],
        },
        observed={"facts": facts} if facts else {},
    )


def roster_form(**overrides: object) -> dict[str, object]:
    return {"name": "Bureaux", "source": "board", "member": "", "slug": "", **overrides}


def page(response) -> str:
    return response.content.decode()


# Creating, editing, deleting


def test_a_roster_from_the_member_file_shows_its_addresses(console, staff_user, velo, jardin):
    response = console.post(reverse("rosters:create"), roster_form(), follow=True)
    roster = Roster.objects.get()
    assert response.redirect_chain[-1][0] == reverse("rosters:detail", args=[roster.pk])
    assert (roster.slug, roster.source, roster.member) == ("bureaux", "board", None)
    text = page(response)
    assert "marie@velo.org" in text and "paul@jardin.org" in text
    assert "tech@velo.org" not in text  # not on a board
    entry = AuditEntry.objects.get(action="roster.created")
    assert entry.actor == staff_user and entry.object_id == str(roster.pk)

    listing = page(console.get(reverse("rosters:list")))
    assert "Bureaux" in listing and "Presidents, treasurers and secretaries" in listing


def test_codes_are_made_from_the_name_and_stay_unique(console, velo):
    console.post(reverse("rosters:create"), roster_form(name="Conseil d'Administration"))
    console.post(reverse("rosters:create"), roster_form(name="Conseil d’administration"))
    assert sorted(Roster.objects.values_list("slug", flat=True)) == [
        "conseil-d-administration",
        "conseil-d-administration-2",
    ]
    response = console.post(
        reverse("rosters:create"), roster_form(name="Autre", slug="conseil-d-administration")
    )
    assert response.status_code == 400
    assert "Another roster already uses the code conseil-d-administration." in page(response)
    response = console.post(reverse("rosters:create"), roster_form(name="Autre", slug="Pas Bon"))
    assert response.status_code == 400
    assert "lower-case letters, digits or hyphens" in page(response)
    assert Roster.objects.count() == 2


def test_a_roster_of_one_member_needs_the_member(console, velo, jardin):
    response = console.post(reverse("rosters:create"), roster_form(name="Vélo", source="member"))
    assert response.status_code == 400
    assert "Choose the member whose contacts make this roster." in page(response)
    response = console.post(reverse("rosters:create"), roster_form(name="Vélo", source="nope"))
    assert response.status_code == 400
    assert "Select a valid choice" in page(response)
    assert not Roster.objects.exists()

    response = console.post(
        reverse("rosters:create"),
        roster_form(name="Vélo", source="member", member=str(velo.pk)),
        follow=True,
    )
    text = page(response)
    assert "marie@velo.org" in text and "tech@velo.org" in text
    assert "paul@jardin.org" not in text
    assert Roster.objects.get().member == velo


def test_editing_a_roster_is_audited(console, velo, jardin):
    roster = Roster.objects.create(slug="bureaux", name="Bureaux", source="board")
    url = reverse("rosters:edit", args=[roster.pk])
    assert 'value="bureaux"' in page(console.get(url))
    response = console.post(
        url,
        roster_form(name="Techniciens", source="tech", slug="tech", member=str(velo.pk)),
        follow=True,
    )
    roster.refresh_from_db()
    # A member left selected with a source about everyone is dropped, not an error.
    assert (roster.name, roster.source, roster.slug, roster.member) == (
        "Techniciens",
        "tech",
        "tech",
        None,
    )
    text = page(response)
    assert "tech@velo.org" in text and "marie@velo.org" not in text
    entry = AuditEntry.objects.get(action="roster.updated")
    assert entry.before["source"] == "board" and entry.after["source"] == "tech"

    response = console.post(url, roster_form(name="", slug=""))
    assert response.status_code == 400
    assert "This field is required." in page(response)


def test_deleting_a_roster_asks_first(console, staff_user):
    roster = Roster.objects.create(slug="tous", name="Tous", source="members")
    url = reverse("rosters:delete", args=[roster.pk])
    confirm = page(console.get(url))
    assert "Delete the roster “Tous”?" in confirm and "Delete the roster" in confirm
    response = console.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("rosters:list")
    assert "The roster Tous is deleted." in page(response)
    assert not Roster.objects.exists()
    assert AuditEntry.objects.get(action="roster.deleted").actor == staff_user


def test_a_followed_roster_cannot_be_deleted(console, velo, lists1):
    roster = Roster.objects.create(slug="tous", name="Tous", source="members")
    new_list(velo, lists1, "adherents@listes.example.org", roster=roster)
    url = reverse("rosters:delete", args=[roster.pk])
    confirm = page(console.get(url))
    assert "cannot be deleted: 1 service follows it" in confirm
    assert "adherents@listes.example.org" in confirm
    response = console.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("rosters:detail", args=[roster.pk])
    assert "This roster cannot be deleted: 1 service follows it" in page(response)
    assert Roster.objects.filter(pk=roster.pk).exists()
    assert not AuditEntry.objects.filter(action="roster.deleted").exists()


def test_unknown_rosters_are_not_found(console):
    for name in ("detail", "edit", "delete", "upload"):
        assert console.get(reverse(f"rosters:{name}", args=[999])).status_code == 404


# Files of addresses


@pytest.fixture
def uploaded(console):
    console.post(reverse("rosters:create"), roster_form(name="Conseil", source="upload"))
    return Roster.objects.get(slug="conseil")


def send(console, roster, data: bytes, name: str = "adresses.csv"):
    return console.post(
        reverse("rosters:upload", args=[roster.pk]),
        {"file": SimpleUploadedFile(name, data, content_type="text/csv"), "text": ""},
        follow=True,
    )


def test_a_french_spreadsheet_file_with_a_bom_and_semicolons(console, uploaded, staff_user):
    data = (
        "\ufeffPrénom;Nom;Courriel\r\n"
        "Hélène;Durand;helene@example.org\r\n"
        "Bob;;BOB@Example.org\r\n"
        "\r\n"
        "Bob;Again;bob@example.org\r\n"
    ).encode()
    response = send(console, uploaded, data)
    assert response.redirect_chain[-1][0] == reverse("rosters:detail", args=[uploaded.pk])
    text = page(response)
    assert "2 addresses saved" in text
    assert "helene@example.org" in text and "Hélène Durand" in text
    uploaded.refresh_from_db()
    assert uploaded.uploaded == [
        {"email": "bob@example.org", "name": "Bob"},  # the first name given is kept
        {"email": "helene@example.org", "name": "Hélène Durand"},
    ]
    entry = AuditEntry.objects.get(action="roster.addresses_replaced")
    assert entry.actor == staff_user
    assert entry.after == {"uploaded": 2, "added": 2, "removed": 0}


def test_a_windows_file_without_header_and_pasted_addresses(console, uploaded):
    response = send(
        console, uploaded, "zoe@exemple.fr,Zoé Lefèvre\nanne@example.org\n".encode("cp1252")
    )
    assert "2 addresses saved" in page(response)
    uploaded.refresh_from_db()
    assert {"email": "zoe@exemple.fr", "name": "Zoé Lefèvre"} in uploaded.uploaded

    response = console.post(
        reverse("rosters:upload", args=[uploaded.pk]),
        {"text": "anne@example.org\ncarl@example.org, Carl\n"},
        follow=True,
    )
    assert "2 addresses saved" in page(response)
    uploaded.refresh_from_db()
    assert [row["email"] for row in uploaded.uploaded] == ["anne@example.org", "carl@example.org"]
    entry = AuditEntry.objects.filter(action="roster.addresses_replaced").latest("created_at")
    assert entry.after == {"uploaded": 2, "added": 1, "removed": 1}


def test_a_file_with_a_bad_line_saves_nothing(console, uploaded):
    send(console, uploaded, b"email;name\ngood@example.org;Good\n")
    data = (
        b"email;name\n"
        b"new@example.org;New\n"
        b"pas-une-adresse;Bad\n"
        b'other@example.org;"Two\nlines"\n'
        b";Nobody\n"
    )
    response = send(console, uploaded, data)
    assert response.status_code == 400
    text = page(response)
    assert "3 lines cannot be read, so nothing was saved" in text
    assert "Line 3: “pas-une-adresse” is not a valid e-mail address." in text
    assert "Line 4: a value holds a line break" in text
    assert "Line 6: there is no e-mail address." in text
    uploaded.refresh_from_db()
    assert uploaded.uploaded == [{"email": "good@example.org", "name": "Good"}]
    assert AuditEntry.objects.filter(action="roster.addresses_replaced").count() == 1


def test_only_the_first_twenty_bad_lines_are_listed(console, uploaded):
    data = "".join(f"bad{n}\n" for n in range(25)).encode()
    text = page(send(console, uploaded, data))
    assert "25 lines cannot be read" in text
    assert "Line 20:" in text and "Line 21:" not in text
    assert "…and 5 more lines." in text


def test_empty_and_wrong_files_are_refused(console, uploaded):
    assert "The file holds no address." in page(send(console, uploaded, b"email;name\n\n"))
    assert "spreadsheet file, not a CSV file" in page(
        send(console, uploaded, b"PK\x03\x04rest", "adresses.xlsx")
    )
    nothing = console.post(reverse("rosters:upload", args=[uploaded.pk]), {"text": ""})
    assert nothing.status_code == 400
    assert "Choose a file of addresses, or paste the addresses." in page(nothing)
    uploaded.refresh_from_db()
    assert uploaded.uploaded == []


def test_a_roster_of_the_member_file_takes_no_file(console, velo):
    roster = Roster.objects.create(slug="tous", name="Tous", source="members")
    response = send(console, roster, b"someone@example.org\n")
    assert response.redirect_chain[-1][0] == reverse("rosters:detail", args=[roster.pk])
    assert "not from a file" in page(response)
    roster.refresh_from_db()
    assert roster.uploaded == []


# What a roster holds now, and who follows it


def test_a_member_who_leaves_disappears_from_the_roster(console, velo, jardin, lists1):
    roster = Roster.objects.create(slug="tous", name="Tous", source="members")
    service = new_list(velo, lists1, "adherents@listes.example.org", roster=roster)
    RosterSync.objects.create(
        service=service,
        roster=roster,
        outcome=RosterSync.Outcome.OK,
        finished_at=timezone.now(),
        addresses=3,
        message="3 members, 1 added",
    )
    url = reverse("rosters:detail", args=[roster.pk])
    text = page(console.get(url))
    assert "paul@jardin.org" in text and "3 addresses." in text
    assert "adherents@listes.example.org" in text and "3 members, 1 added" in text
    assert "Done" in text

    member_actions.record_departure(jardin, actor=None, on=date.today())
    text = page(console.get(url))
    assert "paul@jardin.org" not in text and "2 addresses." in text

    found = page(console.get(url, {"q": "TECH@"}))
    assert "tech@velo.org" in found and "marie@velo.org" not in found
    assert "1 address found out of 2." in found

    listing = page(console.get(reverse("rosters:list")))
    assert '<td data-label="Addresses" class="num">2</td>' in listing
    assert '<td data-label="Services following it" class="num">1</td>' in listing


def test_addresses_are_shown_a_page_at_a_time(console, uploaded):
    send(console, uploaded, "".join(f"p{n:03}@example.org\n" for n in range(150)).encode())
    url = reverse("rosters:detail", args=[uploaded.pk])
    first = page(console.get(url))
    assert "p000@example.org" in first and "p120@example.org" not in first
    second = page(console.get(url, {"page": 2}))
    assert "p120@example.org" in second and "p000@example.org" not in second


# The lists page


@pytest.fixture
def lists(velo, jardin, lists1):
    tous = Roster.objects.create(slug="tous", name="Tous", source="members")
    adherents = new_list(velo, lists1, "adherents@listes.example.org", roster=tous, subscribers=42)
    bureau = new_list(velo, lists1, "bureau@listes.example.org")
    potager = new_list(jardin, lists1, "potager@listes.jardin.org", subscribers=0)
    RosterSync.objects.create(
        service=adherents,
        roster=tous,
        outcome=RosterSync.Outcome.FAILED,
        finished_at=timezone.now(),
        message="Sympa did not answer",
    )
    return adherents, bureau, potager


def test_lists_are_grouped_by_domain(console, lists):
    text = page(console.get(reverse("lists:index")))
    assert "3 lists." in text
    # Domains in order, each list under its own.
    example_at, jardin_at = text.index("<h2"), text.rindex("<h2")
    assert text[example_at:].startswith('<h2 id="domain-1">listes.example.org</h2>')
    assert text[jardin_at:].startswith('<h2 id="domain-2">listes.jardin.org</h2>')
    assert example_at < text.index("adherents@listes.example.org") < jardin_at
    assert example_at < text.index("bureau@listes.example.org") < jardin_at
    assert jardin_at < text.index("potager@listes.jardin.org")
    assert "Subject of adherents@listes.example.org" in text
    assert ">42</td>" in text and ">0</td>" in text and ">—</td>" in text  # bureau: unknown
    assert "Failed" in text and reverse("rosters:detail", args=[lists[0].roster_id]) in text


def test_lists_filter_by_domain_and_member(console, lists, velo, jardin):
    by_domain = page(console.get(reverse("lists:index"), {"domain": "listes.example.org"}))
    assert "2 lists found out of 3." in by_domain
    assert "potager@" not in by_domain and "bureau@listes.example.org" in by_domain

    by_member = page(console.get(reverse("lists:index"), {"member": jardin.pk}))
    assert "Mailing lists of A0303 Jardins partagés" in by_member
    assert "potager@listes.jardin.org" in by_member and "adherents@" not in by_member

    nobody = new_member("A0404", "Sans liste")
    none_found = page(console.get(reverse("lists:index"), {"member": nobody.pk}))
    assert "No list matches these filters." in none_found

    for bad in ({"member": "abc"}, {"member": "99999"}, {"domain": "nope.org"}):
        response = console.get(reverse("lists:index"), bad)
        assert response.status_code == 200
        assert "Select a valid choice" in page(response) and "adherents@" not in page(response)


def test_the_member_page_links_to_its_lists(console, lists, velo):
    text = page(console.get(reverse("members:detail", args=[velo.pk])))
    assert f"{reverse('lists:index')}?member={velo.pk}" in text
    nobody = new_member("A0404", "Sans liste")
    text = page(console.get(reverse("members:detail", args=[nobody.pk])))
    assert f"{reverse('lists:index')}?member=" not in text


# Following a roster from the service page


def test_a_list_follows_a_roster_from_its_page(console, staff_user, velo, lists1):
    roster = Roster.objects.create(slug="tous", name="Tous", source="members")
    service = new_list(velo, lists1, "adherents@listes.example.org")
    detail = reverse("services:detail", args=[service.pk])
    text = page(console.get(detail))
    assert "It follows no roster" in text and reverse("rosters:follow", args=[service.pk]) in text

    response = console.post(
        reverse("rosters:follow", args=[service.pk]), {"roster": roster.pk}, follow=True
    )
    assert response.redirect_chain[-1][0] == detail
    assert "this service will follow the roster Tous from the next apply" in page(response)
    service.refresh_from_db()
    assert service.roster == roster
    entry = AuditEntry.objects.get(action="service.roster_changed")
    assert (entry.actor, entry.before, entry.after) == (
        staff_user,
        {"roster": None},
        {"roster": roster.pk},
    )
    assert entry.member_id == velo.pk and entry.object_id == str(service.pk)
    assert "Tous" in page(console.get(reverse("lists:index")))

    response = console.post(reverse("rosters:follow", args=[service.pk]), {"roster": ""})
    service.refresh_from_db()
    assert service.roster is None
    entry = AuditEntry.objects.filter(action="service.roster_changed").latest("id")
    assert (entry.before, entry.after) == ({"roster": roster.pk}, {"roster": None})


def test_following_is_refused_clearly(console, velo, lists1, web1):
    service = new_list(velo, lists1, "adherents@listes.example.org")
    response = console.post(
        reverse("rosters:follow", args=[service.pk]), {"roster": "999"}, follow=True
    )
    assert "Select a valid choice" in page(response)
    site = Service.objects.create(
        member=velo, kind="static", family="web", managed=True, server=web1, slug="velo",
        domain="velo.example.org",
    )  # fmt: skip
    roster = Roster.objects.create(slug="tous", name="Tous", source="members")
    assert "It follows no roster" not in page(
        console.get(reverse("services:detail", args=[site.pk]))
    )
    response = console.post(
        reverse("rosters:follow", args=[site.pk]), {"roster": roster.pk}, follow=True
    )
    assert "Only a mailing list or a cloud work group can follow a roster." in page(response)
    assert console.post(reverse("rosters:follow", args=[999]), {"roster": ""}).status_code == 404
    assert console.get(reverse("rosters:follow", args=[service.pk])).status_code == 405
    assert not AuditEntry.objects.filter(action="service.roster_changed").exists()


def test_the_service_page_shows_the_last_ten_syncs(console, velo, lists1):
    roster = Roster.objects.create(slug="tous", name="Tous", source="members")
    service = new_list(velo, lists1, "adherents@listes.example.org", roster=roster)
    start = timezone.now() - timedelta(hours=1)
    for n in range(12):
        sync = RosterSync.objects.create(
            service=service,
            roster=roster,
            outcome=RosterSync.Outcome.FAILED if n == 11 else RosterSync.Outcome.OK,
            finished_at=start,
            message=f"sync number {n:02}",
        )
        RosterSync.objects.filter(pk=sync.pk).update(started_at=start + timedelta(minutes=n))
    text = page(console.get(reverse("services:detail", args=[service.pk])))
    assert "Its members are the addresses of the roster" in text
    assert "sync number 11" in text and "sync number 02" in text
    assert "sync number 01" not in text
    assert 'class="status status--failed"' in text


# Who may see these pages


def test_only_staff_see_rosters_and_lists(client, django_user_model, velo, lists1):
    roster = Roster.objects.create(slug="tous", name="Tous", source="members")
    service = new_list(velo, lists1, "adherents@listes.example.org")
    urls = [
        reverse("rosters:list"),
        reverse("rosters:create"),
        reverse("rosters:detail", args=[roster.pk]),
        reverse("rosters:edit", args=[roster.pk]),
        reverse("rosters:delete", args=[roster.pk]),
        reverse("rosters:upload", args=[roster.pk]),
        reverse("lists:index"),
    ]
    follow = reverse("rosters:follow", args=[service.pk])
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("core:login"))
    assert client.post(follow, {"roster": roster.pk}).status_code == 302
    assert client.post(reverse("rosters:delete", args=[roster.pk])).status_code == 302

    visitor = django_user_model.objects.create_user(username="visiteur", password="x" * 20)
    client.force_login(visitor)
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(follow, {"roster": roster.pk}).status_code == 403
    assert client.post(reverse("rosters:delete", args=[roster.pk])).status_code == 403
    service.refresh_from_db()
    assert service.roster is None and Roster.objects.filter(pk=roster.pk).exists()


def test_the_console_menu_links_to_lists_and_rosters(console):
    text = page(console.get(reverse("rosters:list")))
    assert f'href="{reverse("lists:index")}"' in text
    assert f'href="{reverse("rosters:list")}" aria-current="page"' in text
