"""Getting into the portal: an admin invites by e-mail, the person follows the link, creates
an account (or logs in to one) and lands on the member's space; links that expired, were used,
are unknown or reach an admin's account are refused plainly; accesses can be revoked."""

from __future__ import annotations

import hashlib
import re
import socket
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from ronron.core.models import AuditEntry
from ronron.portal.models import Invitation, ManagerAccess
from tests.portal.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://127\.0\.0\.1:8000(/portal/invitation/([A-Za-z0-9_-]+)/)")
NEW_PASSWORD = "Velo-Cargo-Rouge-2025"


def invite(staff_client, member, email: str):
    return staff_client.post(reverse("access:invite", args=[member.pk]), {"email": email})


def mailed_link(email: str) -> tuple[str, str]:
    [message] = [m for m in mail.outbox if email in m.to]
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1), match.group(2)


def create_account(client, path: str, password: str = NEW_PASSWORD, again: str | None = None):
    return client.post(
        path,
        {
            "action": "create",
            "new-password1": password,
            "new-password2": password if again is None else again,
        },
    )


def test_invitation_round_trip_creates_the_account_and_lands_on_the_dashboard(
    client, staff_user, tenant_a
):
    client.force_login(staff_user)
    response = invite(client, tenant_a.member, "  Paul@Amis-Velo.example.org ")
    assert response.status_code == 302
    assert response["Location"].endswith("#portal-access")
    assert (
        "Invitation sent to paul@amis-velo.example.org."
        in client.get(response["Location"]).content.decode()
    )
    client.logout()

    [message] = mail.outbox
    assert message.to == ["paul@amis-velo.example.org"]
    assert "Les Amis du Vélo" in message.subject
    path, token = mailed_link("paul@amis-velo.example.org")
    invitation = Invitation.objects.get(email="paul@amis-velo.example.org")
    # Only the token's SHA-256 is kept, and the token is in no audit row.
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in str(e.after) for e in AuditEntry.objects.all())

    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Create your account" in html and "paul@amis-velo.example.org" in html
    assert page["Cache-Control"] == "no-store"

    response = create_account(client, path)
    dashboard = reverse("portal:dashboard", args=["A0202"])
    assert response.status_code == 302 and response["Location"] == dashboard
    landed = client.get(dashboard)
    assert landed.status_code == 200
    assert "Les Amis du Vélo" in landed.content.decode()
    assert "You now manage the space of Les Amis du Vélo" in landed.content.decode()

    user = get_user_model().objects.get(username="paul@amis-velo.example.org")
    assert not user.is_staff and user.email == "paul@amis-velo.example.org"
    assert ManagerAccess.objects.filter(user=user, member=tenant_a.member).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_by == user and invitation.accepted_at is not None
    actions = set(
        AuditEntry.objects.filter(member_id=tenant_a.member.pk).values_list("action", flat=True)
    )
    assert {
        "portal.invitation_sent",
        "portal.account_created",
        "portal.invitation_accepted",
    } <= actions

    # The link works once.
    client.logout()
    again = client.get(path)
    assert again.status_code == 410
    assert "already accepted" in again.content.decode()


def test_a_logged_in_manager_accepts_with_one_post(client, staff_user, tenant_a, tenant_b):
    client.force_login(staff_user)
    invite(client, tenant_b.member, tenant_a.manager.username)
    path, _token = mailed_link(tenant_a.manager.username)
    client.force_login(tenant_a.manager)

    page = client.get(path)
    assert "Accept the invitation" in page.content.decode()
    assert not ManagerAccess.objects.filter(user=tenant_a.manager, member=tenant_b.member).exists()
    response = client.post(path, {"action": "accept"})

    assert response["Location"] == reverse("portal:dashboard", args=["Z0999"])
    assert ManagerAccess.objects.filter(user=tenant_a.manager, member=tenant_b.member).exists()
    # Two members now: the portal's home offers the choice.
    home = client.get(reverse("portal:home"))
    assert home.status_code == 200
    assert "Les Amis du Vélo" in home.content.decode()
    assert "Zèbres Solidaires" in home.content.decode()


