"""A departure from start to end, every message received by a real SMTP server on loopback and
the member's site a real one on nginx: the notice from the portal → the notice mail → the
export job → the export mail with its link → the download, the member's own zip → the leaving
day suspends the site → the retention refuses without a verified export, then removes after
one → the erasure anonymises, and the general-assembly report counts the same."""

from __future__ import annotations

import dataclasses
import io
import re
import tarfile
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from ronron.core.models import AuditEntry
from ronron.members.models import Member
from ronron.members.models_lifecycle import DepartureExport
from ronron.portal import actions as portal_actions
from ronron.reports.figures import build_report
from ronron.services.actions import request_service
from ronron.services.models import Service
from tests.lifecycle.conftest import IMMEDIATE, contact, new_member, run_chore
from tests.monitoring.test_alerts import Mailbox, free_port
from tests.stack.nginx import fetch_until

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

PRESIDENT = "presidente@t-velo.example.org"
TECH = "tech@t-velo.example.org"
MANAGER = "marie@t-velo.example.org"
DOMAIN = "t-depart.example.org"
LINK = re.compile(r"https://ronron\.example\.org(/portal/A0202/departure/export/[A-Za-z0-9_-]+/)")
INVITATION = re.compile(r"https://ronron\.example\.org(/portal/invitation/[A-Za-z0-9_-]+/)")


@pytest.fixture
def mailbox(settings):
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield box
    controller.stop()


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def subjects(box: Mailbox, address: str) -> list[str]:
    return [" ".join(str(message["Subject"]).split()) for message in box.to(address)]


