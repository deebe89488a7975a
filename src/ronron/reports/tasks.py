"""The PDF report is long work (a few seconds for a large hoster): a job with its own page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django_tasks import task

from ronron.jobs.models import Job
from ronron.jobs.progress import enqueue, running
from ronron.reports.figures import build_report
from ronron.reports.render import render, write_atomically

JOB_KIND = "reports.pdf"


def reports_dir() -> Path:
    path = Path(settings.DATA_DIR) / "reports"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def pdf_path(job_id: int) -> Path:
    return reports_dir() / f"report-{int(job_id)}.pdf"


def start_pdf(year: int, home: tuple[str, str] | None, language: str, *, actor: Any) -> Job:
    params = {"year": year, "home": list(home) if home else None, "language": language}
    return enqueue(
        report_pdf_task,
        kind=JOB_KIND,
        label=_("General-assembly report %(year)s (PDF)") % {"year": year},
        actor=actor,
        params=params,
    )


@task()
def report_pdf_task(job_id: int) -> None:
    with running(job_id) as (job, progress):
        params = job.params
        home = (str(params["home"][0]), str(params["home"][1])) if params.get("home") else None
        with translation.override(params.get("language") or settings.LANGUAGE_CODE):
            progress(0, 2, _("Counting the figures"))
            report = build_report(int(params["year"]), home, home_from_settings=False)
            progress(1, 2, _("Drawing the PDF"))
            data = render(report, "pdf")
        write_atomically(pdf_path(job_id), data)
        progress(2, 2, _("Done"))
        job.result = {"download": reverse("reports:pdf", args=[job_id])}
