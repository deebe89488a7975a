"""Plan and apply with real files on this machine, through the test driver."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from ronron.core.models import AuditEntry
from ronron.reconcile.actions import adopt_orphan, create_run
from ronron.reconcile.engine import apply_plan, compute_plan
from ronron.reconcile.models import Run, RunStep
from ronron.services.models import Service
from tests.reconcile.conftest import make_service

pytestmark = pytest.mark.django_db


def run_apply(**scope) -> Run:
    return apply_plan(create_run(actor=None, **scope).pk)


def test_the_plan_lists_every_step_and_changes_nothing(server, member, sites):
    make_service(member, server, "velo")
    plan = compute_plan()
    text = plan.to_text()
    assert "Server web1" in text
    assert "velo.example.org (A0202)" in text
    assert "1. create the directory of velo" in text
    assert "3. write the configuration of velo (present)" in text
    data = plan.to_json()
    assert data["nothing_to_do"] is False
    assert [s["key"] for s in data["changes"][0]["steps"]] == [
        "create-dir",
        "write-index",
        "write-config",
    ]
    assert list(sites.iterdir()) == []
    assert Service.objects.get(slug="velo").observed_state == "absent"


def test_apply_makes_it_real_and_a_second_apply_plans_nothing(server, member, sites):
    make_service(member, server, "velo")
    make_service(member, server, "jardin")
    run = run_apply()
    assert run.status == Run.Status.SUCCEEDED
    assert (sites / "velo" / "index.html").read_text() == "<h1>velo.example.org</h1>\n"
    assert "state=present" in (sites / "jardin" / "service.conf").read_text()
    steps = list(run.steps.all())
    assert len(steps) == 6
    assert all(s.status == RunStep.Status.DONE and s.duration_ms is not None for s in steps)
    assert Service.objects.get(slug="velo").observed_state == "present"

    plan = compute_plan()
    assert plan.nothing_to_do
    assert "Nothing to do" in plan.to_text()
    again = run_apply()
    assert again.status == Run.Status.SUCCEEDED and again.steps.count() == 0


def test_suspending_then_removing_exports_before_deleting(server, member, sites):
    service = make_service(member, server, "velo")
    run_apply()
    Service.objects.filter(pk=service.pk).update(wanted_state="suspended")
    plan = compute_plan()
    assert [s.key for s in plan.changes[0].steps] == ["write-config"]
    run_apply()
    assert "state=suspended" in (sites / "velo" / "service.conf").read_text()
    assert Service.objects.get(pk=service.pk).observed_state == "suspended"

    Service.objects.filter(pk=service.pk).update(wanted_state="absent")
    run = run_apply()
    assert run.status == Run.Status.SUCCEEDED, list(run.steps.values_list("output", flat=True))
    assert [s.key for s in run.steps.all()] == ["export", "remove"]
    assert not (sites / "velo").exists()
    archive = sites.parent / "archives" / "velo.tar.gz"
    assert archive.exists()
    service.refresh_from_db()
    assert service.removed_at is not None and service.archive_path == str(archive)
    assert AuditEntry.objects.filter(action="service.removed", object_id=str(service.pk)).exists()
    # Removed for good: no longer planned, and its directory name is free again.
    assert compute_plan().nothing_to_do


def test_a_failed_step_stops_its_service_only(server, member, sites):
    make_service(member, server, "velo")
    make_service(member, server, "jardin")
    # "velo" cannot get its home page: a directory stands where the file should go.
    (sites / "velo" / "index.html").mkdir(parents=True)
    run = run_apply()
    assert run.status == Run.Status.FAILED
    by_key = {(s.service_label.split()[1], s.key): s for s in run.steps.all()}
    failed = by_key[("velo.example.org", "write-index")]
    assert failed.status == RunStep.Status.FAILED
    assert "cannot write" in failed.output
    assert by_key[("velo.example.org", "write-config")].status == RunStep.Status.SKIPPED
    assert not (sites / "velo" / "service.conf").exists()
    assert all(
        s.status == RunStep.Status.DONE
        for (name, _key), s in by_key.items()
        if name != "velo.example.org"
    )
    assert (sites / "jardin" / "service.conf").exists()


def test_secrets_never_reach_the_journal(server, member):
    make_service(member, server, "velo", credentials={"password": "s3cret-du-velo"})
    run = run_apply()
    outputs = " ".join(run.steps.values_list("output", flat=True))
    assert "service.conf written (present) password=********" in outputs
    assert "s3cret-du-velo" not in outputs


def test_unclaimed_directories_are_listed_and_never_touched(server, member, sites):
    make_service(member, server, "velo")
    (sites / "ancien-site").mkdir()
    (sites / "ancien-site" / "index.html").write_text("old")
    plan = compute_plan()
    assert [(o.orphan.name, o.server.name) for o in plan.orphans] == [("ancien-site", "web1")]
    assert "Not managed (never changed):" in plan.to_text()
    assert "web1: testfile directory ancien-site" in plan.to_text()
    run_apply()
    assert (sites / "ancien-site" / "index.html").read_text() == "old"
    assert not (sites / "ancien-site" / "service.conf").exists()
    assert [o.orphan.name for o in compute_plan().orphans] == ["ancien-site"]


def test_adopting_an_orphan_makes_it_managed(server, member, sites, staff_user):
    (sites / "ancien-site").mkdir()
    service = adopt_orphan(
        actor=staff_user,
        server=server,
        kind="testfile",
        name="ancien-site",
        member=member,
        domain="Ancien-Vélo.example.org",
    )
    assert service.managed and service.domain == "ancien-vélo.example.org".encode("idna").decode()
    entry = AuditEntry.objects.get(action="service.adopted")
    assert entry.member_id == member.pk and entry.actor_name == "camille"
    plan = compute_plan()
    assert plan.orphans == []
    assert [s.key for s in plan.changes[0].steps] == ["write-index", "write-config"]
    with pytest.raises(ValidationError):
        adopt_orphan(actor=None, server=server, kind="testfile", name="ancien-site", member=member)
    with pytest.raises(ValidationError):
        adopt_orphan(actor=None, server=server, kind="testfile", name="nothing", member=member)


def test_an_unreachable_server_is_an_error_not_a_crash(server, member, sites):
    from ronron.fleet.models import Server

    broken = Server.objects.create(name="web2", layout={"no_such_key": "x"})
    make_service(member, broken, "perdu")
    make_service(member, server, "velo")
    plan = compute_plan()
    assert [e.server for e in plan.errors] == ["web2"]
    assert [item.service.slug for item in plan.changes] == ["velo"]
    run = run_apply()
    assert run.status == Run.Status.FAILED and "web2" in run.error
    assert (sites / "velo" / "service.conf").exists()


def test_the_scope_limits_the_plan(server, member, sites):
    from ronron.members import actions as member_actions

    other = member_actions.create_member(actor=None, number="A0300", kind="association", name="X")
    make_service(member, server, "velo")
    make_service(other, server, "autre")
    plan = compute_plan(member="A0300")
    assert [item.service.slug for item in plan.changes] == ["autre"]
    run_apply(member="A0300")
    assert (sites / "autre").exists() and not (sites / "velo").exists()


def test_plan_and_apply_commands(server, member, sites):
    make_service(member, server, "velo")
    out = StringIO()
    call_command("plan", "--format", "json", stdout=out)
    assert json.loads(out.getvalue())["changes"][0]["slug"] == "velo"
    with pytest.raises(CommandError) as refused:
        call_command("apply", stdout=StringIO())  # not a terminal and no --yes
    assert refused.value.returncode == 2
    assert not (sites / "velo").exists()
    out = StringIO()
    call_command("apply", "--yes", stdout=out)
    assert "[1/3] Testfile" in out.getvalue() or "[1/3] testfile" in out.getvalue()
    assert "succeeded" in out.getvalue().lower()
    out = StringIO()
    call_command("plan", stdout=out)
    assert "Nothing to do" in out.getvalue()


def test_apply_command_fails_when_a_step_fails(server, member, sites):
    make_service(member, server, "velo")
    (sites / "velo" / "index.html").mkdir(parents=True)
    with pytest.raises(CommandError) as failed:
        call_command("apply", "--yes", stdout=StringIO())
    assert failed.value.returncode == 1


def test_orphans_and_adopt_commands(server, member, sites):
    (sites / "ancien-site").mkdir()
    out = StringIO()
    call_command("orphans", stdout=out)
    assert "web1\ttestfile\tdirectory\tancien-site" in out.getvalue()
    out = StringIO()
    call_command(
        "adopt",
        "ancien-site",
        "--server",
        "web1",
        "--kind",
        "testfile",
        "--member",
        "A0202",
        stdout=out,
    )
    assert Service.objects.get(slug="ancien-site").member == member
    out = StringIO()
    call_command("orphans", stdout=out)
    assert "Nothing unmanaged found." in out.getvalue()
    with pytest.raises(CommandError):
        call_command(
            "adopt", "x", "--server", "web1", "--kind", "testfile", "--member", "Z9", stdout=out
        )


def test_a_run_left_running_is_marked_interrupted(server, member, sites):
    make_service(member, server, "velo")
    dead = create_run(actor=None)
    Run.objects.filter(pk=dead.pk).update(status=Run.Status.RUNNING)
    RunStep.objects.create(
        run=dead, position=1, key="create-dir", description="x", status="running"
    )
    run_apply()
    dead.refresh_from_db()
    assert dead.status == Run.Status.INTERRUPTED
    assert dead.steps.get().status == RunStep.Status.FAILED
