from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from ronron.core.permissions import staff_required
from ronron.jobs.models import Job

PAGE_SIZE = 50
REFRESH_SECONDS = 2

# Names tasks commonly use in their result; any other name is shown as written.
FIGURE_LABELS = {
    "total": _("Lines read"),
    "lines": _("Lines read"),
    "created": _("Created"),
    "updated": _("Updated"),
    "unchanged": _("Unchanged"),
    "skipped": _("Skipped"),
    "failed": _("Failed"),
    "error_count": _("Errors"),
    "errors": _("Errors"),
    "contacts": _("Contacts"),
    "services": _("Services"),
    "memberships": _("Memberships"),
}


@staff_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = Job.objects.select_related("created_by")
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    unfinished = any(not job.is_finished for job in page.object_list)
    return render(
        request,
        "jobs/list.html",
        {
            "page_obj": page,
            "jobs": page.object_list,
            "refresh": REFRESH_SECONDS if unfinished else 0,
        },
    )


def _result_parts(result: Any) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
    """The figures of a job's result (name → number) and its per-line errors, if any."""
    if not isinstance(result, dict):
        return [], []
    figures = [
        (str(FIGURE_LABELS.get(str(key), str(key).replace("_", " "))), value)
        for key, value in result.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    errors = [e for e in result.get("errors") or [] if isinstance(e, dict)]
    return figures, errors


@staff_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job.objects.select_related("created_by"), pk=pk)
    figures, errors = _result_parts(job.result)
    return render(
        request,
        "jobs/detail.html",
        {
            "job": job,
            "figures": figures,
            "errors": errors,
            "refresh": 0 if job.is_finished else REFRESH_SECONDS,
        },
    )
