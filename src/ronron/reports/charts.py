"""The report's five charts, drawn by matplotlib as SVG text.

Only the object API is used (``Figure`` and the SVG backend, never pyplot): pyplot keeps figures
in a global registry, which a web worker serving several requests must not share. matplotlib is
imported on first use so that a worker that never draws a chart does not load it.

Text stays text in the SVG (``svg.fonttype = "none"``): the files stay small, the labels stay
sharp at any size and the PDF keeps them as searchable text. Colours come from the Okabe–Ito
palette, safe for colour-blind readers; the two colours a chart pairs differ in lightness too, so
a black-and-white photocopy still tells them apart.
"""

from __future__ import annotations

import base64
import io
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _

from ronron.reports.exports import family_label, place_label, theme_label
from ronron.reports.figures import Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Okabe–Ito: blue (dark) and orange (light) pair well in colour and in grey.
DARK = "#0072B2"
LIGHT = "#E69F00"
INK = "#1F2328"
INK_SOFT = "#4D5560"
GRID = "#D9DCE0"
OTHERS = "#8C959F"  # a bar that adds several up: neutral, apart from the named ones
FONT = "DejaVu Sans"

WIDTH_INCHES = 6.3  # the width of an A4 page's text block: charts print at their own size
BAR_INCHES = 0.27  # per bar of a horizontal bar chart
MAX_BARS = 15  # beyond, a horizontal bar chart would not fit beside its caption on a page
MAX_LABEL = 38  # characters of a bar's label; longer ones (theme names) are shortened

_setup_lock = threading.Lock()
_ready = False


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    alt: str  # a short text alternative: what the chart shows, with its figures
    svg: str  # SVG text without the XML prolog
    note: str = ""  # what the reader must know to read it right (bars left out or added up)

    @property
    def data_uri(self) -> str:
        encoded = base64.b64encode(self.svg.encode()).decode("ascii")
        return f"data:image/svg+xml;base64,{encoded}"


def format_number(value: int) -> str:
    """An integer in the active language: "1 234" in French, "1,234" in English."""
    return formats.number_format(value, 0, use_l10n=True, force_grouping=True)


def _setup() -> None:
    """Load matplotlib once per process with the settings every chart shares.

    The SVG backend reads ``svg.fonttype`` and ``svg.hashsalt`` from the global rcParams only;
    they are set once, to the same values, before any chart is drawn, so concurrent requests
    never see them change.
    """
    global _ready
    with _setup_lock:
        if _ready:
            return
        if "MPLCONFIGDIR" not in os.environ:
            # matplotlib writes its font cache there; the home directory may not be writable.
            config_dir = Path(settings.DATA_DIR) / "matplotlib"
            config_dir.mkdir(parents=True, exist_ok=True)
            os.environ["MPLCONFIGDIR"] = str(config_dir)
        import matplotlib

        matplotlib.rcParams.update(
            {
                "svg.fonttype": "none",
                "svg.hashsalt": "ronron-report",  # the same chart gives the same SVG
                "font.family": "sans-serif",
                "font.sans-serif": [FONT],
                "font.size": 9,
                "axes.unicode_minus": True,
            }
        )
        _ready = True


def _figure(height: float) -> tuple[Figure, Axes]:
    _setup()
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, height), layout="constrained")
    axes = figure.add_subplot()
    axes.tick_params(colors=INK_SOFT, labelcolor=INK, length=0)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(INK_SOFT)
    return figure, axes


_PROLOG = re.compile(r"\A\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?")


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    # No date, no generator in the metadata: the same figures always give the same file.
    figure.savefig(out, format="svg", transparent=True, metadata={"Date": None, "Creator": None})
    return _PROLOG.sub("", out.getvalue())


def _empty(key: str, title: str, message: str) -> Chart:
    _setup()
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, 0.9))
    figure.text(0.5, 0.5, message, ha="center", va="center", color=INK_SOFT, fontsize=10)
    return Chart(key, title, message, _svg(figure))


def _shorten(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1].rstrip() + "…"


