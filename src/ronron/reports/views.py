"""Console pages of the general-assembly report: the report on screen, its downloads, and the
PDF prepared as a job (it takes a few seconds for a large hoster)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_POST

from ronron.core.permissions import staff_required
from ronron.jobs.models import Job
from ronron.reports import tasks
from ronron.reports.figures import Report, ReportError, build_report
from ronron.reports.forms import ReportForm
from ronron.reports.render import CONTENT_TYPES, file_stem, filename
from ronron.reports.render import render as render_report

DOWNLOADS = ("html", "json", "csv")


def _form(data: Any) -> ReportForm:
    """The report's choices; without any, the defaults (last year, the configured commune)."""
    initial = ReportForm.initial_values(get_language() or "fr")
    return ReportForm(data if data and "year" in data else initial, initial=initial)


def _report(form: ReportForm) -> Report:
    values = form.cleaned_data
    return build_report(values["year"], values["home_commune"], home_from_settings=False)


def _query(form: ReportForm) -> str:
    values = form.cleaned_data
    home = values["home_commune"]
    return urlencode(
        {
            "year": values["year"],
            "home_commune": " ".join(home) if home else "",
            "language": values["language"],
        }
    )


@staff_required
@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    form = _form(request.GET)
    context: dict[str, Any] = {"form": form, "downloads": DOWNLOADS}
    if form.is_valid():
        # The document's helpers draw the charts with matplotlib: loaded only when needed.
        from ronron.reports.document import report_context

        with translation.override(form.cleaned_data["language"]):
            try:
                report = _report(form)
            except ReportError as exc:
                form.add_error(None, str(exc))
            else:
                context.update(report_context(report))
                context["report"] = report
                context["query"] = _query(form)
                context["pdf_jobs"] = Job.objects.filter(kind=tasks.JOB_KIND)[:5]
    return render(request, "reports/page.html", context)


@staff_required
@require_GET
def report_download(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in DOWNLOADS:
        raise Http404
    form = ReportForm(request.GET)
    if not form.is_valid():
        return redirect("reports:page")
    with translation.override(form.cleaned_data["language"]):
        try:
            report = _report(form)
        except ReportError:
            return redirect("reports:page")
        data = render_report(report, fmt)
        name = filename(report, fmt)
    response = HttpResponse(data, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@staff_required
@require_POST
def report_pdf_start(request: HttpRequest) -> HttpResponse:
    form = _form(request.POST)
    if not form.is_valid():
        return render(request, "reports/page.html", {"form": form, "downloads": DOWNLOADS})
    values = form.cleaned_data
    job = tasks.start_pdf(
        values["year"], values["home_commune"], values["language"], actor=request.user
    )
    return redirect("jobs:detail", pk=job.pk)


@staff_required
@require_GET
def report_pdf(request: HttpRequest, job_id: int) -> HttpResponseBase:
    job = get_object_or_404(Job, pk=job_id, kind=tasks.JOB_KIND, status=Job.Status.SUCCEEDED)
    path = tasks.pdf_path(job.pk)
    if not path.exists():
        raise Http404
    year = job.params.get("year", "")
    with translation.override(job.params.get("language") or get_language()):
        name = f"{file_stem()}-{year}.pdf"
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=name, content_type=CONTENT_TYPES["pdf"]
    )
