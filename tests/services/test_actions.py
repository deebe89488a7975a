"""Recording a service a member uses outside Ronron."""

import pytest
from django.core.exceptions import ValidationError

from ronron.core.models import AuditEntry
from ronron.members import actions
from ronron.services.actions import record_external_service
from ronron.services.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return actions.create_member(
        actor=None, number="A0202", kind="association", name="Les Amis du Vélo"
    )


def test_recording_an_external_service_leaves_an_audit_entry(member, staff_user):
    service = record_external_service(
        member, actor=staff_user, kind="wordpress", family="web", name="amis-du-velo.example.org"
    )
    service.refresh_from_db()
    assert (service.kind, service.family, service.managed) == ("wordpress", "web", False)
    assert service.name == "amis-du-velo.example.org"
    entry = AuditEntry.objects.get(action="service.external_recorded")
    assert entry.actor_name == "camille"
    assert entry.member_id == member.pk
    assert entry.object_id == str(service.pk)
    assert entry.after["kind"] == "wordpress"


def test_a_service_may_be_known_by_its_family_only(member):
    service = record_external_service(member, actor=None, kind="", family="Lists")
    assert (service.kind, service.family) == ("", "lists")
    assert AuditEntry.objects.get(action="service.external_recorded").actor_name == ""


def test_the_family_follows_from_the_kind_when_omitted(member):
    service = record_external_service(member, actor=None, kind="spip", family="")
    assert service.family == "web"


@pytest.mark.parametrize(
    ("kind", "family", "field"),
    [
        ("wordpress", "lists", "kind"),  # a WordPress site is not a mailing list
        ("joomla", "web", "kind"),
        ("", "blog", "family"),
        ("", "", "family"),
    ],
)
def test_unknown_or_mismatched_kinds_are_refused_and_nothing_is_recorded(
    member, kind, family, field
):
    with pytest.raises(ValidationError) as refused:
        record_external_service(member, actor=None, kind=kind, family=family)
    assert field in refused.value.message_dict
    assert not Service.objects.exists()
    assert not AuditEntry.objects.filter(action="service.external_recorded").exists()


def test_a_name_with_a_line_break_is_refused(member):
    with pytest.raises(ValidationError):
        record_external_service(member, actor=None, kind="list", family="lists", name="a\nb")
    assert not Service.objects.exists()