def test_an_existing_account_logs_in_to_accept(client, staff_user, tenant_a, django_user_model):
    django_user_model.objects.create_user(
        username="lea", email="lea@example.org", password=PASSWORD
    )
    client.force_login(staff_user)
    invite(client, tenant_a.member, "lea@example.org")
    client.logout()
    path, _token = mailed_link("lea@example.org")

    wrong = client.post(
        path, {"action": "login", "login-username": "lea", "login-password": "not-it"}
    )
    assert wrong.status_code == 400
    assert "do not match" in wrong.content.decode()
    assert not ManagerAccess.objects.filter(user__username="lea").exists()

    response = client.post(
        path, {"action": "login", "login-username": "lea", "login-password": PASSWORD}
    )
    assert response["Location"] == reverse("portal:dashboard", args=["A0202"])
    assert ManagerAccess.objects.filter(user__username="lea", member=tenant_a.member).exists()
    assert client.get(response["Location"]).status_code == 200


def test_weak_or_mismatched_passwords_create_nothing(client, staff_user, tenant_a):
    client.force_login(staff_user)
    invite(client, tenant_a.member, "new@amis-velo.example.org")
    client.logout()
    path, _token = mailed_link("new@amis-velo.example.org")
    users_before = get_user_model().objects.count()

    weak = create_account(client, path, password="12345678")
    assert weak.status_code == 400
    html = weak.content.decode()
    assert 'id="id_new-password1_error"' in html
    assert "too common" in html or "entirely numeric" in html

    differ = create_account(client, path, again="Velo-Cargo-Bleu-2025")
    assert differ.status_code == 400
    assert 'id="id_new-password2_error"' in differ.content.decode()
    assert "The two passwords differ" in differ.content.decode()

    assert get_user_model().objects.count() == users_before
    assert Invitation.objects.get(email="new@amis-velo.example.org").accepted_at is None


def test_expired_and_unknown_links_are_explained(client, staff_user, tenant_a):
    client.force_login(staff_user)
    invite(client, tenant_a.member, "late@amis-velo.example.org")
    client.logout()
    path, _token = mailed_link("late@amis-velo.example.org")
    Invitation.objects.filter(email="late@amis-velo.example.org").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    expired = client.get(path)
    assert expired.status_code == 410
    assert "This invitation has expired." in expired.content.decode()
    posted = create_account(client, path)
    assert posted.status_code == 410
    assert not get_user_model().objects.filter(username="late@amis-velo.example.org").exists()

    unknown = client.get(reverse("portal:invitation", args=["x" * 43]))
    assert unknown.status_code == 404
    assert "This invitation link is not valid." in unknown.content.decode()


def test_a_staff_account_is_not_turned_into_a_manager(client, staff_user, tenant_a):
    client.force_login(staff_user)
    invite(client, tenant_a.member, "someone@amis-velo.example.org")
    path, _token = mailed_link("someone@amis-velo.example.org")

    # Logged in as staff: explained, and a POST changes nothing.
    page = client.get(path)
    assert page.status_code == 403
    assert "cannot become a member manager" in page.content.decode()
    assert client.post(path, {"action": "accept"}).status_code == 403

    # Logging in to a staff account from the invitation page is refused too.
    client.logout()
    refused = client.post(
        path,
        {"action": "login", "login-username": staff_user.username, "login-password": PASSWORD},
    )
    assert refused.status_code == 400
    assert "admin&#x27;s account" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert not ManagerAccess.objects.filter(user=staff_user).exists()
    assert Invitation.objects.get(email="someone@amis-velo.example.org").accepted_at is None


def test_an_admins_address_cannot_be_invited(staff_client, tenant_a, staff_user):
    staff_user.email = "camille@hoster.example.org"
    staff_user.save()
    response = invite(staff_client, tenant_a.member, "camille@hoster.example.org")
    assert response.status_code == 400
    assert "belongs to an admin" in response.content.decode()
    assert not mail.outbox


def test_a_bad_address_is_shown_next_to_the_field(staff_client, tenant_a):
    before = Invitation.objects.count()
    response = invite(staff_client, tenant_a.member, "pas une adresse\r\nBcc: x@example.org")
    assert response.status_code == 400
    assert 'id="id_email_error"' in response.content.decode()
    assert Invitation.objects.count() == before and not mail.outbox


