"""After a crash: jobs whose worker died cannot finish by themselves.

`ronron serve` runs the embedded worker under a worker id of its own and holds a lock on the
data directory while it runs, so when it starts again, a task that this embedded worker left
*running* cannot be running any more. It is marked failed, and so is its Job, with a message
that says what happened and what to do: the work was rolled back or is safe to start again,
since tasks are idempotent. Workers on other machines (scale-out) have other ids and are left
alone.
"""

from __future__ import annotations

import socket

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks_db.models import DBTaskResult

from ronron.jobs.models import Job

RUNNING = "RUNNING"
FAILED = "FAILED"


def embedded_worker_id() -> str:
    """Stable for this machine, so that the next start recognises its own tasks."""
    return f"embedded-{socket.gethostname()}"[:63]


def fail_interrupted_tasks(worker_id: str) -> int:
    """Mark the tasks ``worker_id`` left running, and their Jobs, as failed; how many."""
    message = _(
        "Interrupted: Ronron stopped while this job was running. Nothing was left half-done; "
        "you can start it again."
    )
    now = timezone.now()
    count = 0
    with transaction.atomic():
        for result in DBTaskResult.objects.select_for_update().filter(status=RUNNING):
            if not result.worker_ids or result.worker_ids[-1] != worker_id:
                continue
            result.status = FAILED
            result.finished_at = now
            result.exception_class_path = "ronron.jobs.recovery.Interrupted"
            result.traceback = message
            result.save(
                update_fields=["status", "finished_at", "exception_class_path", "traceback"]
            )
            Job.objects.filter(
                task_result_id=str(result.id), status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
            ).update(status=Job.Status.FAILED, error=message, finished_at=now)
            count += 1
    return count
