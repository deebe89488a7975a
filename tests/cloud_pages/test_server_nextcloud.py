"""The Nextcloud part of a server's page: how Ronron logs into it, the password never shown
back, nothing stored that Nextcloud did not accept, and the stop after a refused login."""

from __future__ import annotations

import socket

import pytest
from django.urls import reverse

from ronron.fleet.actions import create_server
from ronron.fleet.nextcloud_access import access_of, record_refusal, set_nextcloud_access
from tests.cloud_pages.conftest import page

pytestmark = pytest.mark.django_db

APP_PASSWORD = "Kx7qp-Zr2mW-aB9cd-Ef3gh-Ij4kl"


def silent_url() -> str:
    """The address of a port nothing listens on (taken, then freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_only_a_cloud_server_has_a_nextcloud_section(console, cloud1):
    create_server(actor=None, name="web1", roles=["web"])
    assert "How Ronron logs into this Nextcloud" not in page(
        console.get(reverse("fleet:detail", args=["web1"]))
    )
    text = page(console.get(reverse("fleet:detail", args=["cloud1"])))
    assert "How Ronron logs into this Nextcloud" in text
    assert "not given yet" in text


def test_a_nextcloud_that_does_not_answer_is_said_and_nothing_is_stored(console, cloud1):
    response = console.post(
        reverse("fleet:nextcloud", args=["cloud1"]),
        {"url": silent_url(), "user": "ronron", "password": APP_PASSWORD},
    )
    assert response.status_code == 400
    assert "Nextcloud could not be asked" in " ".join(
        response.context["nextcloud_form"].errors["url"]
    )
    assert APP_PASSWORD not in page(response)
    assert access_of(cloud1) is None
    cloud1.refresh_from_db()
    assert "nextcloud_url" not in (cloud1.layout or {})


def test_a_recorded_password_is_never_shown_and_an_empty_field_keeps_it(console, cloud1):
    set_nextcloud_access(
        cloud1, actor=None, url="https://cloud.example.org", user="ronron", password=APP_PASSWORD,
        check=False,
    )  # fmt: skip
    text = page(console.get(reverse("fleet:detail", args=["cloud1"])))
    assert APP_PASSWORD not in text
    assert "recorded (never shown)" in text
    assert 'value="ronron"' in text and 'value="https://cloud.example.org"' in text
    assert "Leave this empty to keep it" in text

    # Empty: the recorded password is used to ask Nextcloud (which does not answer here).
    response = console.post(
        reverse("fleet:nextcloud", args=["cloud1"]),
        {"url": silent_url(), "user": "ronron", "password": ""},
    )
    assert response.status_code == 400
    assert "password" not in response.context["nextcloud_form"].errors
    assert APP_PASSWORD not in page(response)
    assert access_of(cloud1).url == "https://cloud.example.org"


def test_after_a_refused_login_the_page_warns_and_asks_for_a_new_password(console, cloud1):
    set_nextcloud_access(
        cloud1, actor=None, url="https://cloud.example.org", user="ronron", password=APP_PASSWORD,
        check=False,
    )  # fmt: skip
    record_refusal(cloud1)
    text = page(console.get(reverse("fleet:detail", args=["cloud1"])))
    assert "Nextcloud refused Ronron's login (ronron)" in text
    assert "Ronron stopped calling this Nextcloud" in text
    assert "save it below: that lifts the stop" in text

    # Saving without a new password would ask again with the refused one: not done.
    response = console.post(
        reverse("fleet:nextcloud", args=["cloud1"]),
        {"url": "https://cloud.example.org", "user": "ronron", "password": ""},
    )
    assert response.status_code == 400
    assert "give a new app password" in " ".join(
        response.context["nextcloud_form"].errors["password"]
    )
    assert access_of(cloud1).refused_at


def test_a_new_password_is_required_when_none_is_recorded(console, cloud1):
    response = console.post(
        reverse("fleet:nextcloud", args=["cloud1"]),
        {"url": "https://cloud.example.org", "user": "ronron", "password": ""},
    )
    assert response.status_code == 400
    assert "password" in response.context["nextcloud_form"].errors
    assert access_of(cloud1) is None
