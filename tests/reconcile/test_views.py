"""The console pages: pending changes, applying them as a job, runs and their journal,
adopting what no service claims."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from ronron.jobs.models import Job
from ronron.reconcile.models import Run
from ronron.services.models import Service
from tests.reconcile.conftest import make_service

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def console(client, staff_user):
    client.force_login(staff_user)
    return client


def test_pages_are_for_staff_only(client, server):
    response = client.get(reverse("reconcile:pending"))
    assert response.status_code == 302 and "/login" in response["Location"]
    assert client.post(reverse("reconcile:apply")).status_code == 302
    assert Run.objects.count() == 0


def test_pending_changes_are_shown_in_plain_words(console, server, member, sites):
    make_service(member, server, "velo")
    (sites / "ancien-site").mkdir()
    page = console.get(reverse("reconcile:pending")).content.decode()
    assert "Server web1" in page
    assert "create the directory of velo" in page
    assert "Apply these changes" in page
    assert "Not managed (never changed)" in page and "ancien-site" in page


def test_nothing_to_do_says_so(console, server):
    page = console.get(reverse("reconcile:pending")).content.decode()
    assert "Nothing to do" in page and "Apply these changes" not in page


@override_settings(TASKS=IMMEDIATE)
def test_apply_runs_as_a_job_and_the_journal_shows_each_step(console, server, member, sites):
    make_service(member, server, "velo", credentials={"password": "s3cret-du-velo"})
    response = console.post(reverse("reconcile:apply"))
    run = Run.objects.get()
    assert response["Location"] == reverse("reconcile:run", args=[run.pk])
    assert run.status == Run.Status.SUCCEEDED
    assert run.job is not None and run.job.status == Job.Status.SUCCEEDED
    assert (run.job.result or {})["done"] == 3
    assert (sites / "velo" / "service.conf").exists()
    page = console.get(response["Location"]).content.decode()
    assert "write the home page of velo" in page
    assert "index.html written" in page  # the step's output
    assert "s3cret-du-velo" not in page
    assert 'http-equiv="refresh"' not in page
    assert "Done" in page
    assert f"Run {run.pk}" in console.get(reverse("reconcile:runs")).content.decode()


@override_settings(TASKS=IMMEDIATE)
def test_a_failed_run_shows_the_error_calmly(console, server, member, sites):
    make_service(member, server, "velo")
    (sites / "velo" / "index.html").mkdir(parents=True)
    console.post(reverse("reconcile:apply"))
    run = Run.objects.get()
    assert run.status == Run.Status.FAILED
    page = console.get(reverse("reconcile:run", args=[run.pk])).content.decode()
    assert "cannot write" in page and "Skipped" in page


def test_a_queued_run_page_refreshes_itself(console, server, member):
    make_service(member, server, "velo")
    console.post(reverse("reconcile:apply"))  # the database queue: no worker runs it here
    run = Run.objects.get()
    assert run.status == Run.Status.QUEUED
    page = console.get(reverse("reconcile:run", args=[run.pk])).content.decode()
    assert 'http-equiv="refresh"' in page


def test_adopting_from_the_console(console, server, member, sites):
    (sites / "ancien-site").mkdir()
    data = {"server": "web1", "kind": "testfile", "name": "ancien-site", "member": "NOPE"}
    response = console.post(reverse("reconcile:adopt"), data)
    assert response.status_code == 400
    assert "No member has this number." in response.content.decode()
    assert not Service.objects.filter(slug="ancien-site").exists()

    data["member"], data["domain"] = "A0202", "ancien.example.org"
    response = console.post(reverse("reconcile:adopt"), data)
    assert response.status_code == 302
    service = Service.objects.get(slug="ancien-site")
    assert service.member == member and service.managed and service.domain == "ancien.example.org"
    page = console.get(reverse("reconcile:pending")).content.decode()
    assert "Nothing unmanaged found." in page
