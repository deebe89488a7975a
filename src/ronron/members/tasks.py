"""Background work on the member file: importing a large CSV file with progress in the console."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_tasks import task

from ronron.jobs.models import Job
from ronron.jobs.progress import enqueue, running
from ronron.members.imports import import_members

JOB_KIND = "members.import"
# Uploads nobody confirmed are removed after this long (they hold personal data).
STALE_UPLOAD_SECONDS = 24 * 3600


class ImportRejected(Exception):
    """The file had errors when the job ran; nothing was written."""


def upload_dir() -> Path:
    path = Path(settings.DATA_DIR) / "uploads"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def store_upload(data: bytes) -> Path:
    """Keep an uploaded file, readable by Ronron only, under a random name."""
    path = upload_dir() / f"{uuid.uuid4().hex}.csv"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def upload_path(name: str) -> Path:
    """The stored upload called ``name``; refuses anything outside the uploads directory."""
    base = upload_dir().resolve()
    path = (base / name).resolve()
    if path.parent != base or path.suffix != ".csv":
        raise ValueError(f"not an upload: {name!r}")
    return path


def remove_stale_uploads(max_age: float = STALE_UPLOAD_SECONDS) -> None:
    limit = time.time() - max_age
    for path in upload_dir().glob("*.csv"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except FileNotFoundError:
            pass


def enqueue_import(path: Path, *, actor: Any, label: str = "") -> Job:
    """Queue the import of a stored upload; the job removes the file when it is done."""
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    return enqueue(
        import_members_task,
        kind=JOB_KIND,
        label=label or _("Member file import"),
        actor=actor,
        params={"path": path.name, "actor_id": actor_id},
    )


def start_import(data: bytes, *, actor: Any, label: str = "") -> Job:
    return enqueue_import(store_upload(data), actor=actor, label=label)


@task()
def import_members_task(job_id: int) -> None:
    job = Job.objects.get(pk=job_id)
    if job.is_finished:
        return  # already done: a queue may deliver a task twice
    path = upload_path(job.params["path"])
    try:
        with running(job_id) as (job, progress):
            actor_id = job.params.get("actor_id")
            actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
            try:
                data = path.read_bytes()
            except FileNotFoundError as exc:
                raise ImportRejected(
                    _("The uploaded file is no longer there; upload it again.")
                ) from exc
            report = import_members(data, actor=actor, progress=progress)
            job.result = report.summary()
            if report.errors:
                # running() records only the error of a failed job: keep the list as well.
                Job.objects.filter(pk=job_id).update(result=job.result)
                raise ImportRejected(
                    ngettext(
                        "The file has %(count)s error; nothing was imported.",
                        "The file has %(count)s errors; nothing was imported.",
                        len(report.errors),
                    )
                    % {"count": len(report.errors)}
                )
    finally:
        path.unlink(missing_ok=True)
