"""What admins change in monitoring, through the console's forms: manual checks, maintenances,
incidents and members' status pages. Each change writes its audit row; a refused form says what
is wrong next to the field and writes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from ronron.core.models import AuditEntry
from ronron.monitoring import actions
from ronron.monitoring.models import Check, Incident, IncidentUpdate, Maintenance, StatusPage
from ronron.services.models import Service
from tests.core.helpers import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_pages():
    # Status pages are cached for a few seconds; each test starts with none.
    cache.clear()


@pytest.fixture
def console(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def velo():
    return make_member(number="A0202", name="Les Amis du Vélo")


def field_error(html: str, name: str) -> str:
    """The error shown next to the field ``name`` ("" when there is none)."""
    match = re.search(
        rf'<label for="id_{name}">.*?</label>\s*<div class="field__error" id="id_{name}_error">'
        r"(.*?)</div>",
        html,
        re.S,
    )
    return re.sub(r"<[^>]+>", " ", match.group(1)).strip() if match else ""


def audit(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


def check_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Forum du vélo",
        "kind": "http",
        "target": "https://forum.velo.org/",
        "member": "",
        "public": "on",
        "enabled": "on",
        "interval_s": "60",
        "timeout_s": "10",
        "expected_status": "",
        "keyword": "",
        "method": "GET",
        "verify_tls": "on",
        "record_type": "A",
        "expected_values": "",
        "nameserver": "",
        "min_days": "",
        "latency_warn_ms": "",
        "latency_max_ms": "",
    }
    data.update(overrides)
    return data


def test_create_a_manual_check(console, velo, staff_user):
    response = console.post(
        "/monitoring/checks/new/",
        check_form(
            member=velo.pk,
            expected_status="200, 301-308",
            keyword="Bienvenue",
            latency_warn_ms="800",
            notify_member="on",
        ),
    )

    check = Check.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/monitoring/checks/{check.pk}/"
    assert check.member == velo and check.notify_member and check.service is None
    assert check.settings == {
        "expected_status": [200, "301-308"],
        "keyword": "Bienvenue",
        "latency_warn_ms": 800,
        "method": "GET",
    }
    [entry] = audit("check.created")
    assert entry.actor == staff_user and entry.member_id == velo.pk
    assert entry.after["target"] == "https://forum.velo.org/"
    html = console.get(f"/monitoring/checks/{check.pk}/").content.decode()
    assert "<strong>Check created</strong>" in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"target": "ftp://forum.velo.org/"}, "target", "http:// or https://"),
        ({"target": "pas une adresse"}, "target", "spaces"),
        ({"name": "Forum\r\nBcc: x@example.org"}, "name", "Line breaks"),
        ({"interval_s": "5"}, "interval_s", "between 20 seconds"),
        ({"kind": "tcp", "target": "mail.velo.org"}, "target", "host:port"),
    ],
)
def test_a_wrong_check_is_refused_next_to_its_field(console, overrides, field, message):
    response = console.post("/monitoring/checks/new/", check_form(**overrides))

    assert response.status_code == 400
    assert message in field_error(response.content.decode(), field)
    assert not Check.objects.exists()
    assert not AuditEntry.objects.exists()


def test_every_problem_of_a_check_shows_at_once(console):
    response = console.post(
        "/monitoring/checks/new/", check_form(name="A\nB", target="ftp://x", timeout_s="60")
    )

    html = response.content.decode()
    assert "Line breaks" in field_error(html, "name")
    assert "http://" in field_error(html, "target")
    assert "shorter than the interval" in field_error(html, "timeout_s")
    assert not Check.objects.exists()


def test_change_and_delete_a_manual_check(console, velo):
    check = actions.create_check(
        actor=None, name="Forum", kind="http", target="https://forum.velo.org/", member=velo
    )

    response = console.post(
        f"/monitoring/checks/{check.pk}/edit/",
        check_form(name="Forum du vélo", kind="dns", target="velo.org", record_type="MX"),
    )

    assert response.status_code == 302
    check.refresh_from_db()
    assert (check.kind, check.target, check.settings) == ("dns", "velo.org", {"record_type": "MX"})
    [entry] = audit("check.updated")
    assert entry.before["name"] == "Forum" and entry.after["name"] == "Forum du vélo"

    refused = console.post(f"/monitoring/checks/{check.pk}/edit/", check_form(name="X\rY"))
    assert refused.status_code == 400
    check.refresh_from_db()
    assert check.name == "Forum du vélo" and len(audit("check.updated")) == 1

    assert console.post(f"/monitoring/checks/{check.pk}/delete/").status_code == 302
    assert not Check.objects.exists()
    [deleted] = audit("check.deleted")
    assert deleted.before["name"] == "Forum du vélo"


def test_a_derived_check_only_changes_its_visibility(console, velo):
    service = Service.objects.create(member=velo, kind="static", family="web", domain="velo.org")
    check = Check.objects.create(
        name="velo.org — site web",
        kind="http",
        target="https://velo.org/",
        member=velo,
        service=service,
        purpose="https",
    )

    form = console.get(f"/monitoring/checks/{check.pk}/edit/").content.decode()
    assert 'name="target"' not in form and 'name="public"' in form
    response = console.post(f"/monitoring/checks/{check.pk}/edit/", {"notify_member": "on"})

    assert response.status_code == 302
    check.refresh_from_db()
    assert not check.public and check.notify_member and check.target == "https://velo.org/"
    assert len(audit("check.updated")) == 1
    console.post(f"/monitoring/checks/{check.pk}/delete/")
    assert Check.objects.filter(pk=check.pk).exists()
    assert not audit("check.deleted")


def test_a_derived_web_check_can_expect_the_sites_content(console, velo):
    """A site answering "200" with an error page is down when its own text is missing; the
    expected text stays when the service's checks are brought in step again."""
    from ronron.monitoring.derived import sync_derived_checks

    service = Service.objects.create(
        member=velo, kind="static", family="web", managed=True, domain="velo.org"
    )
    sync_derived_checks()
    check = Check.objects.get(service=service, purpose="https")
    assert 'name="keyword"' in console.get(f"/monitoring/checks/{check.pk}/edit/").content.decode()

    refused = console.post(
        f"/monitoring/checks/{check.pk}/edit/", {"public": "on", "keyword": "Vélo\r\nX"}
    )
    assert refused.status_code == 400
    check.refresh_from_db()
    assert "keyword" not in check.settings

    response = console.post(
        f"/monitoring/checks/{check.pk}/edit/", {"public": "on", "keyword": "Les Amis du Vélo"}
    )
    assert response.status_code == 302
    check.refresh_from_db()
    assert check.settings["keyword"] == "Les Amis du Vélo"
    assert check.target == "https://velo.org/"
    sync_derived_checks()
    check.refresh_from_db()
    assert check.settings["keyword"] == "Les Amis du Vélo"


