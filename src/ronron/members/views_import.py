"""Console pages for the member file as CSV: upload → preview (a dry run) → confirm → job; export.

The preview is computed at once, without writing anything; the confirmed import runs as a
background job (a large file takes a while), whose page shows progress. Between the two steps the
file waits under DATA_DIR/uploads with a random name known only to this session.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ronron.core.forms import ConsoleFormMixin
from ronron.core.permissions import staff_required
from ronron.members import csvio
from ronron.members.imports import PREVIEW_ROWS, export_members, import_members
from ronron.members.models import Member
from ronron.members.tasks import enqueue_import, remove_stale_uploads, store_upload, upload_path

# The preview is computed during the request, within gunicorn's timeout (120 s, see ``serve``):
# 10 MB is about 80 000 members, far more than any hoster has. ``ronron members import`` has
# no limit.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
SESSION_KEY = "members_import"
_TOKEN = re.compile(r"^[0-9a-f]{32}$")

CHANGE_LABELS: dict[str, Any] = {
    "themes": gettext_lazy("themes"),
    "services": gettext_lazy("external services"),
    "contacts": gettext_lazy("contact"),
}


class UploadForm(ConsoleFormMixin, forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Member file (CSV)"),
        help_text=gettext_lazy(
            "A CSV file saved from your spreadsheet, in UTF-8, with commas or semicolons."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _(
                    "This file is too large: the console takes files of up to %(size)s MB "
                    "(about 80,000 members). A larger file can be imported on the server with "
                    "the command: ronron members import FILE"
                )
                % {"size": MAX_UPLOAD_BYTES // (1024 * 1024)},
                code="too_large",
            )
        return upload


def _change_label(name: str) -> str:
    if name in CHANGE_LABELS:
        return str(CHANGE_LABELS[name])
    try:
        return str(getattr(Member._meta.get_field(name), "verbose_name", name))
    except FieldDoesNotExist:
        return name


def _forget_pending(request: HttpRequest) -> None:
    pending = request.session.pop(SESSION_KEY, None)
    if pending and _TOKEN.fullmatch(pending.get("token", "")):
        upload_path(pending["token"] + ".csv").unlink(missing_ok=True)


@staff_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    if not form.is_valid():
        return render(
            request, "members/import_upload.html", {"form": form, "columns": csvio.COLUMNS}
        )
    uploaded = form.cleaned_data["file"]
    data = uploaded.read()
    report = import_members(data, actor=request.user, dry_run=True)
    _forget_pending(request)
    remove_stale_uploads()
    token = ""
    if report.ok and (report.created or report.updated):
        token = store_upload(data).stem
        request.session[SESSION_KEY] = {"token": token, "name": uploaded.name[:200]}
    rows = [
        {
            "outcome": outcome,
            "changes": ", ".join(_change_label(c) for c in outcome.changes),
        }
        for outcome in report.rows[:PREVIEW_ROWS]
    ]
    return render(
        request,
        "members/import_preview.html",
        {
            "report": report,
            "rows": rows,
            "more_rows": max(0, len(report.rows) - PREVIEW_ROWS),
            "file_name": uploaded.name,
            "token": token,
            "form": UploadForm(),
        },
    )


@staff_required
@require_POST
def confirm(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(SESSION_KEY) or {}
    token = request.POST.get("token", "")
    if not _TOKEN.fullmatch(token) or pending.get("token") != token:
        messages.error(
            request, _("This import is no longer waiting for confirmation; send the file again.")
        )
        return redirect("members_import:upload")
    path = upload_path(token + ".csv")
    if not path.exists():
        request.session.pop(SESSION_KEY, None)
        messages.error(request, _("The file has expired; send it again."))
        return redirect("members_import:upload")
    request.session.pop(SESSION_KEY, None)
    job = enqueue_import(
        path,
        actor=request.user,
        label=_("Import of the member file %(name)s") % {"name": pending.get("name", "")},
    )
    messages.success(
        request,
        _("The import has started. You may leave this page: the import goes on."),
    )
    return redirect("jobs:detail", pk=job.pk)


@staff_required
@require_POST
def cancel(request: HttpRequest) -> HttpResponse:
    _forget_pending(request)
    messages.info(request, _("The import was cancelled; nothing was written."))
    return redirect("members_import:upload")


@staff_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{slugify(_('members'))}-{timezone.localdate().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    # The BOM makes spreadsheets (Excel above all) read the file as UTF-8; imports skip it.
    response.write("\ufeff")
    export_members(response)  # type: ignore[arg-type]
    return response
