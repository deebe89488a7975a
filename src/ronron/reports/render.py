"""One report, four formats: the CLI, the console and the PDF job all go through ``render``."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from django.utils.translation import gettext as _

from ronron.reports.exports import report_csv, report_data
from ronron.reports.figures import Report

CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
}
FORMATS = tuple(CONTENT_TYPES)


def render(report: Report, fmt: str) -> bytes:
    """The report in ``fmt``, in the active language."""
    if fmt == "json":
        text = json.dumps(report_data(report), ensure_ascii=False, indent=2) + "\n"
        return text.encode()
    if fmt == "csv":
        # A byte-order mark so that spreadsheets opened by double-click read UTF-8.
        return ("\ufeff" + report_csv(report)).encode()
    # WeasyPrint and matplotlib are heavy: loaded only when a document is asked for.
    from ronron.reports import document

    if fmt == "html":
        return document.render_html(report).encode()
    if fmt == "pdf":
        return document.render_pdf(report)
    raise ValueError(f"unknown report format: {fmt!r}")


def filename(report: Report, fmt: str) -> str:
    return f"{file_stem()}-{report.year}.{fmt}"


def file_stem() -> str:
    # Translators: file name of the downloaded report, before "-YEAR.pdf"; no spaces.
    return _("report")


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` in one step: a reader sees the old file or the whole new one,
    never half of it, even if Ronron is stopped mid-write."""
    directory = path.parent
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes it 0600: a web server publishing the file must be able to read it.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