def maintenance_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "Mises à jour Debian",
        "starts_at": "2025-06-01T03:00",
        "ends_at": "",
        "recurrence": "",
        "duration_minutes": "",
        "member": "",
    }
    data.update(overrides)
    return data


def test_plan_change_and_delete_maintenances(console, velo, staff_user):
    check = actions.create_check(
        actor=None, name="Forum", kind="http", target="https://forum.velo.org/"
    )
    response = console.post(
        "/monitoring/maintenances/new/",
        maintenance_form(
            recurrence="freq=weekly;byday=su;byhour=3",
            duration_minutes="30",
            member=velo.pk,
            checks=[check.pk],
        ),
    )

    assert response.status_code == 302
    maintenance = Maintenance.objects.get()
    assert maintenance.recurrence == "FREQ=WEEKLY;BYDAY=SU;BYHOUR=3"
    assert maintenance.member == velo and list(maintenance.checks.all()) == [check]
    [created] = audit("maintenance.created")
    assert created.actor == staff_user and created.after["checks"] == [check.pk]

    one_off = console.post(
        "/monitoring/maintenances/new/",
        maintenance_form(title="Déménagement", duration_minutes="90"),
    )
    assert one_off.status_code == 302
    moved = Maintenance.objects.get(title="Déménagement")
    assert moved.ends_at - moved.starts_at == timedelta(minutes=90)

    edited = console.post(
        f"/monitoring/maintenances/{maintenance.pk}/",
        maintenance_form(recurrence="FREQ=DAILY;BYHOUR=2", duration_minutes="15"),
    )
    assert edited.status_code == 302
    maintenance.refresh_from_db()
    assert maintenance.recurrence == "FREQ=DAILY;BYHOUR=2" and maintenance.member is None
    assert not maintenance.checks.exists()
    [updated] = audit("maintenance.updated")
    assert updated.before["recurrence"] == "FREQ=WEEKLY;BYDAY=SU;BYHOUR=3"

    assert console.post(f"/monitoring/maintenances/{maintenance.pk}/delete/").status_code == 302
    assert not Maintenance.objects.filter(pk=maintenance.pk).exists()
    assert len(audit("maintenance.deleted")) == 1
    assert "Déménagement" in console.get("/monitoring/maintenances/").content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"recurrence": "FREQ=SOMETIMES", "duration_minutes": "30"}, "recurrence", "FREQ="),
        ({"recurrence": "pas une règle", "duration_minutes": "30"}, "recurrence", "FREQ="),
        ({"recurrence": "FREQ=DAILY\r\nX", "duration_minutes": "30"}, "recurrence", ""),
        ({"recurrence": "FREQ=DAILY"}, "duration_minutes", "1 minute"),
        ({}, "ends_at", "ends"),
        ({"ends_at": "2025-06-01T02:00"}, "ends_at", "after the start"),
        ({"title": "Mise\nà jour", "ends_at": "2025-06-01T04:00"}, "title", "Line breaks"),
    ],
)
def test_a_wrong_maintenance_is_refused_next_to_its_field(console, overrides, field, message):
    response = console.post("/monitoring/maintenances/new/", maintenance_form(**overrides))

    assert response.status_code == 400
    error = field_error(response.content.decode(), field)
    assert error and message in error
    assert not Maintenance.objects.exists()
    assert not AuditEntry.objects.exists()


