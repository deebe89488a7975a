"""The general-assembly report as a document: the HTML file, its charts, the PDF read back as
text, both languages, no network while printing, and a year without members."""

from __future__ import annotations

import base64
import io
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.template.loader import render_to_string
from django.utils import timezone, translation
from pypdf import PdfReader

from ronron.fleet.actions import create_server
from ronron.members import actions as member_actions
from ronron.members.imports import import_members
from ronron.members.models import Member, Theme
from ronron.reports.document import html_to_pdf, render_html, render_pdf, report_context
from ronron.reports.figures import Report, build_report
from ronron.services import actions as service_actions

pytestmark = pytest.mark.django_db

HOME = ("31520", "Ramonville-Saint-Agne")
SVG = "{http://www.w3.org/2000/svg}"

# The figures of 2025, worked out by hand:
#   members 2025: A1 A2 A3 A4 A5 (A6 left in June) and I1 I2 (I3 left in August);
#   members 2024: A1 A2 A3 A6 → growth (5 − 4) ÷ 4 = 25.0 %;
#   arrivals 2025: A4 A5 and I2; departures 2025: A6 and I3;
#   home commune: A1 (1 of 5 = 20.0 %), with the rest of Occitanie (A2): 2 (40.0 %);
#   services: web A1 A3, lists A1 A4, cloud A2, pad A4; themes: culture A3 A5, others one each.
MEMBER_FILE = """\
number,kind,name,postal_code,city,country,themes,joined_on,left_on,services
A1,association,Amis du Vélo,31520,Ramonville-Saint-Agne,FR,Vélo;Climat,2023-03-01,,wordpress;lists
A2,association,Jardins partagés,31000,Toulouse,FR,Nature,2024-05-10,,cloud
A3,association,Chorale du Lien,75011,Paris,FR,Culture,2024-09-01,,web
A4,collective,Collectif du Quartier,35000,Rennes,FR,Vie de quartier,2025-02-01,,lists;pad
A5,association,Maison de Bruxelles,1000,Bruxelles,BE,Culture,2025-04-04,,
A6,association,Atelier parti,69003,Lyon,FR,,2023-01-01,2025-06-30,web
I1,individual,Camille,31000,Toulouse,FR,,2023-01-01,,
I2,individual,Dominique,31400,Toulouse,FR,,2025-03-03,,
I3,individual,Sacha,31000,Toulouse,FR,,2024-01-01,2025-08-31,
"""


@pytest.fixture
def members() -> None:
    outcome = import_members(MEMBER_FILE.encode(), actor=None)
    assert outcome.ok, [str(error) for error in outcome.errors]
    assert Member.objects.count() == 9


@pytest.fixture
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


