"""The managed-service pages of the console: request, look, suspend, resume, remove, change the
settings, send new credentials. Nothing is applied here (the driver tests do that)."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.fleet.actions import create_server
from ronron.jobs.models import Job
from ronron.members import actions as member_actions
from ronron.reconcile.models import Run, RunStep
from ronron.services import actions
from ronron.services.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def lists1():
    return create_server(actor=None, name="lists1", roles=["lists"], memory_mb=16384, disk_gb=100)


def new_service(member, **overrides: object) -> dict[str, object]:
    return {
        "member": str(member.pk),
        "kind": "static",
        "domain": "velo.example.org",
        "aliases": "",
        "server": "",
        "title": "",
        "admin_email": "",
        "admin_user": "",
        **overrides,
    }


def request_static(member, server, domain: str = "velo.example.org") -> Service:
    return actions.request_service(member, actor=None, kind="static", domain=domain, server=server)


def test_requesting_a_site_records_it_and_offers_to_apply_now(console, member, web1, staff_user):
    response = console.post(
        reverse("services:create"),
        new_service(member, domain="Vélo.Example.org", aliases="www.vélo.example.org\n"),
        follow=True,
    )
    service = Service.objects.get()
    assert response.redirect_chain[-1][0] == reverse("services:detail", args=[service.pk])
    assert (service.domain, service.server, service.wanted_state) == (
        "xn--vlo-bma.example.org",
        web1,
        "present",
    )
    assert service.spec["aliases"] == ["www.xn--vlo-bma.example.org"]
    page = response.content.decode()
    assert "Recorded. It will be created at the next apply" in page
    assert "vélo.example.org" in page
    assert reverse("services:apply", args=[service.pk]) in page
    assert AuditEntry.objects.filter(action="service.requested", actor=staff_user).count() == 1


def test_apply_now_starts_a_run_for_the_member(console, member, web1):
    service = request_static(member, web1)
    response = console.post(reverse("services:apply", args=[service.pk]))
    run = Run.objects.get()
    assert response.url == reverse("reconcile:run", args=[run.pk])
    assert run.scope == {"member": "A0202"}


def test_an_invalid_domain_is_shown_next_to_the_field_and_nothing_is_written(console, member, web1):
    before = AuditEntry.objects.count()
    response = console.post(reverse("services:create"), new_service(member, domain="pas un nom"))
    assert response.status_code == 400
    form = response.context["form"]
    assert "not a valid domain name" in " ".join(form.errors["domain"])
    assert Service.objects.count() == 0
    assert AuditEntry.objects.count() == before


def test_a_bad_alias_or_limit_is_shown_next_to_its_field(console, member, web1):
    response = console.post(
        reverse("services:create"),
        new_service(member, aliases="ok.example.org\n10.0.0.1", limit_php_workers="3"),
    )
    errors = response.context["form"].errors
    assert "IP address" in " ".join(errors["aliases"])
    # A static site runs no PHP: the limit is refused next to its own field.
    assert "Unknown limit" in " ".join(errors["limit_php_workers"])
    assert Service.objects.count() == 0


def test_wordpress_settings_errors_are_shown_next_to_their_fields(console, member, web1):
    response = console.post(
        reverse("services:create"),
        new_service(member, kind="wordpress", admin_email="pas-une-adresse", admin_user="A"),
    )
    errors = response.context["form"].errors
    assert set(errors) >= {"admin_email", "admin_user"}
    assert Service.objects.count() == 0


def test_a_server_without_the_role_is_refused(console, member, web1, lists1):
    response = console.post(reverse("services:create"), new_service(member, server="lists1"))
    assert response.status_code == 400
    assert "does not have the role" in " ".join(response.context["form"].errors["server"])
    assert Service.objects.count() == 0


def test_no_server_with_the_role_is_explained_next_to_the_server_field(console, member, lists1):
    response = console.post(reverse("services:create"), new_service(member))
    assert "No server takes web sites yet" in " ".join(response.context["form"].errors["server"])


def test_automatic_placement_picks_the_server_with_the_most_room(console, member, web1, web2):
    page = console.get(reverse("services:create") + f"?member={member.pk}").content.decode()
    assert "Automatic — the server with the most room" in page
    assert "web2 (Web sites) — free: 8192 MB of memory" in page
    console.post(reverse("services:create"), new_service(member))
    assert Service.objects.get().server == web2


def test_a_chosen_server_is_kept(console, member, web1, web2):
    console.post(reverse("services:create"), new_service(member, server="web1"))
    assert Service.objects.get().server == web1


def test_wordpress_administrator_email_defaults_to_the_tech_contact(console, member, web1):
    member_actions.add_contact(
        member, actor=None, name="Alix", email="alix@velo.example.org", roles=["tech"]
    )
    page = console.get(reverse("services:create") + f"?member={member.pk}").content.decode()
    assert 'value="alix@velo.example.org"' in page
    console.post(reverse("services:create"), new_service(member, kind="wordpress", title="Le Vélo"))
    spec = Service.objects.get().spec
    assert (spec["admin_email"], spec["title"]) == ("alix@velo.example.org", "Le Vélo")


def test_member_page_lists_managed_services_apart_from_external_ones(console, member, web1):
    service = request_static(member, web1)
    actions.record_external_service(member, actor=None, kind="", family="cloud", name="Nextcloud")
    page = console.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert reverse("services:detail", args=[service.pk]) in page
    assert 'href="http://velo.example.org/"' in page
    assert "Not observed yet" in page
    assert "Nextcloud" in page
    assert f"{reverse('services:create')}?member={member.pk}" in page
    managed, external = page.split("Managed by Ronron", 1)[1].split("External", 1)
    assert "velo.example.org" in managed and "Nextcloud" not in managed
    assert "Nextcloud" in external


def test_service_page_shows_the_truth_the_observation_and_the_journal(console, member, web1):
    service = request_static(member, web1)
    Service.objects.filter(pk=service.pk).update(
        observed_state="partial",
        observed={"parts": {"system-user": True, "nginx-site": None}, "facts": {}},
    )
    run = Run.objects.create(scope={"member": member.number})
    RunStep.objects.create(
        run=run,
        position=1,
        service=service,
        key="user",
        description="create system user site-velo",
        status="done",
    )
    page = console.get(reverse("services:detail", args=[service.pk])).content.decode()
    for text in (
        "Static web site",
        "web1",
        "velo",
        "Partly made",
        "System user of the site",
        "Web server configuration",
        "create system user site-velo",
        "does not match what is wanted yet",
    ):
        assert text in page


def test_suspend_asks_for_confirmation_then_resume_restores(console, member, web1, staff_user):
    service = request_static(member, web1)
    url = reverse("services:suspend", args=[service.pk])
    page = console.get(url).content.decode()
    assert "Nothing is deleted" in page
    service.refresh_from_db()
    assert service.wanted_state == "present"  # looking at the page changes nothing
    response = console.post(url, follow=True)
    service.refresh_from_db()
    assert service.wanted_state == "suspended"
    assert "will be suspended at the next apply" in response.content.decode()
    assert reverse("services:resume", args=[service.pk]) in response.content.decode()
    console.post(reverse("services:resume", args=[service.pk]))
    service.refresh_from_db()
    assert service.wanted_state == "present"
    assert [e.action for e in AuditEntry.objects.filter(actor=staff_user).order_by("pk")] == [
        "service.suspended",
        "service.resumed",
    ]


def test_resuming_a_running_site_is_refused_with_a_message(console, member, web1):
    service = request_static(member, web1)
    response = console.post(reverse("services:resume", args=[service.pk]), follow=True)
    assert "This cannot be done while the service is" in response.content.decode()


def test_remove_explains_the_archive_then_records_the_wish(console, member, web1):
    service = request_static(member, web1)
    url = reverse("services:remove", args=[service.pk])
    page = console.get(url).content.decode()
    assert "exported to an archive, the archive verified, and only then removed" in page
    console.post(url)
    service.refresh_from_db()
    assert service.wanted_state == "absent" and service.removed_at is None
    page = console.get(reverse("services:detail", args=[service.pk])).content.decode()
    assert url not in page  # cannot be asked twice


def test_a_removed_service_shows_its_archive(console, member, web1):
    service = request_static(member, web1)
    actions.remove_service(service, actor=None)
    actions.record_removal(service, archive_path="/var/lib/ronron/archives/velo.tar.gz")
    page = console.get(reverse("services:detail", args=[service.pk])).content.decode()
    assert "/var/lib/ronron/archives/velo.tar.gz" in page
    assert reverse("services:suspend", args=[service.pk]) not in page


def test_settings_change_keeps_what_the_form_does_not_show(console, member, web1):
    service = actions.request_service(
        member,
        actor=None,
        kind="wordpress",
        domain="velo.example.org",
        server=web1,
        spec={"title": "Le Vélo", "limits": {"burst": 80}},
    )
    url = reverse("services:settings", args=[service.pk])
    assert console.get(url).status_code == 200
    response = console.post(
        url, {"aliases": "www.velo.example.org", "limit_php_workers": "8"}, follow=True
    )
    assert "Changes saved" in response.content.decode()
    service.refresh_from_db()
    assert service.spec["aliases"] == ["www.velo.example.org"]
    assert service.spec["limits"] == {"burst": 80, "php_workers": 8}
    assert service.spec["title"] == "Le Vélo"
    assert AuditEntry.objects.filter(action="service.settings_changed").count() == 1


def test_settings_errors_are_shown_and_nothing_changes(console, member, web1):
    other = request_static(member, web1, domain="autre.example.org")
    service = request_static(member, web1)
    url = reverse("services:settings", args=[service.pk])
    response = console.post(url, {"aliases": "autre.example.org"})
    assert "Another service already uses" in " ".join(response.context["form"].errors["aliases"])
    response = console.post(url, {"aliases": "", "limit_requests_per_second": "0"})
    assert response.context["form"].errors["limit_requests_per_second"]
    service.refresh_from_db()
    assert service.spec == {} and other.spec == {}


def installed_wordpress(member, server) -> Service:
    """A WordPress site as the reconciler last saw it: installed (no server is reached here)."""
    service = actions.request_service(
        member, actor=None, kind="wordpress", domain="velo.example.org", server=server
    )
    Service.objects.filter(pk=service.pk).update(observed_state=Service.Observed.PRESENT)
    return service


def test_staff_send_new_credentials_to_a_chosen_contact(console, member, web1, staff_user):
    service = installed_wordpress(member, web1)
    tech = member_actions.add_contact(
        member, actor=None, name="Tech", email="tech@velo.example.org", roles="tech"
    )
    president = member_actions.add_contact(
        member, actor=None, name="Présidente", email="pres@velo.example.org", roles="president"
    )
    page = console.get(reverse("services:detail", args=[service.pk])).content.decode()
    assert "Send new credentials" in page
    assert "Show the administrator" not in page
    # The technical contact is chosen unless staff choose someone else.
    assert f'<option value="{tech.pk}" selected>' in page
    assert "pres@velo.example.org" in page

    response = console.post(
        reverse("services:send_credentials", args=[service.pk]), {"contact": str(president.pk)}
    )
    job = Job.objects.get()
    assert response.url == reverse("jobs:detail", args=[job.pk])
    assert job.params == {"service_id": service.pk, "recipients": ["pres@velo.example.org"]}
    assert job.created_by == staff_user
    assert "pres@velo.example.org" in job.label
    # The job makes the password and sends it; nothing is sent by the page itself.
    assert mail.outbox == []


def test_new_credentials_go_to_the_members_own_contacts_only(console, member, web1):
    service = installed_wordpress(member, web1)
    member_actions.add_contact(
        member, actor=None, name="Tech", email="tech@velo.example.org", roles="tech"
    )
    other = member_actions.create_member(
        actor=None, number="A0303", kind="association", name="Autre", joined_on=date(2021, 1, 1)
    )
    stranger = member_actions.add_contact(
        other, actor=None, name="Autre", email="autre@autre.example.org", roles="tech"
    )
    response = console.post(
        reverse("services:send_credentials", args=[service.pk]),
        {"contact": str(stranger.pk)},
        follow=True,
    )
    assert "Choose one of the member&#x27;s contacts." in response.content.decode()
    assert not Job.objects.exists()


def test_no_new_credentials_before_the_site_is_installed(console, member, web1):
    service = actions.request_service(
        member, actor=None, kind="wordpress", domain="velo.example.org", server=web1
    )
    tech = member_actions.add_contact(
        member, actor=None, name="Tech", email="tech@velo.example.org", roles="tech"
    )
    page = console.get(reverse("services:detail", args=[service.pk])).content.decode()
    assert "Credentials handed to the member" in page
    assert "Send new credentials" not in page
    assert "they are sent at the end of that apply" in page
    response = console.post(
        reverse("services:send_credentials", args=[service.pk]),
        {"contact": str(tech.pk)},
        follow=True,
    )
    assert "not installed on its server yet" in response.content.decode()
    assert not Job.objects.exists()


def test_a_static_site_has_no_credentials_panel(console, member, web1):
    service = request_static(member, web1)
    page = console.get(reverse("services:detail", args=[service.pk])).content.decode()
    assert "Credentials handed to the member" not in page


def test_the_credentials_page_is_post_only(console, member, web1):
    service = installed_wordpress(member, web1)
    response = console.get(reverse("services:send_credentials", args=[service.pk]))
    assert response.status_code == 405


@pytest.mark.parametrize("logged_in", [False, True])
def test_pages_are_for_staff_only(client, django_user_model, member, web1, logged_in):
    service = request_static(member, web1)
    user = django_user_model.objects.create_user(username="visiteur", password="x" * 20)
    if logged_in:
        client.force_login(user)
    urls = [
        ("get", reverse("services:create")),
        ("get", reverse("services:detail", args=[service.pk])),
        ("get", reverse("services:suspend", args=[service.pk])),
        ("post", reverse("services:suspend", args=[service.pk])),
        ("post", reverse("services:resume", args=[service.pk])),
        ("get", reverse("services:remove", args=[service.pk])),
        ("post", reverse("services:remove", args=[service.pk])),
        ("get", reverse("services:settings", args=[service.pk])),
        ("post", reverse("services:settings", args=[service.pk])),
        ("post", reverse("services:send_credentials", args=[service.pk])),
        ("post", reverse("services:apply", args=[service.pk])),
    ]
    for method, url in urls:
        response = getattr(client, method)(url)
        # Logged in but not staff: forbidden; anonymous: sent to the login page.
        assert response.status_code == (403 if logged_in else 302), url
        if not logged_in:
            assert response.url.startswith(reverse("core:login")), url
    service.refresh_from_db()
    assert service.wanted_state == "present"
    assert not Run.objects.exists()
    assert not Job.objects.exists()


def test_requesting_a_list_records_its_address_subject_and_owners(console, member, lists1):
    member_actions.add_contact(
        member, actor=None, name="Tech", email="tech@velo.example.org", roles="tech"
    )
    response = console.post(
        reverse("services:create"),
        new_service(
            member,
            kind="list",
            domain="Adherents@Listes.Velo.example.org",
            subject="Adhérents du vélo",
            list_type="news-letter",
            owners="",
        ),
        follow=True,
    )
    service = Service.objects.get()
    assert response.redirect_chain[-1][0] == reverse("services:detail", args=[service.pk])
    assert (service.kind, service.domain, service.server) == (
        "list",
        "adherents@listes.velo.example.org",
        lists1,
    )
    assert service.spec == {
        "subject": "Adhérents du vélo",
        "type": "news-letter",
        "owners": ["tech@velo.example.org"],
    }
    # An address is not a web site: it is shown, not linked.
    assert 'href="http://adherents@' not in response.content.decode()


def test_list_errors_are_shown_next_to_their_fields(console, member, lists1):
    response = console.post(
        reverse("services:create"),
        new_service(
            member,
            kind="list",
            domain="sympa@listes.velo.example.org",
            subject="",
            list_type="news-letter",
            owners="pas-une-adresse",
        ),
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "needs a subject" in " ".join(errors["subject"])
    assert "not a valid e-mail address" in " ".join(errors["owners"])
    assert Service.objects.count() == 0

    response = console.post(
        reverse("services:create"),
        new_service(
            member,
            kind="list",
            domain="sympa@listes.velo.example.org",
            subject="Adhérents",
            owners="camille@velo.example.org",
        ),
    )
    assert "reserved by Sympa" in " ".join(response.context["form"].errors["domain"])
    assert Service.objects.count() == 0
