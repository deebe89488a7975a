"""How a task reports on its Job: start, progress, finish — each written at once, outside of
the task's own transaction, so the console sees it while the work goes on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.utils import timezone

from ronron.jobs.models import Job

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]


class Reporter:
    """Writes progress at most every ``interval`` seconds (the last step is always written)."""

    def __init__(self, job_id: int, interval: float = 0.5) -> None:
        self.job_id = job_id
        self.interval = interval
        self._last = 0.0

    def __call__(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.interval:
            return
        self._last = now
        Job.objects.filter(pk=self.job_id).update(
            progress_done=done, progress_total=total, message=message[:255]
        )


@contextmanager
def running(job_id: int) -> Iterator[tuple[Job, Reporter]]:
    """Mark the job running; on exit, succeeded (with ``job.result``) or failed (with the error)."""
    Job.objects.filter(pk=job_id).update(status=Job.Status.RUNNING, started_at=timezone.now())
    job = Job.objects.get(pk=job_id)
    try:
        yield job, Reporter(job_id)
    except Exception as exc:
        log.exception("job %s failed", job_id)
        Job.objects.filter(pk=job_id).update(
            status=Job.Status.FAILED, error=str(exc)[:5000], finished_at=timezone.now()
        )
        raise
    Job.objects.filter(pk=job_id).update(
        status=Job.Status.SUCCEEDED, result=job.result, finished_at=timezone.now()
    )


def no_progress(done: int, total: int, message: str = "") -> None:
    """A progress callback for callers that do not report (the CLI with --quiet, tests)."""


def enqueue(task: Any, *, kind: str, label: str, actor: Any, params: dict[str, Any]) -> Job:
    """Create the Job, then queue ``task(job_id)``. The task receives only the primary key."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    job = Job.objects.create(kind=kind, label=label[:255], created_by=user, params=params)
    result = task.enqueue(job.pk)
    Job.objects.filter(pk=job.pk).update(task_result_id=str(result.id))
    job.task_result_id = str(result.id)
    return job
