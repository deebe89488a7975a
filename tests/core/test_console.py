"""The staff console as its users meet it: login, second factor, who may see what, pages."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ronron.core.models import AuditEntry
from ronron.core.views import PENDING_KEY
from ronron.jobs.models import Job
from ronron.members import actions
from ronron.members.models import Member, Theme
from tests.core.helpers import foreign_urls, make_member

PASSWORD = "un-mot-de-passe-solide"


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    token = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + steps_ahead)
    return f"{token:0{device.digits}d}"


def login(client, username: str = "camille", password: str = PASSWORD, next_url: str = ""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("core:login"), data)


@pytest.fixture
def file(staff_user):
    """One of everything a console URL can name."""
    member = make_member(actor=staff_user, number="A0001")
    contact = actions.add_contact(
        member, actor=staff_user, name="Alex Martin", email="alex@example.org", roles=["tech"]
    )
    membership = actions.call_dues(member, actor=staff_user, year=date.today().year)
    theme = Theme.objects.get(slug="velo")
    job = Job.objects.create(kind="import", label="Import test", created_by=staff_user)
    return {
        "member": member,
        "contact": contact,
        "membership": membership,
        "theme": theme,
        "job": job,
    }


def console_urls(f: dict) -> list[str]:
    m, c, ms = f["member"].pk, f["contact"].pk, f["membership"].pk
    return [
        reverse("core:dashboard"),
        reverse("core:otp_setup"),
        reverse("members:list"),
        reverse("members:create"),
        reverse("members:dues"),
        reverse("members:themes"),
        reverse("members:theme_rename", args=[f["theme"].pk]),
        reverse("members:theme_delete", args=[f["theme"].pk]),
        reverse("members:detail", args=[m]),
        reverse("members:edit", args=[m]),
        reverse("members:approve", args=[m]),
        reverse("members:admit", args=[m]),
        reverse("members:departure_notice", args=[m]),
        reverse("members:departure", args=[m]),
        reverse("members:contact_add", args=[m]),
        reverse("members:contact_edit", args=[m, c]),
        reverse("members:contact_remove", args=[m, c]),
        reverse("members:membership_add", args=[m]),
        reverse("members:membership_edit", args=[m, ms]),
        reverse("members:payment", args=[m, ms]),
        reverse("jobs:list"),
        reverse("jobs:detail", args=[f["job"].pk]),
    ]


# -- login and logout --------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_then_dashboard_then_logout(client, staff_user):
    page = client.get(reverse("core:login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content

    response = login(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("core:dashboard")
    assert client.get(reverse("core:dashboard")).status_code == 200

    assert client.get(reverse("core:logout")).status_code == 405  # a link cannot log you out
    response = client.post(reverse("core:logout"))
    assert response.status_code == 302
    assert client.get(reverse("core:dashboard")).status_code == 302


@pytest.mark.django_db
def test_wrong_password_is_explained_and_does_not_log_in(client, staff_user):
    response = login(client, password="pas-le-bon")
    assert response.status_code == 200
    assert b"do not match" in response.content
    assert client.get(reverse("core:dashboard")).status_code == 302


@pytest.mark.django_db
def test_login_goes_back_to_the_page_asked_for(client, staff_user):
    target = reverse("members:list")
    response = client.get(target)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("core:login"))
    response = login(client, next_url=target)
    assert response["Location"] == target


@pytest.mark.django_db
def test_login_refuses_an_account_that_is_not_staff(client, django_user_model):
    django_user_model.objects.create_user(username="dominique", password=PASSWORD)
    response = login(client, username="dominique")
    assert response.status_code == 200
    assert b"cannot use the console" in response.content


# -- second factor -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_totp_setup_shows_a_qr_code_and_confirms_with_a_first_code(client, staff_user):
    client.force_login(staff_user)
    page = client.get(reverse("core:otp_setup"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and 'class="secret"' in html
    key = client.session[PENDING_KEY]
    pending = TOTPDevice(user=staff_user, key=key)

    response = client.post(reverse("core:otp_setup"), {"token": "000000"})
    assert response.status_code == 200
    assert b"not the right one" in response.content
    assert not TOTPDevice.objects.filter(user=staff_user).exists()

    response = client.post(reverse("core:otp_setup"), {"token": code_for(pending)})
    assert response.status_code == 302
    device = TOTPDevice.objects.get(user=staff_user)
    assert device.confirmed
    entry = AuditEntry.objects.get(action="account.totp_confirmed")
    assert entry.actor == staff_user
    assert key not in str(entry.after)  # the secret never reaches the audit trail
    # The session that set it up is verified: the console stays open.
    assert client.get(reverse("core:dashboard")).status_code == 200


@pytest.mark.django_db
def test_a_user_with_a_device_needs_the_code_after_the_password(client, staff_user, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code then a right one, without waiting
    device = TOTPDevice.objects.create(user=staff_user, name="default", confirmed=True)

    response = login(client, next_url=reverse("members:list"))
    verify_url = reverse("core:otp_verify")
    assert response.status_code == 302
    assert response["Location"].startswith(verify_url)

    for url in (reverse("core:dashboard"), reverse("members:list"), reverse("jobs:list")):
        blocked = client.get(url)
        assert blocked.status_code == 302, url
        assert blocked["Location"].startswith(verify_url), url

    wrong = client.post(verify_url, {"token": "123456", "next": reverse("members:list")})
    assert wrong.status_code == 200
    assert b"not the right one" in wrong.content
    assert client.get(reverse("core:dashboard")).status_code == 302

    right = client.post(verify_url, {"token": code_for(device), "next": reverse("members:list")})
    assert right.status_code == 302
    assert right["Location"] == reverse("members:list")
    assert client.get(reverse("core:dashboard")).status_code == 200


@pytest.mark.django_db
def test_removing_the_device_needs_the_password_and_is_audited(client, staff_user):
    client.force_login(staff_user)
    client.get(reverse("core:otp_setup"))
    pending = TOTPDevice(user=staff_user, key=client.session[PENDING_KEY])
    client.post(reverse("core:otp_setup"), {"token": code_for(pending)})
    assert TOTPDevice.objects.filter(user=staff_user).exists()

    response = client.post(reverse("core:otp_remove"), {"password": "pas-le-bon"})
    assert response.status_code == 200
    assert b"not your password" in response.content
    assert TOTPDevice.objects.filter(user=staff_user).exists()

    response = client.post(reverse("core:otp_remove"), {"password": PASSWORD})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=staff_user).exists()
    assert AuditEntry.objects.filter(action="account.totp_removed", actor=staff_user).exists()

    # Without a device, a new login goes straight in.
    client.post(reverse("core:logout"))
    assert login(client)["Location"] == reverse("core:dashboard")


# -- who may see what --------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_the_login_page_everywhere(client, file):
    for url in console_urls(file):
        for response in (client.get(url), client.post(url, {})):
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("core:login")), url
    response = client.post(reverse("core:otp_remove"), {"password": "x"})
    assert response["Location"].startswith(reverse("core:login"))


@pytest.mark.django_db
def test_accounts_that_are_not_staff_are_refused_everywhere(client, file, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="dominique"))
    for url in console_urls(file):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {}).status_code == 403, url
    assert client.post(reverse("core:otp_remove"), {"password": "x"}).status_code == 403
    before = AuditEntry.objects.count()
    client.post(reverse("members:themes"), {"new-name": "Intrusion"})
    assert AuditEntry.objects.count() == before


# -- the pages themselves ----------------------------------------------------------------------


@pytest.mark.django_db
def test_every_page_is_served_by_ronron_alone_under_a_strict_policy(client, staff_user, file):
    pages = []
    pages.append(client.get(reverse("core:login")))
    client.force_login(staff_user)
    pages += [client.get(url) for url in console_urls(file)]
    TOTPDevice.objects.create(user=staff_user, name="default", confirmed=True)
    client.force_login(staff_user)
    pages.append(client.get(reverse("core:otp_verify")))
    for response in pages:
        url = response.wsgi_request.path
        assert response.status_code == 200, url
        html = response.content.decode()
        assert foreign_urls(html) == [], url
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, url
        # The policy forbids inline styles and scripts: none may be written in the first place.
        assert "style=" not in html, url
        assert "<script" not in html and "<style" not in html, url


def test_the_third_party_scan_catches_what_it_should():
    html = (
        '<link href="https://fonts.example.net/a.css"><img src="//cdn.example.com/x.png">'
        '<a href="http://testserver/members/">ok</a><a href="/jobs/">ok</a>'
    )
    assert foreign_urls(html) == ["https://fonts.example.net/a.css", "//cdn.example.com/x.png"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "amount", "day"),
    [("fr", "30,00", "1 mars 2020"), ("en", "30.00", "March 1, 2020")],
)
def test_every_page_renders_in_french_and_english(client, staff_user, file, language, amount, day):
    client.force_login(staff_user)
    for url in console_urls(file):
        response = client.get(url, headers={"accept-language": language})
        assert response.status_code == 200, url
        assert f'<html lang="{language}">'.encode() in response.content, url
    member_page = client.get(
        reverse("members:detail", args=[file["member"].pk]), headers={"accept-language": language}
    ).content.decode()
    assert f"{amount}\u00a0€" in member_page
    assert day in member_page  # the member joined on 2020-03-01


@pytest.mark.django_db
def test_the_language_switch_changes_the_language(client, staff_user):
    client.force_login(staff_user)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/members/"})
    assert response.status_code == 302
    assert b'<html lang="en">' in client.get(reverse("members:list")).content
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert b'<html lang="fr">' in client.get(reverse("members:list")).content


@pytest.mark.django_db
def test_dashboard_counts_members_and_dues(client, staff_user, file):
    other = make_member(actor=staff_user, number="A0002", name="Café associatif")
    actions.record_payment(
        actions.call_dues(other, actor=staff_user, year=date.today().year),
        actor=staff_user,
        paid_on=date.today(),
        method="cheque",
    )
    client.force_login(staff_user)
    response = client.get(reverse("core:dashboard"))
    assert response.status_code == 200
    statuses = {s["value"]: s["count"] for s in response.context["statuses"]}
    assert statuses["member"] == 2
    assert response.context["dues"]["paid"] == 1
    assert "Café associatif" in response.content.decode()  # among the latest changes


@pytest.mark.django_db
def test_the_login_page_needs_no_account(client):
    response = client.get(reverse("core:login"))
    assert response.status_code == 200
    assert get_user_model().objects.count() == 0


def test_the_api_asks_for_the_second_factor_too(client, staff_user, settings):
    """A session past the password but not the code opens neither the console nor the API."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device = TOTPDevice.objects.create(user=staff_user, name="default", confirmed=True)
    login(client)
    members = reverse("api:member-list")
    assert client.get(members).status_code == 403
    created = client.post(
        members,
        {"number": "A9999", "kind": "association", "name": "Intrus"},
        content_type="application/json",
    )
    assert created.status_code == 403
    assert not Member.objects.filter(number="A9999").exists()

    client.post(reverse("core:otp_verify"), {"token": code_for(device)})
    assert client.get(members).status_code == 200
