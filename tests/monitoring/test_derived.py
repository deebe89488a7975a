"""Checks derived from services: made for web sites, lists and cloud spaces, kept in step when a
domain changes, disabled (history kept) when a service is suspended or removed, and a second
run changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ronron.members import actions as members
from ronron.monitoring.derived import sync_derived_checks
from ronron.monitoring.models import Check, StateChange
from ronron.services.actions import (
    record_removal,
    remove_service,
    resume_service,
    suspend_service,
)
from ronron.services.models import Service

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
NOTHING = {"created": 0, "updated": 0, "disabled": 0}


@pytest.fixture
def velo():
    return members.create_member(
        actor=None, number="A0001", kind="association", name="Vélo", joined_on=date(2020, 1, 1)
    )


def service(member, kind: str, domain: str, *, managed: bool = True, **spec) -> Service:
    family = {"list": "lists", "cloud": "cloud"}.get(kind, "web")
    return Service.objects.create(
        member=member, kind=kind, family=family, managed=managed, domain=domain, spec=spec
    )


def derived() -> dict[tuple[str, str], tuple]:
    """(domain, purpose) → what matters of each derived check."""
    return {
        (check.service.domain, check.purpose): (
            check.kind,
            check.target,
            check.name,
            check.enabled,
            check.member_id,
        )
        for check in Check.objects.filter(service__isnull=False).select_related("service")
    }


def snapshot() -> list[tuple]:
    return list(Check.objects.order_by("pk").values_list())


def test_checks_are_made_from_sites_lists_and_cloud_spaces(velo) -> None:
    service(velo, "wordpress", "monasso.fr")
    service(velo, "static", "xn--caf-dma.fr")  # café.fr
    service(velo, "static", "plain.example", tls=False)
    service(velo, "list", "adherents@listes.example.org")
    service(velo, "cloud", "cloud.monasso.fr")
    service(velo, "wordpress", "ailleurs.example", managed=False)  # external: not ours to watch
    service(velo, "mailbox", "mail.monasso.fr")  # no derived check for this kind

    assert sync_derived_checks(NOW) == {"created": 7, "updated": 0, "disabled": 0}
    assert derived() == {
        ("monasso.fr", "https"): ("http", "https://monasso.fr/", "monasso.fr — web site", True,
                                  velo.pk),
        ("monasso.fr", "certificate"): ("certificate", "monasso.fr", "monasso.fr — certificate",
                                        True, velo.pk),
        ("xn--caf-dma.fr", "https"): ("http", "https://xn--caf-dma.fr/", "café.fr — web site",
                                      True, velo.pk),
        ("xn--caf-dma.fr", "certificate"): ("certificate", "xn--caf-dma.fr",
                                            "café.fr — certificate", True, velo.pk),
        ("plain.example", "https"): ("http", "http://plain.example/", "plain.example — web site",
                                     True, velo.pk),
        ("adherents@listes.example.org", "web"): (
            "http", "https://listes.example.org/sympa",
            "adherents@listes.example.org — list web interface", True, velo.pk,
        ),
        ("cloud.monasso.fr", "web"): ("http", "https://cloud.monasso.fr/",
                                      "cloud.monasso.fr — cloud", True, velo.pk),
    }  # fmt: skip
    assert all(check.status == "unknown" for check in Check.objects.all())

    # Idempotent: a second run finds everything in step and writes nothing.
    before = snapshot()
    assert sync_derived_checks(NOW + timedelta(minutes=5)) == NOTHING
    assert snapshot() == before


def test_a_changed_domain_or_tls_is_followed_on_the_same_check(velo) -> None:
    site = service(velo, "static", "monasso.fr")
    listing = service(velo, "list", "info@listes.example.org")
    sync_derived_checks(NOW)
    https = Check.objects.get(service=site, purpose="https")
    StateChange.objects.create(endpoint=https, at=NOW, status="up")

    Service.objects.filter(pk=site.pk).update(domain="nouveau.fr")
    Service.objects.filter(pk=listing.pk).update(domain="info@lists.example.net")
    assert sync_derived_checks(NOW) == {"created": 0, "updated": 3, "disabled": 0}
    https.refresh_from_db()
    assert (https.target, https.name) == ("https://nouveau.fr/", "nouveau.fr — web site")
    assert https.changes.count() == 1  # the same check, its history with it
    assert derived()[("info@lists.example.net", "web")][1] == "https://lists.example.net/sympa"
    assert sync_derived_checks(NOW) == NOTHING

    # HTTPS turned off: plain HTTP, and the certificate check stops.
    Service.objects.filter(pk=site.pk).update(spec={"tls": False})
    assert sync_derived_checks(NOW) == {"created": 0, "updated": 1, "disabled": 1}
    assert derived()[("nouveau.fr", "https")][1] == "http://nouveau.fr/"
    assert derived()[("nouveau.fr", "certificate")][3] is False
    assert sync_derived_checks(NOW) == NOTHING


def test_suspended_or_removed_services_have_their_checks_disabled_not_deleted(velo) -> None:
    site = service(velo, "wordpress", "monasso.fr")
    cloud = service(velo, "cloud", "cloud.monasso.fr")
    sync_derived_checks(NOW)
    https = Check.objects.get(service=site, purpose="https")
    Check.objects.filter(pk=https.pk).update(status="down", consecutive_failures=4, alert_open=True)
    StateChange.objects.create(endpoint=https, at=NOW - timedelta(days=1), status="up")
    StateChange.objects.create(endpoint=https, at=NOW - timedelta(hours=1), status="down")

    suspend_service(site, actor=None)
    assert sync_derived_checks(NOW) == {"created": 0, "updated": 0, "disabled": 2}
    https.refresh_from_db()
    assert not https.enabled and https.status == "unknown" and not https.alert_open
    # History kept, and from now on its state is unknown (not counted as up or down).
    assert list(https.changes.order_by("at").values_list("status", flat=True)) == [
        "up",
        "down",
        "unknown",
    ]
    assert sync_derived_checks(NOW) == NOTHING
    assert StateChange.objects.filter(endpoint=https).count() == 3

    resume_service(site, actor=None)
    assert sync_derived_checks(NOW) == {"created": 0, "updated": 2, "disabled": 0}
    assert Check.objects.get(pk=https.pk).enabled

    remove_service(cloud, actor=None)  # asked for: no longer watched
    assert sync_derived_checks(NOW) == {"created": 0, "updated": 0, "disabled": 1}
    record_removal(cloud, archive_path="/archives/cloud.tar.gz")
    assert sync_derived_checks(NOW) == NOTHING
    assert Check.objects.filter(service=cloud, enabled=False).count() == 1


def test_a_name_that_does_not_validate_gets_no_check(velo) -> None:
    service(velo, "static", "not a domain")
    service(velo, "list", "broken@")
    assert sync_derived_checks(NOW) == NOTHING
    assert not Check.objects.exists()
