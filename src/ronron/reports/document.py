"""The general-assembly report as a document: one HTML page, and a PDF made from it.

The same template body serves the console page, the standalone HTML file and the PDF, so the
three always say the same thing. Figures are formatted here, in the active language, because
the templates print them in several places (key figures, sentences, the table).

The PDF is drawn by WeasyPrint without any network access: the document carries its stylesheet
and its charts inline, and the URL fetcher refuses everything but ``data:`` URIs, so neither a
stray address in a theme name nor a future template change can make the server fetch anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale
from django.template.loader import render_to_string
from django.utils import formats
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from ronron.reports.charts import format_number, report_charts
from ronron.reports.exports import engine_label, table_rows
from ronron.reports.figures import Report, Split, YearFigures

STYLESHEET = Path(__file__).resolve().parent / "static" / "reports" / "report.css"
MISSING = "—"  # a figure that cannot be given (growth against a year without associations)

# For a view that serves ``render_html`` as a page: the document has no script and loads
# nothing, its only inline style is its own stylesheet.
DOCUMENT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def format_decimal(value: Decimal) -> str:
    """One decimal in the active language: "20,7" in French, "20.7" in English."""
    return formats.number_format(value, 1, use_l10n=True, force_grouping=True)


def format_percent(value: Decimal | None) -> str:
    """A percentage with one decimal as the language writes it: "20,7 %" (with a no-break
    space) in French, "20.7%" in English; "—" when there is none."""
    if value is None:
        return MISSING
    locale = Locale.parse(get_language() or "fr", sep="-")
    pattern = locale.percent_formats[None]
    sign = 1 if value < 0 else 0
    return f"{pattern.prefix[sign]}{format_decimal(abs(value))}{pattern.suffix[sign]}"


def _cell(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, int):
        return format_number(value)
    return str(value)


@dataclass(frozen=True)
class KeyFigure:
    key: str
    label: str
    value: str
    detail: str = ""


def _split_detail(split: Split) -> str:
    return _("associations: %(associations)s, individuals: %(individuals)s") % {
        "associations": format_number(split.associations),
        "individuals": format_number(split.individuals),
    }


def _previous(report: Report) -> YearFigures | None:
    return report.history[-2] if len(report.history) > 1 else None


def key_figures(report: Report) -> list[KeyFigure]:
    year = report.current
    previous = _previous(report)
    before = previous.members.associations if previous else 0
    if year.growth_percent is None:
        growth_detail = _("not given: no associations at the end of %(year)s") % {
            "year": report.year - 1
        }
    else:
        growth_detail = ngettext(
            "against %(count)s association at the end of %(year)s",
            "against %(count)s associations at the end of %(year)s",
            before,
        ) % {"count": format_number(before), "year": report.year - 1}
    return [
        KeyFigure(
            "associations", _("Member associations"), format_number(year.members.associations)
        ),
        KeyFigure("individuals", _("Individual members"), format_number(year.members.individuals)),
        KeyFigure(
            "arrivals",
            _("Arrivals"),
            format_number(year.arrivals.total),
            _split_detail(year.arrivals),
        ),
        KeyFigure(
            "departures",
            _("Departures"),
            format_number(year.departures.total),
            _split_detail(year.departures),
        ),
        KeyFigure(
            "growth",
            _("Growth of associations"),
            format_percent(year.growth_percent),
            growth_detail,
        ),
    ]


def home_sentence(report: Report) -> str:
    """The home commune's share, e.g. "2 associations in Ramonville-Saint-Agne (2.0%); with
    the rest of Occitanie: 72 (72.7%)"; "" without a home commune or without associations."""
    home = report.current.home
    if home is None or home.share_percent is None:
        return ""
    return ngettext(
        "%(count)s association in %(commune)s (%(share)s); with the rest of %(region)s: "
        "%(with_region)s (%(with_region_share)s)",
        "%(count)s associations in %(commune)s (%(share)s); with the rest of %(region)s: "
        "%(with_region)s (%(with_region_share)s)",
        home.count,
    ) % {
        "count": format_number(home.count),
        "commune": home.name,
        "share": format_percent(home.share_percent),
        "region": home.region,
        "with_region": format_number(home.with_region_count),
        "with_region_share": format_percent(home.with_region_share_percent),
    }


def _section_labels() -> dict[str, str]:
    return {
        "members": _("Members at the end of the year"),
        "arrivals": _("Arrivals"),
        "departures": _("Departures"),
        "growth": _("Growth"),
        "services": _("Associations using each family of services"),
        "home_commune": _("Home commune"),
        "regions": _("Associations by région"),
        "themes": _("Associations by theme"),
        "web_sites": _("Web sites run by Ronron, by engine"),
        "managed": _("Lists and cloud spaces run by Ronron"),
    }


def figures_table(report: Report) -> dict[str, Any]:
    """The side-by-side table: one column per year, rows grouped by section."""
    labels = _section_labels()
    years = [figures.year for figures in report.history]
    groups: list[dict[str, Any]] = []
    for section, key, label, values in table_rows(report):
        if not groups or groups[-1]["key"] != section:
            groups.append({"key": section, "label": labels.get(section, section), "rows": []})
        groups[-1]["rows"].append(
            {
                "key": key,
                "label": label,
                "cells": [(year, _cell(value)) for year, value in zip(years, values, strict=True)],
            }
        )
    return {"years": years, "groups": groups}


def managed_part(report: Report) -> dict[str, Any] | None:
    managed = report.current.managed
    if managed is None:
        return None
    web = [(engine_label(engine), format_number(count)) for engine, count in managed.web.items()]
    return {
        "web": web,
        "web_total": format_number(sum(managed.web.values())),
        "others": [
            (_("Mailing lists"), format_number(managed.lists)),
            (_("Addresses subscribed to the lists"), format_number(managed.addresses)),
            (_("Messages a day on the lists"), format_number(managed.list_messages_per_day)),
            (_("Cloud spaces"), format_number(managed.cloud_spaces)),
            (_("Cloud accounts"), format_number(managed.cloud_accounts)),
        ],
    }


def report_context(report: Report) -> dict[str, Any]:
    """What ``reports/_report_body.html`` needs, in the active language (charts included)."""
    return {
        "report": report,
        "report_key_figures": key_figures(report),
        "report_home_sentence": home_sentence(report),
        "report_charts": report_charts(report),
        "report_table": figures_table(report),
        "report_managed": managed_part(report),
    }


def render_html(report: Report) -> str:
    """The report as one standalone HTML file: stylesheet and charts inline, nothing to load."""
    context = report_context(report)
    context["report_stylesheet"] = STYLESHEET.read_text(encoding="utf-8")
    return render_to_string("reports/document.html", context)


def render_pdf(report: Report) -> bytes:
    """The report as an A4 PDF, drawn from the standalone HTML without any network access."""
    return html_to_pdf(render_html(report))


def html_to_pdf(html: str) -> bytes:
    """A PDF of an HTML document whose resources are all inline; anything else is refused."""
    # Imported here: WeasyPrint and its fonts are heavy, and only PDF jobs need them.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)
    pdf = HTML(string=html, url_fetcher=fetcher).write_pdf()
    assert pdf is not None  # write_pdf returns bytes when no target is given
    return pdf