def _year_axis(axes: Axes, years: Sequence[int]) -> None:
    axes.set_xticks(range(len(years)), [str(y) for y in years])
    axes.yaxis.grid(True, color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)


def _integer_ticks(axes: Axes, label: Callable[[float], str]) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: label(value)))


def _legend(axes: Axes) -> None:
    axes.legend(loc="upper left", frameon=False, ncols=2, bbox_to_anchor=(0, 1.12), labelcolor=INK)


def _label_bars(
    axes: Axes, container: Any, values: Sequence[int], *, zeros: bool = True, **options: Any
) -> None:
    labels = [format_number(v) if v or zeros else "" for v in values]
    axes.bar_label(container, labels=labels, fontsize=8, color=INK, **options)


def members_chart(report: Report) -> Chart:
    """(a) Members at the end of each year: associations and individuals, stacked."""
    title = _("Members over the years")
    history = report.history
    if all(y.members.total == 0 for y in history):
        return _empty("members", title, _("No members in these years."))
    years = [y.year for y in history]
    associations = [y.members.associations for y in history]
    individuals = [y.members.individuals for y in history]
    totals = [y.members.total for y in history]
    figure, axes = _figure(3.0)
    positions = range(len(years))
    lower = axes.bar(positions, associations, 0.6, color=DARK, label=_("Associations"))
    upper = axes.bar(
        positions, individuals, 0.6, bottom=associations, color=LIGHT, label=_("Individuals")
    )
    tallest = max(totals)
    # A number inside a segment only where the segment is tall enough to hold it.
    axes.bar_label(
        lower,
        labels=[format_number(v) if v >= tallest * 0.09 else "" for v in associations],
        label_type="center",
        fontsize=8,
        color="#FFFFFF",
    )
    axes.bar_label(
        upper,
        labels=[format_number(v) if v >= tallest * 0.09 else "" for v in individuals],
        label_type="center",
        fontsize=8,
        color=INK,
    )
    # The total above each bar, in bold: the figure the general assembly asks for.
    axes.bar_label(
        upper,
        labels=[format_number(t) for t in totals],
        padding=2,
        fontsize=8,
        color=INK,
        fontweight="bold",
    )
    _year_axis(axes, years)
    _integer_ticks(axes, lambda value: format_number(int(value)))
    axes.set_ylim(0, tallest * 1.15)
    _legend(axes)
    alt = _("Members at the end of each year (associations, individuals): %(figures)s.") % {
        "figures": "; ".join(
            f"{y.year}: {format_number(y.members.associations)}, "
            f"{format_number(y.members.individuals)}"
            for y in history
        )
    }
    return Chart("members", title, alt, _svg(figure))


def movements_chart(report: Report) -> Chart:
    """(b) Arrivals above the axis, departures below it, for each year."""
    title = _("Arrivals and departures")
    history = report.history
    if all(y.arrivals.total == 0 and y.departures.total == 0 for y in history):
        return _empty("movements", title, _("No arrivals or departures in these years."))
    years = [y.year for y in history]
    arrivals = [y.arrivals.total for y in history]
    departures = [y.departures.total for y in history]
    figure, axes = _figure(2.8)
    positions = range(len(years))
    up = axes.bar(positions, arrivals, 0.6, color=DARK, label=_("Arrivals"))
    down = axes.bar(positions, [-d for d in departures], 0.6, color=LIGHT, label=_("Departures"))
    # A year without departures would put a stray "0" on its arrivals bar.
    _label_bars(axes, up, arrivals, zeros=False, padding=2)
    _label_bars(axes, down, departures, zeros=False, padding=2)
    axes.axhline(0, color=INK_SOFT, linewidth=0.8)
    _year_axis(axes, years)
    _integer_ticks(axes, lambda value: format_number(abs(int(value))))
    top, bottom = max(arrivals), max(departures)
    margin = max(top, bottom, 1) * 0.15
    axes.set_ylim(-bottom - margin, top + margin * 1.5)
    axes.spines["bottom"].set_visible(False)
    _legend(axes)
    alt = _("Arrivals and departures of members each year (arrivals, departures): %(figures)s.") % {
        "figures": "; ".join(
            f"{y.year}: {format_number(y.arrivals.total)}, {format_number(y.departures.total)}"
            for y in history
        )
    }
    return Chart("movements", title, alt, _svg(figure))


