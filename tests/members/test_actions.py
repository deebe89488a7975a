"""The member actions: validation, lifecycle and the audit trail they leave."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from ronron.core.models import AuditEntry
from ronron.members import actions
from ronron.members.models import Contact, Member, Membership, Theme

pytestmark = pytest.mark.django_db


def new_member(**overrides):
    data = {
        "number": "A0202",
        "kind": "association",
        "name": "Les Amis du Vélo",
        "postal_code": "31520",
        "city": "Ramonville-Saint-Agne",
    }
    data.update(overrides)
    return actions.create_member(actor=None, **data)


def test_create_member_writes_one_audit_entry_with_the_values(staff_user):
    themes = list(Theme.objects.filter(slug__in=["velo", "climat"]))
    member = actions.create_member(
        actor=staff_user,
        number="A0202",
        kind="association",
        name="Les Amis du Vélo",
        rna="w 313 012 345",
        postal_code="31520",
        city="Ramonville-Saint-Agne",
        joined_on=date(2021, 3, 1),
        themes=themes,
    )
    assert member.status == Member.Status.MEMBER
    assert member.rna == "W313012345"
    entry = AuditEntry.objects.get(action="member.created")
    assert entry.actor == staff_user
    assert entry.member_id == member.pk
    assert entry.after["name"] == "Les Amis du Vélo"
    assert entry.after["themes"] == ["climat", "velo"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rna", "W31301234"),
        ("siren", "732829321"),
        ("number", "A 02"),
        ("name", "Nom\r\nBcc: x@example.org"),
        ("country", "France"),
        ("kind", "company"),
    ],
)
def test_invalid_member_data_is_refused_and_nothing_is_written(field, value):
    with pytest.raises(ValidationError) as excinfo:
        new_member(**{field: value})
    assert field in excinfo.value.message_dict
    assert not Member.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_valid_siren_is_accepted_and_compacted():
    assert new_member(siren="732 829 320").siren == "732829320"


def test_duplicate_member_number_is_refused():
    new_member()
    with pytest.raises(ValidationError) as excinfo:
        new_member(name="Autre")
    assert "number" in excinfo.value.message_dict


def test_update_records_before_and_after_and_skips_no_op(staff_user):
    member = new_member()
    actions.update_member(member, actor=staff_user, city="Toulouse", postal_code="31000")
    entry = AuditEntry.objects.get(action="member.updated")
    assert ("city", "Ramonville-Saint-Agne", "Toulouse") in entry.changes()
    actions.update_member(member, actor=staff_user, city="Toulouse")
    assert AuditEntry.objects.filter(action="member.updated").count() == 1


def test_lifecycle_from_application_to_departure(staff_user):
    member = new_member(status=Member.Status.APPLIED, applied_on=date(2026, 1, 5))
    member = actions.approve_application(member, actor=staff_user, on=date(2026, 2, 1))
    assert (member.status, member.approved_on) == ("approved", date(2026, 2, 1))
    member = actions.admit_member(member, actor=staff_user, on=date(2026, 2, 10))
    assert (member.status, member.joined_on) == ("member", date(2026, 2, 10))
    member = actions.record_departure_notice(member, actor=staff_user, leave_on=date(2026, 12, 31))
    assert member.status == "leaving"
    member = actions.record_departure(member, actor=staff_user, on=date(2026, 12, 31))
    assert member.status == "left"
    history = list(
        AuditEntry.objects.filter(member_id=member.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert history == [
        "member.created",
        "member.application_approved",
        "member.admitted",
        "member.departure_notified",
        "member.left",
    ]


def test_a_transition_from_the_wrong_status_is_refused():
    member = new_member(joined_on=date(2020, 1, 1))
    with pytest.raises(ValidationError):
        actions.approve_application(member, actor=None, on=date(2026, 1, 1))
    assert Member.objects.get().status == "member"


def test_leaving_before_joining_is_refused():
    member = new_member(joined_on=date(2020, 1, 1))
    with pytest.raises(ValidationError):
        actions.record_departure(member, actor=None, on=date(2019, 1, 1))


def test_contacts_roles_and_email_validation():
    member = new_member()
    contact = actions.add_contact(
        member, actor=None, name="Ana Martin", email="Ana@Example.ORG", roles=["tech", "president"]
    )
    assert contact.email == "ana@example.org"
    assert contact.role_list == ["president", "tech"]
    with pytest.raises(ValidationError):
        actions.add_contact(member, actor=None, name="X", email="pas-une-adresse")
    with pytest.raises(ValidationError):
        actions.add_contact(member, actor=None, name="Y", email="y@example.org", roles=["boss"])
    with pytest.raises(ValidationError):
        actions.add_contact(member, actor=None, name="Z", email="ana@example.org")
    assert Contact.objects.count() == 1
    actions.remove_contact(contact, actor=None)
    assert not Contact.objects.exists()
    assert AuditEntry.objects.filter(action="contact.removed", member_id=member.pk).exists()


def test_call_dues_uses_the_default_amount_then_payment_marks_it_paid():
    member = new_member(joined_on=date(2020, 1, 1))
    membership = actions.call_dues(member, actor=None, year=2026, on=date(2025, 12, 1))
    assert membership.amount == Decimal("30.00")
    assert membership.status_on(date(2026, 7, 1)) == "overdue"
    membership = actions.record_payment(
        membership, actor=None, paid_on=date(2026, 7, 2), method="transfer"
    )
    assert membership.status_on(date(2026, 7, 3)) == "paid"
    # Calling again does not duplicate the year.
    actions.call_dues(member, actor=None, year=2026)
    assert Membership.objects.filter(member=member, year=2026).count() == 1


def test_individual_default_amount():
    member = new_member(number="I0001", kind="individual", name="Jeanne Durand")
    assert actions.call_dues(member, actor=None, year=2026).amount == Decimal("10.00")


@pytest.mark.django_db(transaction=True)
def test_audit_requires_a_transaction():
    # Outside an action's transaction an audit row could be committed without its change.
    from ronron.core import audit

    with pytest.raises(RuntimeError):
        audit.record("x.y", actor=None)
