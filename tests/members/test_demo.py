"""`ronron demo`: a fictional but realistic hoster for newcomers, and never on a real file."""

from collections import Counter
from datetime import date, timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from stdnum.fr import siren

from ronron.core.models import AuditEntry
from ronron.members import actions
from ronron.members.demo import load_demo
from ronron.members.models import Contact, Member, Membership
from ronron.services.kinds import KINDS
from ronron.services.models import Service

pytestmark = pytest.mark.django_db

EXAMPLE_DOMAINS = {"example.org", "example.net", "example.com"}


def run_demo(*args):
    out = StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def test_demo_loads_a_living_hoster():
    output = run_demo()

    members = Member.objects.all()
    assert members.count() == 150
    kinds = Counter(members.values_list("kind", flat=True))
    assert kinds["individual"] == 25
    assert kinds["association"] + kinds["collective"] == 125
    assert kinds["collective"] > 0
    statuses = Counter(members.values_list("status", flat=True))
    assert 8 <= statuses["left"] <= 12
    assert 2 <= statuses["leaving"] <= 3
    assert statuses["applied"] > 0 and statuses["approved"] > 0
    assert statuses["member"] > 120

    today = date.today()
    for member in members.prefetch_related("themes"):
        member.full_clean()
        if member.status == "left":
            assert member.left_on is not None and member.left_on <= today
        if member.status == "leaving":
            assert member.left_on is not None and member.left_on > today
        if member.status in {"applied", "approved"}:
            assert member.joined_on is None and member.applied_on is not None
        else:
            assert member.joined_on is not None
            assert member.joined_on >= today - timedelta(days=9 * 366)
        if member.kind != "individual":
            assert 1 <= member.themes.count() <= 3
        if member.siren:
            assert siren.is_valid(member.siren)
        # La Poste's table gives every French postal code its département and région.
        if member.country == "FR":
            assert member.departement and member.region, member.postal_code

    numbers = set(members.values_list("number", flat=True))
    assert {"A0001", "I0001"} <= numbers
    assert members.filter(rna__startswith="W").exists()
    assert members.exclude(siren="").exists()
    assert members.filter(postal_code="31520", city="Ramonville-Saint-Agne").exists() or (
        members.filter(departement="31").count() > 60
    )
    assert members.filter(departement__in=["2A", "2B"]).exists()
    assert members.filter(departement__startswith="97").exists()
    assert members.exclude(country="FR").exists()
    assert members.filter(region="Occitanie").count() > 75

    contacts = Contact.objects.all()
    for contact in contacts:
        contact.full_clean()
        assert contact.email.rsplit("@", 1)[1] in EXAMPLE_DOMAINS
        assert not contact.phone or contact.phone.startswith("01 99 00 ")
    per_member = Counter(contacts.values_list("member__kind", "member_id"))
    assert all(1 <= n <= 3 for n in per_member.values())
    assert contacts.filter(roles__contains="treasurer").exists()
    assert contacts.filter(roles__contains="tech").exists()
    organisations = members.exclude(kind="individual")
    assert all(m.contacts.count() >= 1 for m in organisations)

    memberships = Membership.objects.all()
    years = set(memberships.values_list("year", flat=True))
    assert {today.year - 2, today.year - 1, today.year} <= years
    calendar = settings.RONRON.dues
    # Whatever the day of the year, last year's dues are mostly paid, this year's partly.
    last_year = memberships.filter(year=today.year - 1)
    assert last_year.filter(paid_on__isnull=True).count() < last_year.count() / 10
    current = memberships.filter(year=today.year)
    assert current.filter(paid_on__isnull=False).exists()
    assert current.filter(paid_on__isnull=True).exists()
    for membership in memberships.select_related("member"):
        membership.full_clean()
        assert membership.called_on is not None and membership.called_on <= today
        assert membership.called_on >= calendar.call_date(membership.year)
        if membership.paid_on is not None:
            assert membership.called_on <= membership.paid_on <= today
            assert membership.payment_method
        expected = (
            calendar.amount_individual
            if membership.member.kind == "individual"
            else calendar.amount_association
        )
        assert membership.amount == expected
    # Members who left have no dues for the years after they left.
    for member in members.filter(status="left"):
        assert not member.memberships.filter(year__gt=member.left_on.year).exists()

    services = Service.objects.all()
    assert services.values("member").distinct().count() > 75
    assert {"web", "lists", "cloud"} <= set(services.values_list("family", flat=True))
    for service in services:
        service.full_clean()
        assert not service.managed
        assert not service.kind or KINDS[service.kind] == service.family

    # Everything went through the actions: the history is there, by Ronron itself.
    assert AuditEntry.objects.filter(action="member.created").count() == 150
    assert AuditEntry.objects.filter(action="membership.payment_recorded").exists()
    assert AuditEntry.objects.filter(action="service.external_recorded").count() == services.count()
    assert set(AuditEntry.objects.values_list("actor_name", flat=True)) == {""}

    assert "150" in output
    assert str(today.year) in output


