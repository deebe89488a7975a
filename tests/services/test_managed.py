"""Managed services in the truth: request, suspend, resume, remove — validated and audited.

Nothing here touches a server: the reconciler makes the truth real (tests/drivers, tests/reconcile).
"""

import pytest
from django.core.exceptions import ValidationError

from ronron.core.models import AuditEntry
from ronron.fleet.models import Server
from ronron.services import actions
from ronron.services.credentials import secret
from ronron.services.models import Service

pytestmark = pytest.mark.django_db


def test_request_a_static_site_records_it_with_a_system_name(member, web1, staff_user):
    service = actions.request_service(
        member, actor=staff_user, kind="static", domain="Vélo.Example.org", server=web1
    )
    assert (service.managed, service.family, service.server) == (True, "web", web1)
    assert service.domain == "xn--vlo-bma.example.org"
    assert service.slug == "xn--vlo-bma"
    assert service.wanted_state == "present"
    entry = AuditEntry.objects.get(action="service.requested")
    assert entry.actor == staff_user and entry.member_id == member.pk


def test_system_names_do_not_collide_on_a_server(member, web1):
    first = actions.request_service(
        member, actor=None, kind="static", domain="velo.example.org", server=web1
    )
    second = actions.request_service(
        member, actor=None, kind="static", domain="velo.example.net", server=web1
    )
    assert (first.slug, second.slug) == ("velo", "velo-2")


def test_a_domain_is_used_by_one_live_service_only(member, web1):
    actions.request_service(
        member, actor=None, kind="static", domain="velo.example.org", server=web1
    )
    with pytest.raises(ValidationError) as excinfo:
        actions.request_service(
            member, actor=None, kind="static", domain="VELO.example.org", server=web1
        )
    assert "domain" in excinfo.value.message_dict
    assert Service.objects.count() == 1


@pytest.mark.parametrize(
    ("kind", "domain", "field"),
    [
        ("teleporter", "velo.example.org", "kind"),
        ("static", "velo.example.org\nserver_name evil", "domain"),
        ("static", "127.0.0.1", "domain"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_written(member, web1, kind, domain, field):
    with pytest.raises(ValidationError) as excinfo:
        actions.request_service(member, actor=None, kind=kind, domain=domain, server=web1)
    assert field in excinfo.value.message_dict
    assert not Service.objects.exists()
    assert not AuditEntry.objects.filter(action="service.requested").exists()


def test_a_server_without_the_role_is_refused(member):
    lists = Server.objects.create(name="lists1", roles="lists")
    with pytest.raises(ValidationError) as excinfo:
        actions.request_service(
            member, actor=None, kind="static", domain="velo.example.org", server=lists
        )
    assert "server" in excinfo.value.message_dict


def test_suspend_resume_remove_follow_the_lifecycle(member, web1, staff_user):
    service = actions.request_service(
        member, actor=None, kind="static", domain="velo.example.org", server=web1
    )
    with pytest.raises(ValidationError):
        actions.resume_service(service, actor=staff_user)
    service = actions.suspend_service(service, actor=staff_user)
    assert service.wanted_state == "suspended"
    service = actions.resume_service(service, actor=staff_user)
    assert service.wanted_state == "present"
    service = actions.remove_service(service, actor=staff_user)
    assert service.wanted_state == "absent"
    service = actions.record_removal(service, archive_path="/archives/x.tar.gz")
    assert service.removed_at is not None
    # Once removed, its domain and system name are free again.
    again = actions.request_service(
        member, actor=None, kind="static", domain="velo.example.org", server=web1
    )
    assert again.slug == "velo"
    history = list(
        AuditEntry.objects.filter(object_id=str(service.pk), object_type="services.service")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert history == [
        "service.requested",
        "service.suspended",
        "service.resumed",
        "service.removal_requested",
        "service.removed",
    ]


def test_secrets_are_generated_once_encrypted_and_never_audited(member, web1):
    service = actions.request_service(
        member, actor=None, kind="static", domain="velo.example.org", server=web1
    )
    password = secret(service, "db_password")
    assert password == secret(Service.objects.get(pk=service.pk), "db_password")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM services_service WHERE id = %s", [service.pk])
        stored = cursor.fetchone()[0]
    assert password not in stored
    for entry in AuditEntry.objects.all():
        assert password not in str(entry.before) + str(entry.after)
