"""Jobs as the console shows them: progress while they run, outcome and problems after."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from ronron.jobs.models import Job

REFRESH = re.compile(r'<meta http-equiv="refresh" content="(\d+)">')


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.mark.django_db
def test_a_running_job_shows_its_progress_and_refreshes(staff_client, staff_user):
    job = Job.objects.create(
        kind="import",
        label="Import membres.csv",
        created_by=staff_user,
        status=Job.Status.RUNNING,
        progress_done=30,
        progress_total=120,
        message="Reading line 30",
        started_at=timezone.now(),
    )
    html = staff_client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert '<progress id="job-progress" max="100" value="25">' in html
    assert "25 %" in html and "30 / 120" in html
    assert "Reading line 30" in html
    assert REFRESH.search(html).group(1) == "2"
    listing = staff_client.get(reverse("jobs:list")).content.decode()
    assert "Import membres.csv" in listing and REFRESH.search(listing)


@pytest.mark.django_db
def test_a_finished_import_shows_its_counts_and_errors_without_refreshing(staff_client):
    job = Job.objects.create(
        kind="import",
        label="Import membres.csv",
        status=Job.Status.SUCCEEDED,
        progress_done=3,
        progress_total=3,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        result={
            "created": 2,
            "updated": 0,
            "errors": [{"line": 3, "column": "contact_email", "message": "Not an e-mail <b>"}],
        },
    )
    response = staff_client.get(reverse("jobs:detail", args=[job.pk]))
    html = response.content.decode()
    assert not REFRESH.search(html)
    assert 'value="100"' in html
    assert dict(response.context["figures"])["Created"] == 2
    assert '<td data-label="Line">3</td>' in html
    assert "contact_email" in html
    assert "Not an e-mail &lt;b&gt;" in html  # what a file says is shown, never interpreted
    assert "1 problem found" in html


@pytest.mark.django_db
def test_a_failed_job_says_what_went_wrong(staff_client):
    job = Job.objects.create(
        kind="import",
        label="Import",
        status=Job.Status.FAILED,
        error="The file is empty.",
        finished_at=timezone.now(),
    )
    html = staff_client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert "The job failed" in html and "The file is empty." in html
    assert not REFRESH.search(html)
    assert not REFRESH.search(staff_client.get(reverse("jobs:list")).content.decode())


@pytest.mark.django_db
def test_jobs_are_for_staff_only(client, django_user_model):
    job = Job.objects.create(kind="import", label="Import")
    for url in (reverse("jobs:list"), reverse("jobs:detail", args=[job.pk])):
        assert client.get(url)["Location"].startswith(reverse("core:login"))
    client.force_login(django_user_model.objects.create_user(username="dominique"))
    for url in (reverse("jobs:list"), reverse("jobs:detail", args=[job.pk])):
        assert client.get(url).status_code == 403
    client.force_login(django_user_model.objects.create_user(username="sam", is_staff=True))
    assert client.get(reverse("jobs:detail", args=[job.pk + 1000])).status_code == 404