def test_a_departure_from_the_notice_to_the_erasure(
    settings, mailbox, web_server, nginx_stack, staff_user, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    settings.RONRON = dataclasses.replace(settings.RONRON, language="en")
    velo = new_member("A0202", "Les Amis du Vélo", address="12 rue des Cyclistes")
    contact(velo, "Presidente", "president", email=PRESIDENT)
    contact(velo, "Tech", "tech", email=TECH)

    # The member's site, made real on nginx, with something the member put there.
    site = request_service(velo, actor=None, kind="static", domain=DOMAIN, server=web_server)
    call_command("apply", "--member", "A0202", "--yes", stdout=io.StringIO())
    htdocs = Path(nginx_stack.layout["sites_root"]) / site.slug / "htdocs"
    (htdocs / "souvenirs.txt").write_text("vingt ans de balades")
    assert fetch_until(nginx_stack.port, DOMAIN, "/souvenirs.txt", status=200).status == 200

    # A manager, invited by an admin, makes an account from the invitation mail.
    portal_actions.invite(velo, MANAGER, actor=staff_user)
    [invitation] = mailbox.to(MANAGER)
    manager = Client()
    path = INVITATION.search(text_of(invitation)).group(1)  # type: ignore[union-attr]
    welcome = manager.post(
        path,
        {
            "action": "create",
            "new-password1": "Un vélo, deux roues!",
            "new-password2": "Un vélo, deux roues!",
        },
    )
    assert welcome.status_code == 302

    # The notice, from the portal: the rule first, then the confirmation.
    page = manager.get("/portal/A0202/departure/")
    assert "Membership runs by calendar year." in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert manager.post("/portal/A0202/departure/", {"confirm": "on"}).status_code == 302
    velo.refresh_from_db()
    today = timezone.localdate()
    last_day = today if today <= date(today.year, 1, 20) else date(today.year, 12, 31)
    leave_on = last_day + timedelta(days=1)
    assert (velo.status, velo.left_on) == (Member.Status.LEAVING, leave_on)

    # Two messages to each of the president, the technical contact and the manager.
    for address in (PRESIDENT, TECH, MANAGER):
        assert subjects(mailbox, address)[-2:] == [
            "[Le Chaton Libre] Departure of Les Amis du Vélo: we received your notice",
            "[Le Chaton Libre] All the data of Les Amis du Vélo is ready",
        ]
    notice, ready = mailbox.to(PRESIDENT)
    assert f"{last_day:%B} {last_day.day}, {last_day.year}" in text_of(notice)
    link = LINK.search(text_of(ready)).group(1)  # type: ignore[union-attr]

    # The link downloads the member's own data, its site's files included.
    download = Client().get(link)
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as archive:
        assert archive.testzip() is None
        assert '"number": "A0202"' in archive.read("member.json").decode()
        [inner] = [n for n in archive.namelist() if n.startswith(f"services/{site.pk}-")
                   and n.endswith(".tar.gz")]  # fmt: skip
        with tarfile.open(fileobj=io.BytesIO(archive.read(inner))) as tar:
            names = tar.getnames()
            souvenirs = next(n for n in names if n.endswith("htdocs/souvenirs.txt"))
            assert tar.extractfile(souvenirs).read() == b"vingt ans de balades"  # type: ignore[union-attr]

    # The leaving day: not before, the site suspended (data kept) once the apply ran.
    run_chore("offboarding.leave", f"{last_day}T12:00")
    velo.refresh_from_db()
    assert velo.status == Member.Status.LEAVING
    with django_capture_on_commit_callbacks(execute=True):
        run_chore("offboarding.leave", f"{leave_on}T08:00")
    velo.refresh_from_db()
    site.refresh_from_db()
    assert velo.status == Member.Status.LEFT
    assert site.wanted_state == Service.Wanted.SUSPENDED
    suspended = fetch_until(nginx_stack.port, DOMAIN, "/souvenirs.txt", status=503)
    assert "Service suspendu" in suspended.text
    assert (htdocs / "souvenirs.txt").read_text() == "vingt ans de balades"
    if last_day > today:
        # Notice given months before: the member gets its data as it is on leaving, too.
        assert subjects(mailbox, PRESIDENT)[-1].endswith("is ready")

    # The retention: an export that does not read back holds everything…
    export = DepartureExport.objects.filter(member=velo).order_by("-pk").first()
    assert export is not None
    kept = Path(export.file)
    moved = kept.with_name("elsewhere.zip")
    kept.rename(moved)
    removal_day = leave_on + timedelta(days=90)
    with django_capture_on_commit_callbacks(execute=True):
        run_chore("offboarding.remove_services", f"{removal_day}T08:00")
    site.refresh_from_db()
    assert site.wanted_state == Service.Wanted.SUSPENDED and site.removed_at is None
    held = AuditEntry.objects.get(action="offboarding.removal_held", member_id=velo.pk)
    assert held.after["reason"].startswith("the export does not read back")
    assert htdocs.exists()

    # …a verified one lets the site go: the apply exports it again, verifies, then removes.
    moved.rename(kept)
    with django_capture_on_commit_callbacks(execute=True):
        run_chore("offboarding.remove_services", f"{removal_day + timedelta(days=1)}T08:00")
    site.refresh_from_db()
    assert site.wanted_state == Service.Wanted.ABSENT
    assert site.removed_at is not None and Path(site.archive_path).is_file()
    assert not htdocs.exists()

    # The erasure: nobody named any more, the same figures in the report.
    before = build_report(leave_on.year).history
    erase_day = leave_on + timedelta(days=365)
    run_chore("offboarding.erase_personal_data", f"{erase_day}T08:00")
    velo.refresh_from_db()
    assert velo.anonymised_at is not None and velo.name == "Former member A0202"
    assert not velo.contacts.exists() and velo.address == ""
    assert not kept.exists()
    assert Client().get(link).status_code == 404
    after = build_report(leave_on.year)
    assert after.history == before
    # Counted among the members of the years it was one, and as a departure when it left.
    year_before = next(y for y in after.history if y.year == last_day.year - 1)
    assert year_before.members.associations == 1
    assert year_before.regions == {"Occitanie": 1}
    assert after.current.departures.associations == 1
