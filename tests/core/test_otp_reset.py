"""A lost phone: an administrator turns two-step login off, from the server, audited."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from ronron.core import actions
from ronron.core.models import AuditEntry
from tests.core.test_console import login


@pytest.mark.django_db
def test_reset_second_factor_removes_the_devices_and_is_audited(staff_user, django_user_model):
    other = django_user_model.objects.create_user(username="dominique", is_staff=True)
    TOTPDevice.objects.create(user=staff_user, name="default", confirmed=True)
    TOTPDevice.objects.create(user=other, name="default", confirmed=True)

    assert actions.reset_second_factor(staff_user, actor=other) == 1

    assert not TOTPDevice.objects.filter(user=staff_user).exists()
    assert TOTPDevice.objects.filter(user=other).exists()
    entry = AuditEntry.objects.get(action="account.totp_reset")
    assert entry.actor == other
    assert entry.object_repr == "camille"
    # The secret never reaches the audit trail.
    device_key = TOTPDevice.objects.get(user=other).key
    assert device_key not in str(entry.before)

    # Nothing to remove: nothing recorded.
    assert actions.reset_second_factor(staff_user, actor=other) == 0
    assert AuditEntry.objects.filter(action="account.totp_reset").count() == 1


@pytest.mark.django_db
def test_otp_reset_command_lets_the_user_log_in_with_the_password_again(client, staff_user):
    TOTPDevice.objects.create(user=staff_user, name="default", confirmed=True)
    response = login(client)
    assert response["Location"].startswith(reverse("core:otp_verify"))
    page = client.get(reverse("core:otp_verify"))
    assert b"ronron otp_reset camille" in page.content
    client.logout()

    out = io.StringIO()
    call_command("otp_reset", "camille", stdout=out)
    assert "Two-step login is off for camille" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=staff_user).exists()
    entry = AuditEntry.objects.get(action="account.totp_reset")
    assert entry.actor is None and entry.object_repr == "camille"

    response = login(client)
    assert response.status_code == 302
    assert client.get(reverse("core:dashboard")).status_code == 200

    out = io.StringIO()
    call_command("otp_reset", "camille", stdout=out)
    assert "nothing to do" in out.getvalue()


@pytest.mark.django_db
def test_otp_reset_command_names_an_unknown_user():
    with pytest.raises(CommandError, match="No user called personne"):
        call_command("otp_reset", "personne")
