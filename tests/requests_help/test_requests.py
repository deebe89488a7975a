"""The catalog (console), service requests from the portal, their approval or refusal by an
admin, and the chore that closes them once the service runs. Through HTTP; nothing is applied
(the apply is only queued: a Job row)."""

from __future__ import annotations

import dataclasses

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.drivers.base import Observation
from ronron.jobs.models import Job
from ronron.portal import actions_requests
from ronron.portal.models import Offer, ServiceRequest
from ronron.reconcile.models import Run
from ronron.reconcile.observations import record_observation
from ronron.reconcile.tasks import JOB_KIND as APPLY_JOB
from ronron.services.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(admin):
    actions_requests.create_default_offers(actor=admin)
    return {offer.kind: offer for offer in Offer.objects.all()}


def ask_url(member, offer) -> str:
    return reverse("portal:portal_requests:ask", args=[member.number, offer.pk])


def site_form(domain: str = "velo.example.org", **extra: str) -> dict[str, str]:
    return {"domain": domain, "aliases": "", "message": "", **extra}


def wordpress_form(domain: str = "blog.velo.example.org", **extra: str) -> dict[str, str]:
    fields = {"title": "Le blog du vélo", "admin_email": "", "admin_user": "", **extra}
    return site_form(domain, **fields)


# --- catalog ------------------------------------------------------------------------------


def test_an_empty_catalog_is_filled_with_one_click_then_edited(as_user, admin):
    console = as_user(admin)
    page = console.get(reverse("desk:catalog")).content.decode()
    assert "The catalog is empty" in page
    assert "Create the default entries" in page

    response = console.post(reverse("desk:catalog"), {"defaults": "1"}, follow=True)
    assert "4 entries added to the catalog" in response.content.decode()
    offers = {o.kind: o for o in Offer.objects.all()}
    # Work groups are the hoster's own: not offered to members.
    assert set(offers) == {"static", "wordpress", "list", "cloud"}
    assert offers["cloud"].needs_approval
    assert offers["wordpress"].needs_approval and not offers["static"].needs_approval
    assert "WordPress" in offers["wordpress"].description
    assert AuditEntry.objects.filter(action="offer.created", actor=admin).count() == 4

    edit = reverse("desk:catalog_edit", args=[offers["static"].pk])
    response = console.post(
        edit,
        {
            "title": "Site vitrine",
            "description": "Quelques pages.",
            "needs_approval": "on",
            "position": "5",
        },
    )
    assert response.status_code == 302
    static = Offer.objects.get(kind="static")
    assert (static.title, static.needs_approval, static.available, static.position) == (
        "Site vitrine",
        True,
        False,
        5,
    )
    assert AuditEntry.objects.filter(action="offer.updated").count() == 1
    # Every kind Ronron provisions is in the catalog: nothing more to add.
    assert "Add an entry" not in console.get(reverse("desk:catalog")).content.decode()


def test_the_catalog_is_for_admins_only(as_user, camille):
    response = as_user(camille).get(reverse("desk:catalog"))
    assert response.status_code == 403
    assert as_user(camille).get(reverse("desk:requests")).status_code == 403


# --- asking -------------------------------------------------------------------------------


def test_a_request_without_approval_creates_the_service_and_queues_an_apply(
    as_user, camille, velo, web1, catalog, django_capture_on_commit_callbacks
):
    portal = as_user(camille)
    page = portal.get(reverse("portal:portal_requests:index", args=[velo.number])).content
    assert "Simple web site" in page.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = portal.post(
            ask_url(velo, catalog["static"]), site_form("Vélo.Example.org"), follow=True
        )
    made = ServiceRequest.objects.get()
    assert response.redirect_chain[-1][0] == reverse(
        "portal:portal_requests:detail", args=[velo.number, made.pk]
    )
    assert "Your request is accepted" in response.content.decode()
    assert made.status == ServiceRequest.Status.APPROVED
    assert made.decided_by is None  # approved by the catalog's rule
    service = made.service
    assert (service.kind, service.domain, service.server, service.wanted_state) == (
        "static",
        "xn--vlo-bma.example.org",
        web1,
        "present",
    )
    run = Run.objects.get()
    assert run.scope == {"member": "A0202"}
    assert Job.objects.filter(pk=run.job_id, kind=APPLY_JOB).exists()
    [message] = mail.outbox
    assert message.to == ["camille.velo@example.org"]
    assert "accepted" in message.subject
    assert "vélo.example.org" in message.body
    assert (
        AuditEntry.objects.filter(
            action__in=["service_request.created", "service_request.approved", "service.requested"],
            member_id=velo.pk,
        ).count()
        == 3
    )