def snapshot():
    return [
        (
            m.number,
            m.kind,
            m.name,
            m.status,
            m.address,
            m.postal_code,
            m.city,
            m.rna,
            m.siren,
            m.joined_on,
            m.left_on,
            sorted(t.slug for t in m.themes.all()),
            sorted((c.name, c.email, c.phone, c.roles) for c in m.contacts.all()),
            sorted((s.year, s.called_on, s.paid_on, s.payment_method) for s in m.memberships.all()),
            sorted((s.kind, s.family, s.name) for s in m.services.all()),
        )
        for m in Member.objects.order_by("number").prefetch_related(
            "themes", "contacts", "memberships", "services"
        )
    ]


def test_demo_is_the_same_for_the_same_seed_and_different_for_another():
    run_demo("--members", "40", "--seed", "7")
    first = snapshot()
    Member.objects.all().delete()
    run_demo("--members", "40", "--seed", "7")
    assert snapshot() == first
    Member.objects.all().delete()
    run_demo("--members", "40", "--seed", "8")
    assert snapshot() != first


def test_demo_refuses_a_database_that_has_members():
    actions.create_member(
        actor=None, number="A0001", kind="association", name="Le vrai PIC", postal_code="31520"
    )
    with pytest.raises(CommandError) as refused:
        run_demo("--members", "10")
    assert "this database already has 1 member." in str(refused.value)
    assert "--force" in str(refused.value)
    assert Member.objects.count() == 1


def test_demo_with_force_adds_to_a_file_without_touching_it():
    real = actions.create_member(
        actor=None, number="A0001", kind="association", name="Le vrai PIC", postal_code="31520"
    )
    run_demo("--members", "12", "--force")
    assert Member.objects.count() == 13
    real.refresh_from_db()
    assert real.name == "Le vrai PIC" and real.number == "A0001"
    demo_numbers = set(Member.objects.exclude(pk=real.pk).values_list("number", flat=True))
    assert "A0002" in demo_numbers and "A0001" not in demo_numbers
    assert all(
        "ronron demo" in n
        for n in Member.objects.exclude(pk=real.pk).values_list("notes", flat=True)
    )


def test_demo_rejects_a_nonsensical_size():
    with pytest.raises(CommandError):
        run_demo("--members", "0")
    assert not Member.objects.exists()


@pytest.mark.parametrize(
    ("day", "unpaid_status", "years"),
    [
        (date(2025, 1, 10), "called", {2023, 2024, 2025}),
        (date(2025, 6, 15), "overdue", {2023, 2024, 2025}),
        (date(2025, 9, 15), "cut_off", {2023, 2024, 2025}),
        # From 1 December, next year's dues are out too (Le PIC's calendar, the default).
        (date(2025, 12, 15), "cut_off", {2023, 2024, 2025, 2026}),
    ],
)
def test_the_dues_follow_the_calendar_on_any_day(day, unpaid_status, years):
    load_demo(count=60, seed=3, today=day)
    memberships = Membership.objects.all()
    assert set(memberships.values_list("year", flat=True)) == years
    assert not memberships.filter(called_on__gt=day).exists()
    assert not memberships.filter(paid_on__gt=day).exists()
    unpaid = memberships.filter(year=2025, paid_on__isnull=True)
    assert unpaid.exists()
    assert {m.status_on(day) for m in unpaid} == {unpaid_status}
    assert not Member.objects.filter(applied_on__gt=day).exists()
    assert Member.objects.filter(status="leaving", left_on__gt=day).exists()