def _horizontal(
    key: str,
    title: str,
    bars: list[tuple[str, int]],
    *,
    highlighted: int | None = None,
    others: int | None = None,
    note: str = "",
) -> Chart:
    """Bars from top to bottom in the given order, each with its number at its end; the
    ``highlighted`` one in the light colour, the ``others`` one in grey."""
    labels = [_shorten(label) for label, _count in bars]
    values = [count for _label, count in bars]
    figure, axes = _figure(0.2 + BAR_INCHES * len(bars))
    positions = range(len(bars))
    colours = [
        LIGHT if index == highlighted else OTHERS if index == others else DARK
        for index in positions
    ]
    container = axes.barh(positions, values, 0.7, color=colours)
    _label_bars(axes, container, values, padding=3)
    axes.set_yticks(positions, labels)
    axes.set_ylim(len(bars) - 0.5, -0.5)  # the first bar on top, no blank band around
    axes.xaxis.set_visible(False)
    axes.spines["bottom"].set_visible(False)
    axes.set_xlim(0, max(max(values), 1) * 1.12)
    alt = "; ".join(f"{label}: {format_number(count)}" for label, count in bars)
    alt = f"{title}: {alt}." + (f" {note}" if note else "")
    return Chart(key, title, alt, _svg(figure), note)


def regions_chart(report: Report) -> Chart:
    """(c) The year's associations by région, the home commune apart and first."""
    year = report.current
    title = _("Associations by région in %(year)s") % {"year": year.year}
    home = year.home
    if year.members.associations == 0:
        return _empty("regions", title, _("No associations among the members of this year."))
    bars: list[tuple[str, int]] = []
    highlighted = None
    if home is not None:
        highlighted = 0
        bars.append((_("%(commune)s (home commune)") % {"commune": home.name}, home.count))
    places = [(place_label(key), count) for key, count in year.regions.items()]
    room = MAX_BARS - len(bars)
    others = None
    note = ""
    if len(places) > room:
        # Each association is in one place only: the rest can be added up into one bar.
        rest = sum(count for _label, count in places[room - 1 :])
        note = _("The %(count)s other places are added up; each one is in the table.") % {
            "count": len(places) - room + 1
        }
        places = [*places[: room - 1], (_("Other places"), rest)]
        others = len(bars) + len(places) - 1
    return _horizontal(
        "regions", title, bars + places, highlighted=highlighted, others=others, note=note
    )


def themes_chart(report: Report) -> Chart:
    """(d) The year's associations by theme, the most frequent first."""
    year = report.current
    title = _("Associations by theme in %(year)s") % {"year": year.year}
    if not year.themes:
        return _empty("themes", title, _("No themes among the associations of this year."))
    bars = [(theme_label(report, slug), count) for slug, count in year.themes.items()]
    note = ""
    if len(bars) > MAX_BARS:
        # An association may have several themes: the others cannot be added up into one bar.
        note = _("The %(shown)s most frequent themes of %(total)s; all are in the table.") % {
            "shown": MAX_BARS,
            "total": len(bars),
        }
        bars = bars[:MAX_BARS]
    return _horizontal("themes", title, bars, note=note)


def services_chart(report: Report) -> Chart:
    """(e) The year's associations using each family of services, in the families' order."""
    year = report.current
    title = _("Services used by associations in %(year)s") % {"year": year.year}
    if year.members.associations == 0:
        return _empty("services", title, _("No associations among the members of this year."))
    bars = [(family_label(family), count) for family, count in year.services.items()]
    return _horizontal("services", title, bars)


def report_charts(report: Report) -> list[Chart]:
    """The five charts of the report, in the order the document shows them."""
    return [
        members_chart(report),
        movements_chart(report),
        regions_chart(report),
        themes_chart(report),
        services_chart(report),
    ]