class _Page(HTMLParser):
    """The text of a page, the cells of each table row and the images."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self.rows: list[list[str]] = []
        self.images: list[dict[str, str]] = []
        self.captions: list[str] = []
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append({key: value or "" for key, value in attrs})
        elif tag == "figcaption":
            self._caption = []
        self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "figcaption" and self._caption is not None:
            self.captions.append(" ".join("".join(self._caption).split()))
            self._caption = None
        self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)
        for collector in (self._cell, self._caption):
            if collector is not None:
                collector.append(data)

    @property
    def text(self) -> str:
        return normalise("".join(self.chunks))

    def row(self, label: str) -> list[str]:
        matches = [cells[1:] for cells in self.rows if cells and cells[0] == label]
        assert len(matches) == 1, (label, matches)
        return matches[0]


def normalise(text: str) -> str:
    """One plain space for any run of spaces, line breaks and no-break spaces."""
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    return normalise(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def charts_of(page: _Page) -> list[ET.Element]:
    prefix = "data:image/svg+xml;base64,"
    sources = [image["src"] for image in page.images]
    assert all(source.startswith(prefix) for source in sources)
    # Our own output, not untrusted data: the standard parser is the right check.
    return [
        ET.fromstring(base64.b64decode(source[len(prefix) :]))  # noqa: S314
        for source in sources
    ]


def svg_text(svg: ET.Element) -> str:
    return normalise(" ".join("".join(node.itertext()) for node in svg.iter(f"{SVG}text")))


def report_2025() -> Report:
    return build_report(2025, HOME)


def test_the_html_gives_every_figure_of_the_year(members, english):
    page = parse(render_html(report_2025()))
    text = page.text

    assert "General assembly report 2025" in text
    assert "Member associations 5" in text
    assert "Individual members 2" in text
    assert "Arrivals 3 associations: 2, individuals: 1" in text
    assert "Departures 2 associations: 1, individuals: 1" in text
    assert "Growth of associations 25.0% against 4 associations at the end of 2024" in text
    assert (
        "1 association in Ramonville-Saint-Agne (20.0%); with the rest of Occitanie: 2 (40.0%)"
        in text
    )
    # The table: one column a year (2023, the first year with members, to 2025); zeros shown
    # as 0, the growth against a year without associations as "—".
    assert page.rows[0] == ["Figure", "2023", "2024", "2025"]
    assert page.row("Members: associations") == ["2", "4", "5"]
    assert page.row("Members: individuals") == ["1", "2", "2"]
    assert page.row("Arrivals: associations") == ["2", "2", "2"]
    assert page.row("Departures: individuals") == ["0", "0", "1"]
    assert page.row("Growth of associations (%)") == ["—", "100.0", "25.0"]
    assert page.row("Web sites") == ["2", "3", "2"]
    assert page.row("Collaborative pads") == ["0", "0", "1"]
    assert page.row("Video conferencing") == ["0", "0", "0"]
    assert page.row("Ramonville-Saint-Agne") == ["1", "1", "1"]
    assert page.row("Belgium") == ["0", "0", "1"]
    assert page.row("Culture") == ["0", "1", "2"]
    # Without managed services, no part about them; the definitions are printed.
    assert "Services run by Ronron" not in text
    assert "Definitions" in text
    assert "Members of 2025: members who joined on or before 31 December 2025" in text


def test_the_five_charts_are_valid_svg_with_text_and_a_text_alternative(members, english):
    page = parse(render_html(report_2025()))

    charts = charts_of(page)
    assert len(charts) == 5
    assert all(chart.tag == f"{SVG}svg" for chart in charts)
    assert all(image["alt"].strip() for image in page.images)
    assert page.captions == [
        "Members over the years",
        "Arrivals and departures",
        "Associations by région in 2025",
        "Associations by theme in 2025",
        "Services used by associations in 2025",
    ]
    members_chart, movements, regions, themes, services = (svg_text(c) for c in charts)
    # Labels and numbers stay text in the SVG (sharp at any size, searchable in the PDF).
    assert "2023" in members_chart and "Associations" in members_chart
    assert "Arrivals" in movements and "Departures" in movements
    assert "Ramonville-Saint-Agne (home commune)" in regions and "Belgium" in regions
    assert "Vélo" in themes and "Vie de quartier" in themes
    assert "Mailing lists" in services
    assert "Ramonville-Saint-Agne (home commune): 1" in page.images[2]["alt"]


def test_the_french_report_speaks_french(members):
    report = report_2025()
    with translation.override("en"):
        english = parse(render_html(report)).text
    with translation.override("fr"):
        html = render_html(build_report(2025, HOME))
    french = parse(html).text

    assert '<html lang="fr">' in html
    assert "25,0 %" in french and "25.0" not in french
    assert "(20,0 %)" in french
    assert "Sites web" in french and "Web sites" in english
    assert "Belgique" in french and "Belgium" in english
    assert english != french


def test_the_pdf_reads_back_with_the_figures_and_the_definitions(members, english):
    text = pdf_text(render_pdf(report_2025()))

    assert "General assembly report 2025" in text
    for phrase in (
        "Member associations 5",
        "Individual members 2",
        "associations: 2, individuals: 1",  # arrivals
        "associations: 1, individuals: 1",  # departures
        "25.0%",
        "1 association in Ramonville-Saint-Agne (20.0%); with the rest of Occitanie: 2 (40.0%)",
        "Members: associations 2 4 5",
        "Growth of associations (%) — 100.0 25.0",
        "Belgium 0 0 1",
        "Definitions",
        "Members of 2025: members who joined on or before 31 December 2025",
        "Page 1 /",
    ):
        assert phrase in text, phrase


class _Recorder(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/svg+xml")
        self.end_headers()
        self.wfile.write(b'<svg xmlns="http://www.w3.org/2000/svg"><text>FETCHED</text></svg>')

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_printing_fetches_nothing_but_inline_data(members, english, web_server, tmp_path):
    html = render_html(report_2025())
    # The document itself refers to nothing outside it.
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert references and all(reference.startswith("data:") for reference in references)
    assert "url(" not in html.split("</style>")[0].split("<style>")[1]

    local = tmp_path / "local.svg"
    local.write_text('<svg xmlns="http://www.w3.org/2000/svg"><text y="20">LOCALFILE</text></svg>')
    inline = base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40">'
        b'<text x="5" y="20">INLINEDATA</text></svg>'
    ).decode()
    hostile = f"""<!DOCTYPE html><html><head>
        <link rel="stylesheet" href="{web_server}/style.css">
        <style>@import url("{web_server}/import.css");
        body {{ background: url("{web_server}/background.png") }}</style></head><body>
        <p>Printed</p><img src="{web_server}/image.svg" alt="">
        <img src="{local.as_uri()}" alt=""><img src="data:image/svg+xml;base64,{inline}" alt="">
        </body></html>"""

    text = pdf_text(html_to_pdf(hostile))

    assert _Recorder.requests == []
    assert "Printed" in text and "INLINEDATA" in text
    assert "FETCHED" not in text and "LOCALFILE" not in text


def test_a_year_without_members_renders_and_says_so(members, english):
    report = build_report(2010, HOME)
    html = render_html(report)
    page = parse(html)

    assert len(charts_of(page)) == 5
    assert "Member associations 0" in page.text
    assert "No members in these years." in svg_text(charts_of(page)[0])
    assert "No associations among the members of this year." in page.images[2]["alt"]
    assert page.row("Members: associations") == ["0"]
    assert page.row("Growth of associations (%)") == ["—"]
    text = pdf_text(render_pdf(report))
    assert "Definitions" in text and "Member associations 0" in text


def test_an_empty_member_file_renders(english):
    page = parse(render_html(build_report(2025)))
    assert len(charts_of(page)) == 5
    assert "Member associations 0" in page.text


def test_the_body_fits_in_the_console_layout(members, english):
    body = render_to_string("reports/_report_body.html", report_context(report_2025()))

    for tag in ("html", "head", "body", "h1", "style"):
        assert not re.search(rf"<{tag}[\s>]", body), tag
    assert "Key figures of 2025" in parse(body).text


def test_managed_services_are_counted_by_engine_with_zeros(members, english):
    web1 = create_server(actor=None, name="web1", roles=["web"], memory_mb=4096, disk_gb=100)
    service_actions.request_service(
        Member.objects.get(number="A1"), actor=None, kind="static", domain="velo.example.org",
        server=web1,
    )  # fmt: skip
    year = timezone.localdate().year  # a managed service counts from its creation: today

    page = parse(render_html(build_report(year, HOME)))

    assert "Services run by Ronron" in page.text
    managed = {cells[0]: cells[1:] for cells in page.rows if len(cells) == 2}
    assert managed["Static web site"] == ["1"]
    assert managed["WordPress site"] == ["1"]  # recorded (external) services count too
    assert managed["SPIP site"] == ["0"]
    assert managed["Total"] == ["2"]
    assert managed["Cloud accounts"] == ["0"]


def test_long_lists_are_cut_in_the_charts_and_whole_in_the_table(english):
    countries = ["BE", "CH", "DE", "IT", "ES", "PT", "NL", "LU", "AT", "IE", "DK", "SE", "NO"]
    member_actions.create_theme(actor=None, slug="zero-dechet", name="Zéro déchet")
    all_themes = list(Theme.objects.order_by("slug").values_list("name", flat=True))
    assert len(all_themes) == 17  # the 16 themes every hoster starts with, and this one
    themes = ";".join(all_themes)
    lines = [
        f"B{n},association,Abroad {n},1000,Somewhere,{country},{themes if n == 0 else ''},"
        "2025-01-10,,"
        for n, country in enumerate(countries)
    ]
    lines += ["F1,association,Rennes,35000,Rennes,FR,,2025-01-10,,"]
    lines += ["F2,association,Lyon,69003,Lyon,FR,,2025-01-10,,"]
    header = "number,kind,name,postal_code,city,country,themes,joined_on,left_on,services"
    assert import_members("\n".join([header, *lines]).encode(), actor=None).ok

    page = parse(render_html(build_report(2025, HOME)))

    # Home commune, 13 places, "other places" (2 of them): 15 bars.
    regions, themes = page.captions[2], page.captions[3]
    assert "The 2 other places are added up; each one is in the table." in regions
    assert "Other places: 2" in page.images[2]["alt"]
    assert "The 15 most frequent themes of 17; all are in the table." in themes
    # One association with every theme: all count 1, the last two by name are left out.
    assert "Zéro déchet" not in svg_text(charts_of(page)[3])
    assert page.row("Zéro déchet") == ["1"]
    assert page.row("Austria") == ["1"]