def test_open_update_and_resolve_an_incident(console, velo, staff_user):
    check = actions.create_check(
        actor=None, name="Forum", kind="http", target="https://forum.velo.org/", member=velo
    )
    response = console.post(
        "/monitoring/incidents/new/",
        {
            "title": "Forum inaccessible",
            "status": "investigating",
            "message": "Le forum ne répond plus.",
            "member": velo.pk,
            "checks": [check.pk],
            "public": "on",
        },
    )

    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/monitoring/incidents/{incident.pk}/"
    assert incident.member == velo and list(incident.checks.all()) == [check]
    [opened] = audit("incident.opened")
    assert opened.actor == staff_user and opened.after["message"] == "Le forum ne répond plus."

    console.post(
        f"/monitoring/incidents/{incident.pk}/update/",
        {"status": "identified", "message": "Base de données pleine."},
    )
    incident.refresh_from_db()
    assert incident.status == "identified" and incident.resolved_at is None
    assert len(audit("incident.updated")) == 1

    console.post(f"/monitoring/incidents/{incident.pk}/resolve/")
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_at is not None
    [resolved] = audit("incident.resolved")
    assert resolved.before["status"] == "identified"
    assert incident.updates.count() == 3
    html = console.get(f"/monitoring/incidents/{incident.pk}/").content.decode()
    assert "Base de données pleine." in html
    for label in ("Incident opened", "Incident update published", "Incident resolved"):
        assert f"<strong>{label}</strong>" in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"title": "Panne\r\nBcc: x@example.org", "message": "Coupure."}, "title", "Line breaks"),
        ({"title": "Panne", "message": "   "}, "message", "required"),
    ],
)
def test_a_wrong_incident_is_refused_next_to_its_field(console, data, field, message):
    response = console.post(
        "/monitoring/incidents/new/", {"status": "investigating", "public": "on", **data}
    )

    assert response.status_code == 400
    assert message in field_error(response.content.decode(), field)
    assert not Incident.objects.exists() and not IncidentUpdate.objects.exists()
    assert not AuditEntry.objects.exists()


def test_an_empty_incident_update_is_refused(console):
    incident = actions.open_incident(actor=None, title="Panne", message="Coupure.")
    before = AuditEntry.objects.count()

    response = console.post(
        f"/monitoring/incidents/{incident.pk}/update/", {"status": "monitoring", "message": ""}
    )

    assert response.status_code == 400
    assert field_error(response.content.decode(), "message")
    assert incident.updates.count() == 1 and AuditEntry.objects.count() == before


def test_a_members_status_page_made_public_then_private_with_a_new_link(client, console, velo):
    page_url = f"/monitoring/members/{velo.pk}/status-page/"
    assert "has no status page yet" in console.get(page_url).content.decode()

    console.post(page_url + "link/")
    first = StatusPage.objects.get(member=velo)
    assert not first.public
    assert first.token in console.get(page_url).content.decode()
    assert client.get(f"/status/m/{first.token}/").status_code == 200
    assert client.get("/status/A0202/").status_code == 404

    console.post(page_url + "visibility/", {"public": "on"})
    assert client.get("/status/A0202/").status_code == 200

    console.post(page_url + "link/")
    second = StatusPage.objects.get(member=velo)
    assert second.token != first.token and second.public
    assert client.get(f"/status/m/{first.token}/").status_code == 404
    assert client.get(f"/status/m/{second.token}/").status_code == 200

    console.post(page_url + "visibility/", {})
    assert client.get("/status/A0202/").status_code == 404

    actions_seen = list(
        AuditEntry.objects.filter(object_type="monitoring.statuspage")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions_seen == [
        "status_page.link_created",
        "status_page.published",
        "status_page.link_replaced",
        "status_page.made_private",
    ]
    # The token is as good as a password: it never reaches the audit log.
    for entry in AuditEntry.objects.all():
        assert first.token not in str(entry.before) + str(entry.after)
        assert second.token not in str(entry.before) + str(entry.after)
    history = console.get(page_url).content.decode()
    for label in ("Status page made public", "Private link of the status page replaced"):
        assert f"<strong>{label}</strong>" in history


def test_a_past_start_for_an_incident_is_kept_a_future_one_refused():
    earlier = timezone.now() - timedelta(hours=2)
    incident = actions.open_incident(
        actor=None, title="Panne", message="Depuis ce matin.", started_at=earlier
    )
    assert incident.started_at == earlier
    with pytest.raises(ValidationError, match="future"):
        actions.open_incident(
            actor=None,
            title="Panne",
            message="Demain.",
            started_at=timezone.now() + timedelta(hours=1),
        )
