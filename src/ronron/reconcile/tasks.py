"""Applying a plan in the background: the job shows the progress, the run keeps the journal."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django_tasks import task

from ronron.jobs.models import Job
from ronron.jobs.progress import running
from ronron.reconcile.engine import apply_plan
from ronron.reconcile.models import Run

JOB_KIND = "reconcile.apply"


class RunFailed(Exception):
    """Some step failed: the run's journal says which."""


@task()
def apply_task(job_id: int) -> None:
    job = Job.objects.get(pk=job_id)
    if job.is_finished:
        return  # a queue may deliver a task twice
    run_id = int(job.params["run_id"])
    if not Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).exists():
        return
    with running(job_id) as (job, progress):
        run = apply_plan(run_id, progress)
        counts = {status: run.steps.filter(status=status).count() for status in ("done", "failed")}
        job.result = {"run": run.pk, "steps": run.steps.count(), **counts}
        if run.status == Run.Status.FAILED:
            Job.objects.filter(pk=job_id).update(result=job.result)
            raise RunFailed(_("Some steps failed; the run's journal shows which and why."))