def test_a_request_needing_approval_waits_then_an_admin_approves_it(
    as_user, camille, admin, velo, web1, catalog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(camille).post(
            ask_url(velo, catalog["wordpress"]),
            wordpress_form(message="Pour notre blog."),
            follow=True,
        )
    made = ServiceRequest.objects.get()
    assert made.status == ServiceRequest.Status.PENDING
    assert "An admin will look at it soon" in response.content.decode()
    assert "Waiting for an admin" in response.content.decode()
    assert not Service.objects.exists()
    [notice] = mail.outbox
    assert sorted(notice.to) == ["admin@lepic.example.org", "bureau@lepic.example.org"]
    assert "Les Amis du Vélo" in notice.subject
    assert reverse("desk:request_detail", args=[made.pk]) in notice.body
    assert "Pour notre blog." in notice.body
    mail.outbox.clear()

    console = as_user(admin)
    queue = console.get(reverse("desk:requests")).content.decode()
    assert "blog.velo.example.org" in queue
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(reverse("desk:request_approve", args=[made.pk]), follow=True)
    assert "Approved" in response.content.decode()
    made.refresh_from_db()
    assert (made.status, made.decided_by) == (ServiceRequest.Status.APPROVED, admin)
    service = Service.objects.get()
    assert made.service == service
    assert (service.kind, service.wanted_state, service.spec["title"]) == (
        "wordpress",
        "present",
        "Le blog du vélo",
    )
    # The administrator's address defaults to the member's technical contact, as in the console.
    assert service.spec["admin_email"] == "tech@a0202.example.org"
    run = Run.objects.get()
    assert run.scope == {"member": "A0202"} and run.job_id is not None
    assert Job.objects.filter(pk=run.job_id, kind=APPLY_JOB).exists()
    [decision] = mail.outbox
    assert decision.to == ["camille.velo@example.org"]
    assert "accepted" in decision.subject

    # Approving twice changes nothing.
    response = console.post(reverse("desk:request_approve", args=[made.pk]), follow=True)
    assert "no longer waiting" in response.content.decode()
    assert Service.objects.count() == 1


def test_a_bad_address_is_shown_next_to_its_field_and_nothing_is_written(
    as_user, camille, velo, web1, catalog
):
    portal = as_user(camille)
    response = portal.post(ask_url(velo, catalog["static"]), site_form("pas un domaine!"))
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_domain_error"' in page
    assert 'aria-invalid="true"' in page

    response = portal.post(
        ask_url(velo, catalog["wordpress"]), wordpress_form(admin_user="Un Nom!")
    )
    assert response.status_code == 400
    assert 'id="id_admin_user_error"' in response.content.decode()
    assert "administrator&#x27;s login" in response.content.decode()

    response = portal.post(ask_url(velo, catalog["static"]), site_form("bad\r\n.example.org"))
    assert response.status_code == 400
    assert not ServiceRequest.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="service_request.").exists()


def test_an_address_already_used_is_refused(as_user, camille, velo, web1, catalog):
    actions_requests.create_request(
        velo,
        catalog["static"],
        domain="velo.example.org",
        details={},
        message="",
        actor=None,
    )
    response = as_user(camille).post(ask_url(velo, catalog["static"]), site_form())
    assert response.status_code == 400
    assert "Another service already uses velo.example.org" in response.content.decode()
    assert ServiceRequest.objects.count() == 1


def test_an_unavailable_offer_is_refused(as_user, camille, admin, velo, web1, catalog):
    actions_requests.update_offer(catalog["static"], actor=admin, available=False)
    portal = as_user(camille)
    index = portal.get(reverse("portal:portal_requests:index", args=[velo.number])).content
    assert "Simple web site" not in index.decode()
    response = portal.post(ask_url(velo, catalog["static"]), site_form(), follow=True)
    assert "is not offered at the moment" in response.content.decode()
    with pytest.raises(ValidationError) as refused:
        actions_requests.create_request(
            velo, catalog["static"], domain="velo.example.org", details={}, message="", actor=None
        )
    assert refused.value.code == "unavailable"
    assert not ServiceRequest.objects.exists()


def test_a_refusal_with_its_reason_is_mailed_to_the_member(
    as_user, camille, admin, velo, catalog, django_capture_on_commit_callbacks
):
    made = actions_requests.create_request(
        velo,
        catalog["wordpress"],
        domain="blog.velo.example.org",
        details={"title": "Blog"},
        message="",
        actor=camille,
    )
    console = as_user(admin)
    refuse = reverse("desk:request_refuse", args=[made.pk])
    response = console.post(refuse, {"reason": ""})
    assert response.status_code == 400
    assert 'id="id_reason_error"' in response.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        console.post(refuse, {"reason": "Ce domaine ne vous appartient pas."})
    made.refresh_from_db()
    assert (made.status, made.reason) == (
        ServiceRequest.Status.REFUSED,
        "Ce domaine ne vous appartient pas.",
    )
    [message] = mail.outbox
    assert message.to == ["camille.velo@example.org"]
    assert "not accepted" in message.subject
    assert "Ce domaine ne vous appartient pas." in message.body
    page = as_user(camille).get(
        reverse("portal:portal_requests:detail", args=[velo.number, made.pk])
    )
    assert "Ce domaine ne vous appartient pas." in page.content.decode()
    assert "Not accepted" in page.content.decode()
    assert not Service.objects.exists()


