"""The general-assembly report from a member file with known figures: ``ronron report`` in every
format, the boundary dates the definitions name, and the console page with its downloads."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test.utils import override_settings
from django.urls import reverse
from pypdf import PdfReader

from ronron.fleet.actions import create_server
from ronron.jobs.models import Job
from ronron.members.models import Member
from ronron.services import actions as service_actions

pytestmark = pytest.mark.django_db

HOME = "31520 Ramonville-Saint-Agne"
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

# Each line says what it tests; the expected figures for 2024 are worked out below.
MEMBER_FILE = """\
number,kind,name,postal_code,city,country,themes,joined_on,left_on,services
A1,association,Home,31520,Ramonville-Saint-Agne,FR,culture;education,2020-03-01,,web;lists
A2,association,Joined on 31 December,31000,Toulouse,FR,culture,2024-12-31,,cloud
A3,association,Left on 31 December,75011,Paris,FR,,2021-05-10,2024-12-31,web
A4,collective,Joined and left in 2024,69001,Lyon,FR,,2024-02-01,2024-11-30,lists
A5,association,Joined after the year,31000,Toulouse,FR,culture,2025-01-01,,web
A6,association,No postal code,,,FR,,2019-01-01,,wordpress
A7,association,Abroad,1000,Bruxelles,BE,,2022-06-15,,
A8,association,Left the year after,35000,Rennes,FR,education,2023-01-01,2025-01-15,lists
A9,association,Toulouse since 2023,31400,Toulouse,FR,culture,2023-03-01,,
A10,association,New in July,31000,Toulouse,FR,,2024-07-01,,
I1,individual,Individual since 2018,31000,Toulouse,FR,,2018-01-01,,
I2,individual,Individual arrived in 2024,31000,Toulouse,FR,,2024-03-03,,
I3,individual,Individual left in 2024,31000,Toulouse,FR,,2022-01-01,2024-06-30,
"""

FAMILIES_ZERO = {
    "web": 0, "lists": 0, "cloud": 0, "galette": 0, "dolibarr": 0,
    "mail": 0, "visio": 0, "pad": 0, "other": 0,
}  # fmt: skip


@pytest.fixture
def member_file(tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text(MEMBER_FILE, encoding="utf-8")
    call_command("members", "import", str(path), stdout=io.StringIO())
    assert Member.objects.count() == 13


def report(tmp_path: Path, year: int, fmt: str, *args: str, language: str = "en") -> Path:
    out = tmp_path / f"report-{year}.{fmt}"
    call_command(
        "report", str(year), "--format", fmt, "--output", str(out), "--language", language,
        *args, stderr=io.StringIO(),
    )  # fmt: skip
    return out


def report_json(tmp_path: Path, year: int, *args: str) -> dict:
    return json.loads(report(tmp_path, year, "json", *args).read_text())


def test_json_reproduces_the_known_figures(member_file, tmp_path):
    data = report_json(tmp_path, 2024, "--home-commune", HOME)

    assert data["year"] == 2024
    # A1 A2 A6 A7 A8 A9 A10: A2 joined on 31 December, A8 left after the year; A3 left on
    # 31 December, A4 came and went within the year, A5 joined after it.
    assert data["members"] == {"associations": 7, "individuals": 2}
    assert data["arrivals"] == {"associations": 3, "individuals": 1}
    assert data["departures"] == {"associations": 2, "individuals": 1}
    # 2023: A1 A3 A6 A7 A8 A9 → (7 - 6) / 6 = 16.666… → 16.7
    assert data["growth_percent"] == 16.7
    assert data["services"] == {**FAMILIES_ZERO, "web": 2, "lists": 2, "cloud": 1}
    assert data["home_commune"] == {
        "name": "Ramonville-Saint-Agne",
        "postal_code": "31520",
        "count": 1,
    }
    assert data["regions"] == {"Occitanie": 3, "Belgium": 1, "Bretagne": 1, "Unknown": 1}
    assert data["home_commune_share"] == {
        "percent": 14.3,
        "region": "Occitanie",
        "with_region_count": 4,
        "with_region_percent": 57.1,
    }
    assert data["themes"] == {"culture": 3, "education": 2}
    assert "31 December 2024" in data["definitions"]
    assert data["managed"] is None


def test_without_home_commune_its_associations_count_in_their_region(member_file, tmp_path):
    data = report_json(tmp_path, 2024)
    assert data["home_commune"] is None
    assert data["regions"]["Occitanie"] == 4
    assert "home_commune_share" not in data


def test_earlier_years_side_by_side(member_file, tmp_path):
    data = report_json(tmp_path, 2024)
    years = {entry["year"]: entry for entry in data["history"]}
    assert sorted(years) == list(range(2018, 2025))
    assert years[2018]["members"] == {"associations": 0, "individuals": 1}
    assert years[2018]["growth_percent"] is None  # no association the year before
    assert years[2019]["members"] == {"associations": 1, "individuals": 1}
    assert years[2023]["members"] == {"associations": 6, "individuals": 2}
    assert years[2024]["members"] == data["members"]


def test_year_after_the_departures(member_file, tmp_path):
    data = report_json(tmp_path, 2025)
    # A8 left on 15 January 2025; A5 joined on 1 January 2025.
    assert data["members"] == {"associations": 7, "individuals": 2}
    assert data["departures"] == {"associations": 1, "individuals": 0}
    assert data["growth_percent"] == 0.0


def test_a_year_with_no_members(member_file, tmp_path):
    data = report_json(tmp_path, 2010)
    assert data["members"] == {"associations": 0, "individuals": 0}
    assert data["arrivals"] == data["departures"] == {"associations": 0, "individuals": 0}
    assert data["growth_percent"] is None
    assert data["services"] == FAMILIES_ZERO
    assert data["regions"] == {} and data["themes"] == {}
    assert [entry["year"] for entry in data["history"]] == [2010]


def test_empty_member_file(tmp_path):
    data = report_json(tmp_path, 2024)
    assert data["members"] == {"associations": 0, "individuals": 0}
    html = report(tmp_path, 2024, "html").read_text()
    assert "2024" in html


def test_csv_has_the_figures_by_year(member_file, tmp_path):
    text = report(tmp_path, 2024, "csv", "--home-commune", HOME).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert header[:3] == ["section", "key", "figure"] and header[-1] == "2024"
    by_key = {(row[0], row[1]): row[3:] for row in rows[1:]}
    last = header.index("2024") - 3
    assert by_key[("members", "associations")][last] == "7"
    assert by_key[("growth", "growth_percent")][last] == "16.7"
    assert by_key[("home_commune", "31520")][last] == "1"
    assert by_key[("regions", "country:BE")][last] == "1"
    assert by_key[("services", "other")][last] == "0"


def test_html_and_pdf_show_the_figures_in_french(member_file, tmp_path):
    html = report(tmp_path, 2024, "html", "--home-commune", HOME, language="fr").read_text()
    assert 'lang="fr"' in html
    for text in (
        "16,7",
        "14,3",
        "57,1",
        "Ramonville-Saint-Agne",
        "Belgique",
        "data:image/svg+xml;base64,",
    ):
        assert text in html, text

    pdf = report(tmp_path, 2024, "pdf", "--home-commune", HOME, language="fr")
    assert pdf.read_bytes().startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    text = " ".join(text.split())
    for figure in ("16,7", "14,3", "57,1", "Ramonville-Saint-Agne", "Belgique", "Occitanie"):
        assert figure in text, figure
    assert "31 décembre 2024" in text


def test_pdf_in_english(member_file, tmp_path):
    pdf = report(tmp_path, 2024, "pdf", language="en")
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(pdf).pages).split())
    assert "16.7" in text and "Belgium" in text and "31 December 2024" in text


def test_managed_services_are_counted_with_zeros_shown(member_file, tmp_path):
    server = create_server(actor=None, name="web1", roles=["web"], memory_mb=4096, disk_gb=50)
    member = Member.objects.get(number="A9")
    service_actions.request_service(
        member, actor=None, kind="static", domain="a9.example.org", server=server
    )
    data = report_json(tmp_path, 2026)
    assert data["managed"]["web_sites"] == {"static": 1, "wordpress": 1, "spip": 0, "app": 0}
    assert data["managed"]["lists"] == 3  # A1's, A4's and A8's, recorded and never removed
    assert data["managed"]["cloud_accounts"] == 0


def test_bad_input_is_refused_clearly(member_file, tmp_path):
    with pytest.raises(CommandError, match="between 1901 and 9999"):
        call_command("report", "0", "--format", "json", stdout=io.StringIO())
    with pytest.raises(CommandError, match="postal code and a commune name"):
        call_command("report", "2024", "--home-commune", "Ramonville", stdout=io.StringIO())
    with pytest.raises(CommandError, match="not a known French postal code"):
        call_command("report", "2024", "--home-commune", "99999 Nulle-Part", stdout=io.StringIO())
    missing = tmp_path / "missing" / "report.json"
    with pytest.raises(CommandError, match="does not exist"):
        call_command("report", "2024", "--output", str(missing), stdout=io.StringIO())


@pytest.fixture
def console(client, staff_user):
    client.force_login(staff_user)
    return client


def test_console_page_shows_the_report_and_its_downloads(member_file, console):
    query = {"year": "2024", "home_commune": HOME, "language": "en"}
    page = console.get(reverse("reports:page"), query)
    assert page.status_code == 200
    body = page.content.decode()
    assert "16.7" in body and "57.1" in body and "<img" in body

    download = console.get(reverse("reports:download", args=["json"]), query)
    assert download["Content-Disposition"] == 'attachment; filename="report-2024.json"'
    assert json.loads(download.content)["members"] == {"associations": 7, "individuals": 2}
    csv_download = console.get(reverse("reports:download", args=["csv"]), query)
    assert csv_download["Content-Type"].startswith("text/csv")


def test_console_refuses_bad_choices_with_messages(console):
    page = console.get(reverse("reports:page"), {"year": "12", "language": "en"})
    assert page.status_code == 200
    assert "greater than or equal to 1901" in page.content.decode()
    page = console.get(
        reverse("reports:page"), {"year": "2024", "home_commune": "Toulouse", "language": "en"}
    )
    assert "Write the postal code then the name" in page.content.decode()


@override_settings(TASKS=IMMEDIATE)
def test_console_prepares_the_pdf_as_a_job(member_file, console, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    response = console.post(
        reverse("reports:pdf_start"), {"year": "2024", "home_commune": "", "language": "fr"}
    )
    job = Job.objects.get(kind="reports.pdf")
    assert response.url == reverse("jobs:detail", args=[job.pk])
    assert job.status == Job.Status.SUCCEEDED, job.error
    detail = console.get(response.url).content.decode()
    link = reverse("reports:pdf", args=[job.pk])
    assert link in detail
    pdf = console.get(link)
    assert pdf["Content-Disposition"] == 'attachment; filename="rapport-2024.pdf"'
    data = b"".join(pdf.streaming_content)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "Occitanie" in text


def test_report_pages_need_staff(client, member_file):
    assert client.get(reverse("reports:page")).status_code in (302, 403)
    assert client.get(reverse("reports:download", args=["json"])).status_code in (302, 403)
