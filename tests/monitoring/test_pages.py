"""The status pages, badge and feeds people and other sites read, and the monitoring console,
through HTTP. Check states come from the prober's own store (``store.record``); the availability
figures are written as ``availability.refresh_all`` leaves them."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from ronron.fleet.actions import create_server
from ronron.monitoring import actions, alerts, store
from ronron.monitoring.models import Bucket, Check
from ronron.monitoring.probes import Outcome
from ronron.services.models import Service
from tests.core.helpers import foreign_urls, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_pages():
    # Status pages are cached for a few seconds; each test starts with none.
    cache.clear()


ATOM = "{http://www.w3.org/2005/Atom}"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def console(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def velo():
    return make_member(number="A0202", name="Les Amis du Vélo")


@pytest.fixture
def jardin():
    return make_member(number="A0303", name="Jardins partagés")


def new_check(name: str, *, member=None, public: bool = True, **extra) -> Check:
    data = {"kind": "http", "target": "https://example.org/", "interval_s": 60, "timeout_s": 10}
    data.update(extra)
    return actions.create_check(actor=None, name=name, member=member, public=public, **data)


def observe(check: Check, status: str, *, at: datetime | None = None, latency: int = 40) -> None:
    """What the prober writes after a probe of ``check``."""
    moment = at or timezone.now()
    store.record(
        [Outcome(pk=check.pk, at=moment, status=status, latency_ms=latency, message="probe")],
        in_maintenance=set(),
    )


def figures(check: Check, **values: float | None) -> None:
    Check.objects.filter(pk=check.pk).update(availability=values, availability_at=timezone.now())


def row_of(html: str, check: Check) -> str:
    match = re.search(rf'<tr id="check-{check.pk}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {check.name}"
    return match.group(1)


def main_part(html: str) -> str:
    return html.split('<main id="main"')[1].split("</main>")[0]


def test_hoster_page_shows_every_members_public_checks(client, velo, jardin):
    site = new_check("velo.org — site web", member=velo)
    cloud = new_check("Nuage du jardin", member=jardin)
    hidden = new_check("Intranet du vélo", member=velo, public=False)
    paused = new_check("Ancien forum", member=jardin, enabled=False)
    mail = new_check("Relais de courrier", kind="tcp", target="mail.example.org:25")
    observe(site, "up")
    observe(cloud, "down")
    observe(hidden, "down")
    observe(mail, "degraded")
    figures(site, **{"24h": 100.0, "7d": 99.987, "30d": 99.5, "365d": None})

    response = client.get("/status/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Les Amis du Vélo" in html and "Jardins partagés" in html
    site_row = row_of(html, site)
    assert "velo.org — site web" in site_row
    assert 'status--ok">Up<' in site_row
    # Availability is rounded down, never up, and "—" when nothing is known.
    assert "100\u00a0%" in site_row and "99.98\u00a0%" in site_row and "99.50\u00a0%" in site_row
    assert "no figure yet" in site_row
    assert 'status--failed">Down<' in row_of(html, cloud)
    assert 'status--overdue">Slow<' in row_of(html, mail)
    assert "Intranet du vélo" not in html
    assert "Ancien forum" not in html and paused.name not in html
    assert "Some services are down." in html


def test_public_pages_keep_to_the_console_rules(client, velo):
    """No inline script or style (the CSP refuses them), nothing from another host, and every
    page works without JavaScript."""
    check = new_check("velo.org — site web", member=velo)
    observe(check, "up")
    page = actions.set_status_page_public(velo, public=True, actor=None)
    incident = actions.open_incident(actor=None, title="Lenteurs", message="On regarde.")
    for url in (
        "/status/",
        "/status/A0202/",
        f"/status/m/{page.token}/",
        f"/status/incidents/{incident.pk}/",
    ):
        html = client.get(url).content.decode()
        assert "<script" not in html and "style=" not in html and "<style" not in html, url
        assert foreign_urls(html) == [], url


def test_a_private_member_page_needs_its_link(client, velo):
    shown = new_check("velo.org — site web", member=velo)
    new_check("Intranet du vélo", member=velo, public=False)
    observe(shown, "up")
    page = actions.regenerate_status_page_token(velo, actor=None)
    assert not page.public

    assert client.get("/status/A0202/").status_code == 404
    assert client.get("/status/m/" + "x" * 43 + "/").status_code == 404
    almost = page.token[:-1] + ("A" if page.token[-1] != "A" else "B")
    assert client.get(f"/status/m/{almost}/").status_code == 404

    response = client.get(f"/status/m/{page.token}/")
    assert response.status_code == 200
    html = response.content.decode()
    # The private link is the member's own view: every check, public or not.
    assert "velo.org — site web" in html and "Intranet du vélo" in html
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "same-origin"


def test_a_public_member_page_is_at_its_number(client, velo, jardin):
    new_check("velo.org — site web", member=velo)
    new_check("Intranet du vélo", member=velo, public=False)
    new_check("Nuage du jardin", member=jardin)
    actions.set_status_page_public(velo, public=True, actor=None)

    response = client.get("/status/A0202/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "velo.org — site web" in html
    assert "Intranet du vélo" not in html
    assert "Nuage du jardin" not in html
    # The hoster's page links to it; not to the private one.
    hoster = client.get("/status/").content.decode()
    assert 'href="/status/A0202/"' in hoster
    assert "/status/A0303/" not in hoster


def test_a_member_page_with_20_checks_takes_few_queries(
    client, velo, django_assert_max_num_queries
):
    checks = [new_check(f"Site {n:02d}", member=velo) for n in range(20)]
    for check in checks:
        observe(check, "up")
        figures(check, **{"24h": 100.0, "7d": 99.9, "30d": 99.9, "365d": 99.0})
    page = actions.set_status_page_public(velo, public=True, actor=None)
    actions.open_incident(actor=None, title="Panne", message="Coupure.", member=velo)

    # The member and its page, its checks, its incidents and their updates.
    with django_assert_max_num_queries(4):
        response = client.get("/status/A0202/")
    assert response.status_code == 200
    html = response.content.decode()
    assert all('status--ok">Up<' in row_of(html, check) for check in checks)
    with django_assert_max_num_queries(4):
        assert client.get(f"/status/m/{page.token}/").status_code == 200
    # Seen again moments later, the page is built from the cache: only the member is read.
    with django_assert_max_num_queries(1):
        again = client.get("/status/A0202/").content.decode()
    assert main_part(again) == main_part(html)


def test_what_admins_change_shows_at_once_on_a_member_page(client, velo):
    actions.set_status_page_public(velo, public=True, actor=None)
    check = new_check("velo.org — site web", member=velo)
    assert "Sites lents" not in client.get("/status/A0202/").content.decode()

    incident = actions.open_incident(actor=None, title="Sites lents", message="On cherche.")
    assert "On cherche." in client.get("/status/A0202/").content.decode()
    actions.add_incident_update(incident, actor=None, status="identified", message="Disque.")
    assert "Disque." in client.get("/status/A0202/").content.decode()
    actions.update_check(check, actor=None, public=False)
    assert "velo.org — site web" not in client.get("/status/A0202/").content.decode()


def test_the_badge_is_an_svg_image_with_the_status_word(client, velo):
    check = new_check("velo.org <site>", member=velo)
    observe(check, "down")

    response = client.get(f"/status/badge/{check.pk}.svg")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)  # noqa: S314 — our own answer
    assert root.tag == f"{SVG}svg"
    texts = [node.text for node in root.iter(f"{SVG}text")]
    assert texts == ["velo.org <site>", "Down"]
    assert root.find(f"{SVG}title").text == "velo.org <site>: Down"
    assert root.get("role") == "img"


def test_no_badge_for_a_check_that_is_not_public(client, velo):
    check = new_check("Intranet", member=velo, public=False)
    assert client.get(f"/status/badge/{check.pk}.svg").status_code == 404
    assert client.get("/status/badge/999999.svg").status_code == 404


@pytest.fixture
def history(velo):
    """A public check that went down and back up, a private one that went down, a public
    incident with two updates and an incident kept private."""
    start = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    public = new_check("velo.org — site web", member=velo)
    private = new_check("Intranet du vélo", member=velo, public=False)
    observe(public, "up", at=start)
    observe(public, "down", at=start + timedelta(minutes=5))
    observe(public, "up", at=start + timedelta(minutes=9))
    observe(private, "down", at=start + timedelta(minutes=6))
    incident = actions.open_incident(
        actor=None, title="Sites lents", message="Nous cherchons la cause.", checks=[public]
    )
    actions.add_incident_update(
        incident, actor=None, status="identified", message="Un disque plein."
    )
    secret = actions.open_incident(
        actor=None, title="Note interne", message="Ne pas publier.", public=False
    )
    return {"public": public, "private": private, "incident": incident, "secret": secret}


def test_the_json_feed_lists_incidents_and_changes_of_public_checks(client, history):
    response = client.get("/status/feed.json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/feed+json")
    feed = json.loads(response.content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    titles = [item["title"] for item in feed["items"]]
    kinds = {item["_ronron"]["type"] for item in feed["items"]}
    assert kinds == {"incident", "state_change"}
    assert titles.count("velo.org — site web: Down") == 1
    assert titles.count("velo.org — site web: Up") == 2
    assert "Sites lents — Identified" in titles and "Sites lents — Investigating" in titles
    assert not any("Intranet" in t or "Note interne" in t for t in titles)
    assert len({item["id"] for item in feed["items"]}) == len(feed["items"])
    dates = [item["date_published"] for item in feed["items"]]
    assert dates == sorted(dates, reverse=True)
    update = next(i for i in feed["items"] if i["title"] == "Sites lents — Identified")
    assert update["content_text"] == "Un disque plein."
    assert update["url"].startswith("http://testserver/status/incidents/")


def test_the_atom_feed_parses_and_holds_the_same_events(client, history):
    response = client.get("/status/feed.atom")

    assert response.status_code == 200
    root = ET.fromstring(response.content)  # noqa: S314 — our own answer
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    titles = [entry.find(f"{ATOM}title").text for entry in entries]
    assert "velo.org — site web: Down" in titles
    assert "Sites lents — Identified" in titles
    assert not any("Intranet" in t or "Note interne" in t for t in titles)
    ids = [entry.find(f"{ATOM}id").text for entry in entries]
    assert len(set(ids)) == len(ids) and all(i.startswith("tag:testserver,") for i in ids)


def test_incidents_and_their_updates_appear_on_the_pages(client, velo, history):
    actions.set_status_page_public(velo, public=True, actor=None)
    incident = history["incident"]

    for url in ("/status/", "/status/A0202/", f"/status/incidents/{incident.pk}/"):
        html = client.get(url).content.decode()
        assert "Sites lents" in html, url
        assert "Nous cherchons la cause." in html and "Un disque plein." in html, url
        assert "Note interne" not in html, url
    assert client.get(f"/status/incidents/{history['secret'].pk}/").status_code == 404

    actions.resolve_incident(incident, actor=None, message="Disque vidé.")
    html = client.get("/status/").content.decode()
    assert "Ongoing incidents" not in html
    assert "Recent incidents" in html and "Disque vidé." in html


CONSOLE_URLS = [
    "/monitoring/",
    "/monitoring/checks/",
    "/monitoring/checks/new/",
    "/monitoring/checks/{check}/",
    "/monitoring/checks/{check}/edit/",
    "/monitoring/checks/{check}/delete/",
    "/monitoring/maintenances/",
    "/monitoring/maintenances/new/",
    "/monitoring/maintenances/{maintenance}/",
    "/monitoring/maintenances/{maintenance}/delete/",
    "/monitoring/incidents/",
    "/monitoring/incidents/new/",
    "/monitoring/incidents/{incident}/",
    "/monitoring/members/{member}/status-page/",
]
CONSOLE_POSTS = [
    "/monitoring/incidents/{incident}/update/",
    "/monitoring/incidents/{incident}/resolve/",
    "/monitoring/members/{member}/status-page/visibility/",
    "/monitoring/members/{member}/status-page/link/",
]


@pytest.fixture
def objects(velo):
    check = new_check("velo.org — site web", member=velo)
    maintenance = actions.create_maintenance(
        actor=None,
        title="Mises à jour",
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(hours=1),
    )
    incident = actions.open_incident(actor=None, title="Panne", message="Coupure.")
    return {
        "check": check.pk,
        "maintenance": maintenance.pk,
        "incident": incident.pk,
        "member": velo.pk,
    }


def test_console_pages_are_for_staff_only(client, django_user_model, objects):
    for url in CONSOLE_URLS + CONSOLE_POSTS:
        address = url.format(**objects)
        response = client.post(address) if url in CONSOLE_POSTS else client.get(address)
        assert response.status_code == 302, address
        assert response["Location"].startswith(reverse("core:login")), address
    member = django_user_model.objects.create_user(username="adherent", password="x-x-x-x-x-x")
    client.force_login(member)
    for url in CONSOLE_URLS + CONSOLE_POSTS:
        address = url.format(**objects)
        response = client.post(address) if url in CONSOLE_POSTS else client.get(address)
        assert response.status_code == 403, address


def test_console_pages_open_for_staff(console, objects):
    for url in CONSOLE_URLS:
        address = url.format(**objects)
        response = console.get(address)
        assert response.status_code == 200, address
        html = response.content.decode()
        assert "<script" not in html and "style=" not in html, address
    assert 'href="/monitoring/"' in console.get("/").content.decode()


def test_what_is_down_now_per_member_and_per_server(console, velo, jardin):
    web1 = create_server(actor=None, name="web1", roles=["web"], memory_mb=4096, disk_gb=100)
    service = Service.objects.create(
        member=velo, kind="static", family="web", managed=True, server=web1, domain="velo.org"
    )
    derived = Check.objects.create(
        name="velo.org — site web",
        kind="http",
        target="https://velo.org/",
        member=velo,
        service=service,
        purpose="https",
    )
    manual = new_check("Nuage du jardin", member=jardin)
    fine = new_check("Forum", member=jardin)
    observe(derived, "down")
    observe(manual, "degraded")
    observe(fine, "up")

    html = console.get("/monitoring/").content.decode()

    per_member = html.split('id="by-member-title"')[1].split('id="by-server-title"')[0]
    per_server = html.split('id="by-server-title"')[1]
    assert "A0202 Les Amis du Vélo" in per_member and "A0303 Jardins partagés" in per_member
    assert "velo.org — site web" in per_member and "Nuage du jardin" in per_member
    assert "Forum" not in per_member
    assert ">web1</a>" in per_server and "No server (manual checks)" in per_server
    assert per_server.index("web1") < per_server.index("velo.org — site web")
    assert 'status--failed">Down<' in per_member and 'status--overdue">Slow<' in per_member


def test_a_checks_page_shows_its_history_and_latency(console, velo):
    check = new_check("velo.org — site web", member=velo)
    now = timezone.now().replace(second=0, microsecond=0)
    observe(check, "up", at=now - timedelta(minutes=30), latency=120)
    observe(check, "down", at=now - timedelta(minutes=20), latency=None)
    observe(check, "up", at=now - timedelta(minutes=10), latency=80)

    html = console.get(f"/monitoring/checks/{check.pk}/").content.decode()

    changes = html.split('id="changes-title"')[1].split("</section>")[0]
    assert changes.count('status--ok">Up<') == 2 and changes.count('status--failed">Down<') == 1
    assert Bucket.objects.filter(endpoint=check).count() == 3
    chart = html.split('<svg xmlns="http://www.w3.org/2000/svg" class="chart"')[1]
    chart = chart.split("</svg>")[0]
    # Minutes ten apart are dots, not a line drawn across the gaps; the failure is marked.
    assert chart.count("<circle") == 2 and "<polyline" not in chart
    assert '<g fill="#a4262c"><rect' in chart
    # The chart's figures are in a table too: the failing minute, the slowest probe.
    hours = html.split("The figures per hour")[1].split("</table>")[0]
    assert 'data-label="Slowest (ms)">120<' in hours
    assert (
        sum(int(n) for n in re.findall(r'data-label="Minutes with a failure">(\d+)<', hours)) == 1
    )
    assert f"/status/badge/{check.pk}.svg" in html
    assert "No alert sent." in html


def test_a_checks_page_lists_its_alerts(console, velo):
    check = new_check("velo.org — site web", member=velo)
    now = timezone.now()
    for minutes in (3, 2, 1):
        observe(check, "down", at=now - timedelta(minutes=minutes), latency=None)
    alerts.process([check.pk], now)

    html = console.get(f"/monitoring/checks/{check.pk}/").content.decode()

    listed = html.split('id="alerts-title"')[1].split("</section>")[0]
    assert "<strong>Down</strong>" in listed
    assert "about to be sent" in listed or "sent" in listed
