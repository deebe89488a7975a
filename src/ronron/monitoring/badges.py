"""The SVG images monitoring writes itself: the embeddable status badge and a check's latency
chart. Every text is escaped; colours come with a word (the badge) or a text summary (the chart),
never alone. Presentation attributes only (no ``style``), so the strict CSP holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# The stylesheet's colours (WCAG AA with white text).
STATUS_COLOURS = {
    "up": "#1e6b34",
    "degraded": "#7a4b00",
    "down": "#a4262c",
    "unknown": "#5b636d",
}
LABEL_COLOUR = "#4d5560"
BADGE_HEIGHT = 20
FONT = "DejaVu Sans,Verdana,Geneva,sans-serif"
MAX_LABEL = 40
# Rough advance of an 11 px sans-serif character; wide enough for capitals and accents.
CHAR_WIDTH = 7
PADDING = 10


def _text_width(text: str) -> int:
    return len(text) * CHAR_WIDTH + 2 * PADDING


def badge_svg(label: str, word: str, status: str) -> str:
    """A two-part badge: ``label`` on grey, ``word`` on the status colour."""
    if len(label) > MAX_LABEL:
        label = label[: MAX_LABEL - 1] + "…"
    left, right = _text_width(label), _text_width(word)
    width = left + right
    colour = STATUS_COLOURS.get(status, STATUS_COLOURS["unknown"])
    title = escape(f"{label}: {word}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{BADGE_HEIGHT}" '
        f'viewBox="0 0 {width} {BADGE_HEIGHT}" role="img" aria-label="{title}">'
        f"<title>{title}</title>"
        f'<rect width="{left}" height="{BADGE_HEIGHT}" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{left}" width="{right}" height="{BADGE_HEIGHT}" fill="{colour}"/>'
        f'<g fill="#ffffff" font-family="{FONT}" font-size="11" text-anchor="middle">'
        f'<text x="{left / 2:g}" y="14">{escape(label)}</text>'
        f'<text x="{left + right / 2:g}" y="14">{escape(word)}</text>'
        "</g></svg>"
    )


@dataclass(frozen=True)
class Point:
    """One minute of probes: when, the mean and slowest latency (None when nothing answered),
    whether a probe failed."""

    start: datetime
    latency_ms: float | None
    failed: bool
    slowest_ms: int | None = None


CHART_WIDTH = 720
CHART_HEIGHT = 180
LEFT = 56
BOTTOM = 24
TOP = 10
RIGHT = 8
TICK_HOURS = 6
LINE_COLOUR = "#1d4f7a"
FAILURE_COLOUR = STATUS_COLOURS["down"]
GRID_COLOUR = "#c9cdd2"
INK = "#4d5560"


def _nice_ceiling(value: float) -> int:
    """The next 1, 2 or 5 × 10ⁿ above ``value`` (an axis that reads well)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if value <= step * factor:
                return step * factor
        step *= 10


def latency_chart(
    points: Sequence[Point], start: datetime, end: datetime, *, title: str
) -> SafeString:
    """Mean latency per minute from ``start`` to ``end`` as an inline SVG; minutes with no
    probe leave a gap, minutes with a failure get a red mark under the line."""
    plot_w = CHART_WIDTH - LEFT - RIGHT
    plot_h = CHART_HEIGHT - TOP - BOTTOM
    span = (end - start).total_seconds() or 1.0
    known = [p.latency_ms for p in points if p.latency_ms is not None]
    ceiling = _nice_ceiling(max(known)) if known else 100

    def x(at: datetime) -> float:
        return LEFT + plot_w * (at - start).total_seconds() / span

    def y(latency: float) -> float:
        return TOP + plot_h * (1 - min(latency, ceiling) / ceiling)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {CHART_WIDTH} '
        f'{CHART_HEIGHT}" role="img" aria-labelledby="latency-chart-title">'
        f'<title id="latency-chart-title">{escape(title)}</title>',
        f'<g stroke="{GRID_COLOUR}" stroke-width="1">'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT + plot_w}" y2="{TOP}"/>'
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}"/></g>',
        f'<g fill="{INK}" font-family="{FONT}" font-size="11">'
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{ceiling} ms</text>'
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    tick = timezone.localtime(start).replace(minute=0, second=0, microsecond=0)
    while tick <= end:
        if tick >= start and tick.hour % TICK_HOURS == 0:
            parts.append(
                f'<text x="{x(tick):.1f}" y="{CHART_HEIGHT - 6}" text-anchor="middle">'
                f"{tick:%H:%M}</text>"
            )
        tick += timedelta(hours=1)
    parts.append("</g>")
    runs: list[list[str]] = []
    previous: datetime | None = None
    for point in points:
        if point.latency_ms is None:
            previous = None
            continue
        if previous is None or point.start - previous > timedelta(minutes=2):
            runs.append([])
        runs[-1].append(f"{x(point.start):.1f},{y(point.latency_ms):.1f}")
        previous = point.start
    for run in runs:
        if len(run) == 1:
            cx, cy = run[0].split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="1.5" fill="{LINE_COLOUR}"/>')
        else:
            parts.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{LINE_COLOUR}" '
                'stroke-width="1.5" stroke-linejoin="round"/>'
            )
    marks = [
        f'<rect x="{x(p.start):.1f}" y="{TOP + plot_h - 6}" width="2" height="6"/>'
        for p in points
        if p.failed
    ]
    if marks:
        parts.append(f'<g fill="{FAILURE_COLOUR}">{"".join(marks)}</g>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every text above is escaped or a number
