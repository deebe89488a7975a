"""A job whose worker died is told as interrupted, not left "running" forever."""

import pytest
from django_tasks_db.models import DBTaskResult

from ronron.jobs.models import Job
from ronron.jobs.progress import enqueue
from ronron.jobs.recovery import embedded_worker_id, fail_interrupted_tasks
from ronron.members.tasks import import_members_task

pytestmark = pytest.mark.django_db


def running_job(worker_id: str) -> Job:
    job = enqueue(import_members_task, kind="import", label="Import", actor=None, params={})
    result = DBTaskResult.objects.get(id=job.task_result_id)
    result.claim(worker_id)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    return job


def test_jobs_of_the_dead_embedded_worker_are_marked_interrupted(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    mine = running_job(embedded_worker_id())
    elsewhere = running_job("worker-on-another-machine")

    assert fail_interrupted_tasks(embedded_worker_id()) == 1

    mine.refresh_from_db()
    assert mine.status == Job.Status.FAILED and "start it again" in mine.error
    assert DBTaskResult.objects.get(id=mine.task_result_id).status == "FAILED"
    elsewhere.refresh_from_db()
    assert elsewhere.status == Job.Status.RUNNING
    assert DBTaskResult.objects.get(id=elsewhere.task_result_id).status == "RUNNING"
