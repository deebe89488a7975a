"""The mutual-help queue: a member's manager asks, admins (console) and volunteer helpers
(portal) answer, the conversation and its history are kept, mail tells each side. Helpers see
the help requests and nothing else of other members."""

from __future__ import annotations

import socket

import pytest
from django.core import mail
from django.urls import reverse

from ronron.core.models import AuditEntry
from ronron.portal.models import HelpMessage, HelpRequest
from ronron.services import actions as service_actions

pytestmark = pytest.mark.django_db


@pytest.fixture
def velo_site(velo, web1):
    return service_actions.request_service(
        velo, actor=None, kind="static", domain="velo.example.org", server=web1
    )


@pytest.fixture
def jardin_site(jardin, web1):
    return service_actions.request_service(
        jardin, actor=None, kind="static", domain="jardin.example.org", server=web1
    )


def ask(
    client, member, *, subject="Notre site affiche une erreur", body="Depuis hier.", service=""
):
    return client.post(
        reverse("portal:portal_help:new", args=[member.number]),
        {"subject": subject, "body": body, "service": str(service)},
        follow=True,
    )


@pytest.fixture
def question(as_user, camille, velo, velo_site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ask(as_user(camille), velo, service=velo_site.pk)
    mail.outbox.clear()
    return HelpRequest.objects.get()


def test_a_manager_asks_for_help_and_the_admins_are_told(
    as_user, camille, velo, velo_site, django_capture_on_commit_callbacks
):
    portal = as_user(camille)
    form = portal.get(reverse("portal:portal_help:new", args=[velo.number])).content.decode()
    assert "velo.example.org" in form
    with django_capture_on_commit_callbacks(execute=True):
        response = ask(portal, velo, service=velo_site.pk)
    help_request = HelpRequest.objects.get()
    assert response.redirect_chain[-1][0] == reverse(
        "portal:portal_help:detail", args=[velo.number, help_request.pk]
    )
    page = response.content.decode()
    assert "Your question is sent" in page and "Depuis hier." in page
    assert "Waiting for an answer" in page
    assert (help_request.member, help_request.service, help_request.opened_by) == (
        velo,
        velo_site,
        camille,
    )
    assert HelpMessage.objects.get().author_name == "camille.velo"
    [notice] = mail.outbox
    assert notice.to == ["bureau@lepic.example.org"]
    assert (
        "Les Amis du Vélo" in notice.subject and "Notre site affiche une erreur" in notice.subject
    )
    assert reverse("desk:help_detail", args=[help_request.pk]) in notice.body
    assert AuditEntry.objects.filter(action="help.opened", member_id=velo.pk).count() == 1


def test_admins_with_an_address_are_told_too(
    as_user, admin, camille, velo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ask(as_user(camille), velo)
    [notice] = mail.outbox
    assert sorted(notice.to) == ["admin@lepic.example.org", "bureau@lepic.example.org"]


def test_a_question_needs_a_subject_and_only_the_members_own_services(
    as_user, camille, velo, jardin_site
):
    portal = as_user(camille)
    response = ask(portal, velo, subject="", service=jardin_site.pk)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_subject_error"' in page and 'id="id_service_error"' in page
    assert "jardin.example.org" not in page
    response = ask(portal, velo, subject="Une\r\nligne")
    assert response.status_code == 400
    assert not HelpRequest.objects.exists()


def test_an_admin_takes_and_answers_and_the_member_is_mailed(
    as_user, admin, camille, velo, question, django_capture_on_commit_callbacks
):
    console = as_user(admin)
    queue = console.get(reverse("desk:help_queue")).content.decode()
    assert "Notre site affiche une erreur" in queue and "A0202" in queue
    console.post(reverse("desk:help_take", args=[question.pk]))
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            reverse("desk:help_answer", args=[question.pk]),
            {"body": "Le certificat est renouvelé, réessayez."},
            follow=True,
        )
    assert "Your answer is sent" in response.content.decode()
    question.refresh_from_db()
    assert (question.status, question.assigned_to) == (HelpRequest.Status.ANSWERED, admin)
    [message] = mail.outbox
    assert message.to == ["camille.velo@example.org"]
    assert "Notre site affiche une erreur" in message.subject
    assert "Le certificat est renouvelé, réessayez." in message.body
    assert reverse("portal:portal_help:detail", args=[velo.number, question.pk]) in message.body

    page = as_user(camille).get(
        reverse("portal:portal_help:detail", args=[velo.number, question.pk])
    )
    text = page.content.decode()
    assert "Le certificat est renouvelé, réessayez." in text
    assert "admin is taking care of it." in text
    assert "Answered, waiting for the member" in text


def test_a_volunteer_helper_answers_from_the_portal(
    as_user, dominique, camille, velo, question, django_capture_on_commit_callbacks
):
    helper = as_user(dominique)
    queue = helper.get(reverse("portal:helpers:queue"))
    assert queue.status_code == 200
    assert "Notre site affiche une erreur" in queue.content.decode()
    assert "Les Amis du Vélo" in queue.content.decode()

    detail = reverse("portal:helpers:detail", args=[question.pk])
    page = helper.get(detail).content.decode()
    assert "Depuis hier." in page and "A0202" in page and "velo.example.org" in page
    # The help request, and nothing else of the member: no contact, no address, no dues.
    for private in ("tech@a0202.example.org", "camille.velo@example.org", "31520", "Ramonville"):
        assert private not in page

    helper.post(reverse("portal:helpers:take", args=[question.pk]))
    with django_capture_on_commit_callbacks(execute=True):
        helper.post(
            reverse("portal:helpers:answer", args=[question.pk]),
            {"body": "Videz le cache de votre navigateur."},
        )
    question.refresh_from_db()
    assert (question.status, question.assigned_to) == (HelpRequest.Status.ANSWERED, dominique)
    [message] = mail.outbox
    assert message.to == ["camille.velo@example.org"]
    assert "dominique.jardin" in message.body
    mail.outbox.clear()

    # The member writes again: the helper who took it hears of it.
    with django_capture_on_commit_callbacks(execute=True):
        as_user(camille).post(
            reverse("portal:portal_help:reply", args=[velo.number, question.pk]),
            {"body": "Toujours pareil."},
        )
    question.refresh_from_db()
    assert question.status == HelpRequest.Status.OPEN
    [message] = mail.outbox
    assert message.to == ["dominique.jardin@example.org"]
    assert reverse("portal:helpers:detail", args=[question.pk]) in message.body

    response = as_user(dominique).post(
        reverse("portal:helpers:close", args=[question.pk]), follow=True
    )
    assert "The request is closed" in response.content.decode()
    question.refresh_from_db()
    assert question.status == HelpRequest.Status.CLOSED


def test_the_member_closes_and_reopens_and_the_history_is_kept(
    as_user, camille, admin, velo, question
):
    portal = as_user(camille)
    detail = reverse("portal:portal_help:detail", args=[velo.number, question.pk])
    portal.post(reverse("portal:portal_help:close", args=[velo.number, question.pk]))
    question.refresh_from_db()
    assert question.status == HelpRequest.Status.CLOSED
    page = portal.get(detail).content.decode()
    assert "Reopen the request" in page and "Write a message" not in page
    # A closed request takes no message until it is reopened.
    response = portal.post(
        reverse("portal:portal_help:reply", args=[velo.number, question.pk]), {"body": "Encore"}
    )
    assert response.status_code == 400
    assert "Reopen it to write again" in response.content.decode()

    portal.post(reverse("portal:portal_help:reopen", args=[velo.number, question.pk]))
    portal.post(
        reverse("portal:portal_help:reply", args=[velo.number, question.pk]),
        {"body": "Finalement, ça recommence."},
    )
    question.refresh_from_db()
    assert question.status == HelpRequest.Status.OPEN
    page = portal.get(detail).content.decode()
    assert "camille.velo closed the request." in page
    assert "camille.velo reopened the request." in page
    assert "Finalement, ça recommence." in page
    actions = list(
        AuditEntry.objects.filter(object_type="portal.helprequest")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["help.opened", "help.closed", "help.reopened", "help.member_replied"]
    assert question.messages.count() == 2


def test_a_helper_cannot_open_another_members_pages(as_user, dominique, velo, jardin, question):
    helper = as_user(dominique)
    for url in (
        reverse("portal:dashboard", args=[velo.number]),
        reverse("portal:services", args=[velo.number]),
        reverse("portal:contacts", args=[velo.number]),
        reverse("portal:portal_help:index", args=[velo.number]),
        reverse("portal:portal_help:detail", args=[velo.number, question.pk]),
        reverse("portal:portal_requests:index", args=[velo.number]),
    ):
        assert helper.get(url).status_code == 404, url
    # Its own member's space is as for any manager: its data, and no other member's.
    dashboard = helper.get(reverse("portal:dashboard", args=[jardin.number]))
    assert dashboard.status_code == 200
    assert "Les Amis du Vélo" not in dashboard.content.decode()
    # Its own member's help pages do not list other members' questions either.
    own = helper.get(reverse("portal:portal_help:index", args=[jardin.number])).content.decode()
    assert "Notre site affiche une erreur" not in own
    assert (
        helper.get(
            reverse("portal:portal_help:detail", args=[jardin.number, question.pk])
        ).status_code
        == 404
    )


def test_only_volunteer_helpers_see_the_queue(as_user, client, camille, admin, question):
    urls = [reverse("portal:helpers:queue"), reverse("portal:helpers:detail", args=[question.pk])]
    for url in urls:
        assert as_user(camille).get(url).status_code == 403
        assert as_user(camille).post(url + "answer/", {"body": "x"}).status_code in (403, 404)
        # Admins answer from the console.
        assert as_user(admin).get(url).status_code == 403
    client.logout()
    assert client.get(urls[0]).status_code == 302
    assert (
        as_user(camille)
        .post(reverse("portal:helpers:answer", args=[question.pk]), {"body": "x"})
        .status_code
        == 403
    )
    assert question.messages.count() == 1


def test_a_message_that_cannot_be_sent_is_recorded_and_the_answer_kept(
    settings, as_user, admin, question, django_capture_on_commit_callbacks
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port
    with django_capture_on_commit_callbacks(execute=True):
        as_user(admin).post(
            reverse("desk:help_answer", args=[question.pk]), {"body": "Voici la réponse."}
        )
    question.refresh_from_db()
    assert question.status == HelpRequest.Status.ANSWERED
    entry = AuditEntry.objects.get(action="mail.not_sent")
    assert entry.after["message"] == "help.answered"
    assert entry.after["to"] == ["camille.velo@example.org"]