def test_an_approval_that_finds_no_server_leaves_the_request_waiting(
    as_user, camille, admin, velo, catalog
):
    made = actions_requests.create_request(
        velo,
        catalog["wordpress"],
        domain="blog.velo.example.org",
        details={},
        message="",
        actor=camille,
    )
    console = as_user(admin)
    response = console.post(reverse("desk:request_approve", args=[made.pk]), follow=True)
    page = response.content.decode()
    assert "Not approved" in page and "No server takes" in page
    assert "The last attempt failed" in page
    made.refresh_from_db()
    assert made.status == ServiceRequest.Status.PENDING
    assert not Service.objects.exists()
    assert AuditEntry.objects.filter(action="service_request.approval_failed").count() == 1


def test_an_automatic_approval_without_a_server_waits_for_an_admin(
    as_user, camille, velo, catalog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(camille).post(ask_url(velo, catalog["static"]), site_form(), follow=True)
    assert "An admin will look at it soon" in response.content.decode()
    assert ServiceRequest.objects.get().status == ServiceRequest.Status.PENDING
    [notice] = mail.outbox
    assert "bureau@lepic.example.org" in notice.to


def test_the_ready_chore_closes_a_request_once_its_service_runs(
    as_user, camille, admin, velo, web1, catalog, django_capture_on_commit_callbacks
):
    made = actions_requests.create_request(
        velo,
        catalog["wordpress"],
        domain="blog.velo.example.org",
        details={},
        message="",
        actor=camille,
        approved=True,
    )
    assert made.status == ServiceRequest.Status.APPROVED
    mail.outbox.clear()
    call_command("chores", "run", "requests.ready")
    made.refresh_from_db()
    assert made.status == ServiceRequest.Status.APPROVED

    record_observation(made.service, Observation(state="present"))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("chores", "run", "requests.ready")
    made.refresh_from_db()
    assert made.status == ServiceRequest.Status.DONE
    [message] = mail.outbox
    assert message.to == ["camille.velo@example.org"]
    assert "ready" in message.subject
    with django_capture_on_commit_callbacks(execute=True):
        call_command("chores", "run", "requests.ready")
    assert len(mail.outbox) == 1
    assert AuditEntry.objects.filter(action="service_request.done").count() == 1
    page = as_user(camille).get(
        reverse("portal:portal_requests:detail", args=[velo.number, made.pk])
    )
    assert "Your service is ready" in page.content.decode()
    assert reverse("portal:services", args=[velo.number]) in page.content.decode()


def test_the_member_cancels_a_waiting_request_and_follows_its_history(
    as_user, camille, velo, catalog
):
    made = actions_requests.create_request(
        velo,
        catalog["wordpress"],
        domain="blog.velo.example.org",
        details={},
        message="",
        actor=camille,
    )
    portal = as_user(camille)
    detail = reverse("portal:portal_requests:detail", args=[velo.number, made.pk])
    assert "Cancel this request" in portal.get(detail).content.decode()
    cancel = reverse("portal:portal_requests:cancel", args=[velo.number, made.pk])
    page = portal.post(cancel, follow=True).content.decode()
    assert "Your request is cancelled" in page
    assert "Request sent" in page and "Cancelled" in page
    assert "Cancel this request" not in page
    page = portal.post(cancel, follow=True).content.decode()
    assert "no longer waiting" in page
    made.refresh_from_db()
    assert made.status == ServiceRequest.Status.CANCELLED


def test_a_manager_reaches_only_its_own_members_requests(
    as_user, camille, dominique, velo, jardin, catalog
):
    theirs = actions_requests.create_request(
        jardin,
        catalog["wordpress"],
        domain="blog.jardin.example.org",
        details={},
        message="",
        actor=dominique,
    )
    portal = as_user(camille)
    assert portal.get(reverse("portal:portal_requests:index", args=["A0303"])).status_code == 404
    assert portal.get(ask_url(jardin, catalog["static"])).status_code == 404
    for name in ("detail", "cancel"):
        url = reverse(f"portal:portal_requests:{name}", args=[velo.number, theirs.pk])
        assert portal.post(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == ServiceRequest.Status.PENDING
    index = portal.get(reverse("portal:portal_requests:index", args=[velo.number])).content
    assert "blog.jardin.example.org" not in index.decode()


def test_members_are_written_to_in_french_by_default(
    settings, camille, admin, velo, catalog, django_capture_on_commit_callbacks
):
    settings.RONRON = dataclasses.replace(settings.RONRON, language="fr")
    made = actions_requests.create_request(
        velo,
        catalog["wordpress"],
        domain="blog.velo.example.org",
        details={},
        message="",
        actor=camille,
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        actions_requests.refuse_request(made, reason="Domaine inconnu.", actor=admin)
    [message] = mail.outbox
    assert message.subject == "Votre demande n'a pas été acceptée : WordPress site"
    assert "La raison :\nDomaine inconnu." in message.body