def test_an_invitation_mail_that_fails_is_recorded_and_shown(staff_client, settings, tenant_a):
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port

    response = invite(staff_client, tenant_a.member, "lost@amis-velo.example.org")

    invitation = Invitation.objects.get(email="lost@amis-velo.example.org")
    assert AuditEntry.objects.filter(
        action="portal.invitation_mail_failed", object_id=str(invitation.pk)
    ).exists()
    page = staff_client.get(response["Location"]).content.decode()
    assert "the message could not be sent" in page
    assert "not sent" in page  # in the managers' panel, next to the invitation


def test_the_member_page_shows_managers_and_invitations(staff_client, tenant_a):
    html = staff_client.get(reverse("members:detail", args=[tenant_a.member.pk])).content.decode()
    assert 'id="portal-access"' in html
    assert tenant_a.manager.username in html
    assert tenant_a.invitation.email in html
    assert reverse("access:invite", args=[tenant_a.member.pk]) in html


def test_cancel_revoke_and_helper(staff_client, client, tenant_a):
    response = staff_client.post(reverse("access:cancel", args=[tenant_a.invitation.pk]))
    assert response.status_code == 302
    tenant_a.invitation.refresh_from_db()
    assert tenant_a.invitation.expires_at <= timezone.now()

    staff_client.post(reverse("access:helper", args=[tenant_a.access.pk]), {"is_helper": "1"})
    tenant_a.access.refresh_from_db()
    assert tenant_a.access.is_helper
    staff_client.post(reverse("access:helper", args=[tenant_a.access.pk]), {"is_helper": "0"})
    tenant_a.access.refresh_from_db()
    assert not tenant_a.access.is_helper

    response = staff_client.post(reverse("access:revoke", args=[tenant_a.access.pk]))
    assert response.status_code == 302
    assert not ManagerAccess.objects.filter(pk=tenant_a.access.pk).exists()
    actions = list(
        AuditEntry.objects.filter(action__startswith="portal.").values_list("action", flat=True)
    )
    assert {"portal.invitation_cancelled", "portal.helper_changed", "portal.access_revoked"} <= set(
        actions
    )

    # The revoked manager's account stays, but the member's space is closed to it.
    staff_client.logout()
    client.force_login(tenant_a.manager)
    assert client.get(reverse("portal:dashboard", args=["A0202"])).status_code == 404
    home = client.get(reverse("portal:home"))
    assert "does not manage any member yet" in home.content.decode()


def test_managers_cannot_use_the_console_buttons(manager_a, tenant_a):
    for name, args in [
        ("access:invite", [tenant_a.member.pk]),
        ("access:revoke", [tenant_a.access.pk]),
        ("access:helper", [tenant_a.access.pk]),
        ("access:cancel", [tenant_a.invitation.pk]),
    ]:
        assert (
            manager_a.post(reverse(name, args=args), {"email": "x@example.org"}).status_code == 403
        )
    assert ManagerAccess.objects.filter(pk=tenant_a.access.pk, is_helper=False).exists()


def test_who_gets_in_where(client, tenant_a, staff_user):
    dashboard = reverse("portal:dashboard", args=["A0202"])
    # Anonymous: to the login page, coming back afterwards.
    response = client.get(dashboard)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('core:login')}?next={dashboard}"
    # A manager on the console: refused, nothing shown.
    client.force_login(tenant_a.manager)
    for name in ("core:dashboard", "members:list", "jobs:list"):
        refused = client.get(reverse(name))
        assert refused.status_code == 403
        assert "Les Amis du Vélo" not in refused.content.decode()
    # Staff in the portal: not a manager, so no member's space.
    client.force_login(staff_user)
    assert client.get(dashboard).status_code == 404
    assert "console" in client.get(reverse("portal:home")).content.decode()


def test_a_manager_logging_in_lands_on_the_portal(client, tenant_a):
    response = client.post(
        reverse("core:login"),
        {"username": tenant_a.manager.username, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert client.get(response["Location"])["Location"] == reverse(
        "portal:dashboard", args=["A0202"]
    )
