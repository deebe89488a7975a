"""Member CSV import and export: the file as volunteers send it, all or nothing, idempotent,
through the action, the ``ronron members`` command, the console and the background job."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import translation

from ronron.core.models import AuditEntry
from ronron.jobs.models import Job
from ronron.members import actions
from ronron.members.imports import export_members, import_members
from ronron.members.models import Contact, Member, Theme
from ronron.members.tasks import import_members_task, start_import
from ronron.services.models import Service

pytestmark = pytest.mark.django_db

HEADER = (
    "number,kind,name,postal_code,city,country,themes,joined_on,left_on,services,"
    "contact_name,contact_email,contact_role"
)
GOOD = [
    "A0001,association,Les Amis du Vélo,31520,Ramonville-Saint-Agne,FR,velo;climat,2020-01-15,,"
    "wordpress;lists,Marie Dupont,marie@example.org,president;treasurer",
    "A0002,individual,Jean Martin,31000,Toulouse,,culture,2021-06-01,,,,jean@example.org,",
    "A0003,collective,Collectif du Quartier,75011,Paris,FR,,2019-03-01,2022-12-31,cloud,"
    "Paul,paul@example.org,Technical contact",
]
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def english(settings, tmp_path):
    """Messages are checked in English (the French catalogue comes later); uploads go to a
    temporary data directory."""
    settings.LANGUAGE_CODE = "en"
    settings.DATA_DIR = tmp_path
    with translation.override("en"):
        yield


def csv_bytes(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def run(data: bytes, **kwargs):
    return import_members(data, actor=kwargs.pop("actor", None), **kwargs)


def errors_of(report) -> list[tuple[int, str, str]]:
    return [(e.line, e.column, e.message) for e in report.errors]


# --- A valid file ---------------------------------------------------------------------------


def test_valid_file_creates_members_with_everything(staff_user):
    report = run(csv_bytes(*GOOD), actor=staff_user)

    assert report.ok and report.created == ["A0001", "A0002", "A0003"]
    velo = Member.objects.get(number="A0001")
    assert velo.kind == "association" and velo.name == "Les Amis du Vélo"
    assert velo.departement == "31" and velo.country == "FR"
    assert velo.joined_on == date(2020, 1, 15) and velo.status == Member.Status.MEMBER
    assert sorted(t.slug for t in velo.themes.all()) == ["climat", "velo"]
    assert sorted((s.kind, s.family, s.managed) for s in Service.objects.filter(member=velo)) == [
        ("", "lists", False),
        ("wordpress", "web", False),
    ]
    contact = velo.contacts.get()
    assert (contact.name, contact.email, contact.roles) == (
        "Marie Dupont",
        "marie@example.org",
        "president,treasurer",
    )
    # Without a contact name, the member's name is used.
    assert Contact.objects.get(email="jean@example.org").name == "Jean Martin"
    assert Member.objects.get(number="A0003").status == Member.Status.LEFT

    created = AuditEntry.objects.filter(action="member.imported_created")
    assert created.count() == 3
    entry = created.get(member_id=velo.pk)
    assert entry.actor == staff_user and entry.after["themes"] == ["climat", "velo"]
    summary = AuditEntry.objects.get(action="members.imported")
    assert summary.after["created"] == ["A0001", "A0002", "A0003"]


def test_spreadsheet_file_with_bom_semicolons_french_headers_and_crlf():
    header = "Numéro;Type;Nom;Code postal;Ville;Thématiques;Date adhésion;Contact_Nom;Contact_Email"
    lines = [
        header,
        "",
        "A0010 ;Association ; Les Jardins ;31000;Toulouse;Éducation;2023-02-01;Léa ;"
        "LEA@Example.org ",
        ";;;;;;;;",
        "A0011;individu;Zoé;31400;Toulouse;;;;",
    ]
    data = "\ufeff" + "\r\n".join(lines) + "\r\n"

    report = run(data.encode())

    assert errors_of(report) == []
    jardins = Member.objects.get(number="A0010")
    assert jardins.name == "Les Jardins" and jardins.kind == "association"
    assert [t.slug for t in jardins.themes.all()] == ["education"]
    assert jardins.contacts.get().email == "lea@example.org"
    assert Member.objects.get(number="A0011").kind == "individual"


def test_dry_run_reports_and_writes_nothing():
    report = run(csv_bytes(*GOOD), dry_run=True)

    assert report.ok and report.created == ["A0001", "A0002", "A0003"]
    assert [r.action for r in report.rows] == ["created"] * 3
    assert not Member.objects.exists() and not AuditEntry.objects.exists()


# --- Bad files ------------------------------------------------------------------------------

BAD_ROWS = [
    ("A0001,club,X", "kind", "Unknown kind “club”"),
    ("A 0001,association,X", "number", "member number is 1 to 20"),
    ("A0001,association,", "name", "blank"),
    ("A0001,association,X,,,FRA", "country", "two-letter"),
    ("A0001,association,X,,,,jardinage", "themes", "Unknown theme “jardinage”"),
    ("A0001,association,X,,,,,15/09/2024", "joined_on", "write 2024-09-15"),
    ("A0001,association,X,,,,,Sept 2024", "joined_on", "YYYY-MM-DD"),
    ("A0001,association,X,,,,,2024-02-30", "joined_on", "not a valid date"),
    ("A0001,association,X,,,,,2024-02-01,2023-01-01", "left_on", "before the joining date"),
    ("A0001,association,X,,,,,,,jukebox", "services", "Unknown service “jukebox”"),
    ("A0001,association,X,,,,,,,,Marie,marie@", "contact_email", "valid e"),
    ("A0001,association,X,,,,,,,,Marie,,", "contact_email", "needs an e-mail"),
    (
        "A0001,association,X,,,,,,,,M,m@example.org,chef",
        "contact_role",
        "Unknown role “chef”. Known roles: president",
    ),
    ('A0001,association,"Les Amis\ndu Vélo"', "name", "Line breaks"),
    ("A0001,association,X,,,,,,,,,,,surplus", "", "more values than the header"),
]


@pytest.mark.parametrize(("line", "column", "message"), BAD_ROWS)
def test_every_kind_of_bad_row_is_reported_with_line_and_column(line, column, message):
    report = run(csv_bytes(GOOD[1], line))

    assert len(report.errors) == 1, errors_of(report)
    error = report.errors[0]
    assert (error.line, error.column) == (3, column)
    assert message in error.message
    assert not Member.objects.exists()


def test_errors_name_the_column_as_written_in_the_file():
    report = run(
        csv_bytes("A1;individu;X;;;;;hier", header="Numero;TYPE;nom;a;b;c;d;Date_Adhesion")
    )

    assert [(e.line, e.column) for e in report.errors] == [(1, "a"), (1, "b"), (1, "c"), (1, "d")]
    report = run(b"numero;type;nom;date_adhesion\nA1;individu;X;hier\n")
    assert [(e.line, e.column) for e in report.errors] == [(2, "date_adhesion")]


def test_header_problems():
    report = run(csv_bytes(header="number,name,nom,colour,joined_on"))

    assert [(e.line, e.column) for e in report.errors] == [(1, "nom"), (1, "colour"), (1, "kind")]
    assert "Unknown column “colour”" in report.errors[1].message
    assert "missing" in report.errors[2].message


def test_duplicated_numbers_are_reported_on_both_lines():
    report = run(csv_bytes(GOOD[0], GOOD[1], GOOD[0].replace("Vélo", "Velo")))

    assert errors_of(report) == [
        (2, "number", "The member number A0001 also appears on line 4."),
        (4, "number", "The member number A0001 also appears on line 2."),
    ]
    assert not Member.objects.exists()


def test_a_file_not_in_utf8_says_how_to_fix_it():
    data = csv_bytes(GOOD[1], "A0009,association,Les Amis du Vélo").decode().encode("latin-1")

    report = run(data)

    [error] = report.errors
    assert error.line == 3 and "UTF-8" in error.message and "Save as" in error.message


def test_a_spreadsheet_file_instead_of_csv_is_explained():
    [error] = run(b"PK\x03\x04\x14\x00\x06\x00binary").errors

    assert "spreadsheet file, not a CSV file" in error.message


def test_a_leaving_date_before_the_recorded_joining_date_is_refused():
    run(csv_bytes(*GOOD))

    report = run(
        csv_bytes("A0002,individual,Jean Martin,2019-01-01", header="number,kind,name,left_on")
    )

    assert errors_of(report) == [
        (
            2,
            "left_on",
            "The leaving date 2019-01-01 would be before the joining date 2021-06-01 recorded "
            "for this member.",
        )
    ]
    assert report.updated == [] and Member.objects.get(number="A0002").left_on is None


def test_empty_file():
    assert "empty" in run(b"").errors[0].message
    assert "empty" in run(b"\r\n\r\n").errors[0].message


def test_one_bad_row_means_nothing_is_written():
    report = run(csv_bytes(*GOOD, "A0004,association,Bad,,,,,2024-13-01"))

    assert errors_of(report) == [(5, "joined_on", "“2024-13-01” is not a valid date.")]
    assert not Member.objects.exists()
    assert not Contact.objects.exists() and not Service.objects.exists()
    assert not AuditEntry.objects.exists()


# --- Importing again ------------------------------------------------------------------------


def test_importing_the_same_file_again_changes_nothing():
    data = csv_bytes(*GOOD)
    run(data)
    audit_count = AuditEntry.objects.count()
    stamps = list(Member.objects.values_list("updated_at", flat=True))

    report = run(data)

    assert report.ok and report.unchanged == ["A0001", "A0002", "A0003"]
    assert report.created == [] and report.updated == []
    assert AuditEntry.objects.count() == audit_count
    assert list(Member.objects.values_list("updated_at", flat=True)) == stamps
    assert Service.objects.count() == 3 and Contact.objects.count() == 3


def test_a_changed_row_updates_that_member_only(staff_user):
    run(csv_bytes(*GOOD))
    velo = Member.objects.get(number="A0001")
    other = actions.add_contact(velo, actor=None, name="Lou", email="lou@example.org")
    Service.objects.create(member=velo, kind="wordpress", family="web", managed=True)
    left_on = date.today() + timedelta(days=30)
    changed = (
        f"A0001,association,Les Amis du Vélo,31000,Toulouse,FR,velo,2020-01-15,{left_on},"
        "wordpress;cloud,Marie Durand,marie@example.org,président"
    )

    report = run(csv_bytes(changed, GOOD[1], GOOD[2]), actor=staff_user)

    assert report.updated == ["A0001"] and report.unchanged == ["A0002", "A0003"]
    velo.refresh_from_db()
    assert (velo.city, velo.departement, velo.left_on) == ("Toulouse", "31", left_on)
    assert velo.status == Member.Status.LEAVING
    assert [t.slug for t in velo.themes.all()] == ["velo"]
    assert sorted((s.kind, s.family, s.managed) for s in Service.objects.filter(member=velo)) == [
        ("cloud", "cloud", False),
        ("wordpress", "web", False),
        ("wordpress", "web", True),
    ]
    marie = velo.contacts.get(email="marie@example.org")
    assert (marie.name, marie.roles) == ("Marie Durand", "president")
    assert velo.contacts.filter(pk=other.pk).exists()

    entry = AuditEntry.objects.get(action="member.imported_updated")
    assert entry.member_id == velo.pk and entry.actor == staff_user
    assert entry.before["city"] == "Ramonville-Saint-Agne" and entry.after["city"] == "Toulouse"
    assert entry.before["themes"] == ["climat", "velo"] and entry.after["themes"] == ["velo"]
    row = next(r for r in report.rows if r.number == "A0001")
    assert {"city", "themes", "services", "contacts", "left_on", "status"} <= set(row.changes)


def test_a_new_contact_email_adds_a_contact_and_keeps_the_others():
    run(csv_bytes(GOOD[1]))
    run(csv_bytes(GOOD[1].replace("jean@example.org", "jean.martin@example.org")))

    member = Member.objects.get(number="A0002")
    assert sorted(member.contacts.values_list("email", flat=True)) == [
        "jean.martin@example.org",
        "jean@example.org",
    ]


def test_columns_left_out_of_the_file_change_nothing():
    run(csv_bytes(*GOOD))

    report = run(csv_bytes("A0001,association,Les Amis du Vélo", header="number,kind,name"))

    assert report.unchanged == ["A0001"]
    velo = Member.objects.get(number="A0001")
    assert velo.city == "Ramonville-Saint-Agne" and velo.themes.count() == 2
    assert velo.services.count() == 2 and velo.contacts.count() == 1


def test_an_empty_services_cell_removes_external_services_only():
    run(csv_bytes(*GOOD))
    velo = Member.objects.get(number="A0001")
    Service.objects.create(member=velo, kind="spip", family="web", managed=True)

    run(csv_bytes(GOOD[0].replace("wordpress;lists", "")))

    assert [(s.kind, s.managed) for s in velo.services.all()] == [("spip", True)]


def test_the_import_uses_a_few_queries_whatever_the_number_of_rows():
    def queries(count: int, start: int) -> int:
        lines = [
            f"B{start + i},association,Asso {i},31000,Toulouse,,culture,2020-01-01,,web,"
            f"C {i},c{start + i}@example.org,tech"
            for i in range(count)
        ]
        with CaptureQueriesContext(connection) as ctx:
            assert run(csv_bytes(*lines)).ok
        return len(ctx.captured_queries)

    few, many = queries(5, 1000), queries(200, 2000)
    assert many < few + 20, (few, many)


# --- Export ---------------------------------------------------------------------------------


def test_export_then_import_changes_nothing():
    member = actions.create_member(
        actor=None,
        number="A0202",
        kind="collective",
        name="=Collectif, « Le Lien »",
        postal_code="31000",
        city="Toulouse",
        joined_on=date(2020, 5, 1),
        themes=list(Theme.objects.filter(slug__in=["ess", "culture"])),
    )
    actions.add_contact(member, actor=None, name="A", email="a@example.org", roles=["billing"])
    actions.add_contact(
        member, actor=None, name="B", email="b@example.org", roles=["president", "tech"]
    )
    Service.objects.create(member=member, kind="", family="lists", managed=False)
    Service.objects.create(member=member, kind="wordpress", family="web", managed=True)
    run(csv_bytes(*GOOD))
    out = io.StringIO()
    export_members(out)
    before = AuditEntry.objects.count()

    report = run(out.getvalue().encode())

    assert report.ok and report.created == [] and report.updated == []
    assert len(report.unchanged) == 4
    assert AuditEntry.objects.count() == before
    lines = out.getvalue().splitlines()
    assert lines[0] == HEADER
    # The main contact is the one with the most roles; a cell a spreadsheet would run as a
    # formula is quoted, and the quote disappears again on import.
    assert lines[1] == (
        "A0001,association,Les Amis du Vélo,31520,Ramonville-Saint-Agne,FR,climat;velo,"
        "2020-01-15,,lists;wordpress,Marie Dupont,marie@example.org,president;treasurer"
    )
    assert lines[4].startswith(
        'A0202,collective,"\'=Collectif, « Le Lien »",31000,Toulouse,FR,culture;ess,2020-05-01,,'
        "lists,B,b@example.org,president;tech"
    )
    assert Member.objects.get(number="A0202").name == "=Collectif, « Le Lien »"


# --- The command line -----------------------------------------------------------------------


def write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "membres.csv"
    path.write_bytes(data)
    return str(path)


def test_cli_import_prints_a_summary(tmp_path):
    out = io.StringIO()
    call_command("members", "import", write(tmp_path, csv_bytes(*GOOD)), stdout=out)

    assert "3 members created, 0 updated, 0 unchanged." in out.getvalue()
    assert Member.objects.count() == 3


def test_cli_dry_run_writes_nothing(tmp_path):
    out = io.StringIO()
    call_command("members", "import", write(tmp_path, csv_bytes(*GOOD)), "--dry-run", stdout=out)

    assert "Dry run" in out.getvalue() and "3 members would be created" in out.getvalue()
    assert not Member.objects.exists()


def test_cli_import_lists_every_error_and_fails(tmp_path):
    path = write(tmp_path, csv_bytes(GOOD[0], "A0002,club,X,,,,,01/02/2020"))
    err = io.StringIO()

    with pytest.raises(CommandError) as exc:
        call_command("members", "import", path, stderr=err)

    assert exc.value.returncode == 1
    assert "2 errors" in str(exc.value)
    assert "line 3, column kind: Unknown kind “club”" in err.getvalue()
    assert "line 3, column joined_on: “01/02/2020” is not in the expected" in err.getvalue()
    assert not Member.objects.exists()


def test_cli_import_of_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("members", "import", str(tmp_path / "nope.csv"))


def test_cli_export_to_stdout_and_to_a_file(tmp_path):
    run(csv_bytes(*GOOD))
    out = io.StringIO()
    call_command("members", "export", stdout=out)
    target = tmp_path / "export.csv"
    call_command("members", "export", str(target))

    assert out.getvalue().splitlines()[0] == HEADER
    assert out.getvalue().count("\n") == 4
    assert target.read_bytes().decode() == out.getvalue()


# --- The console ----------------------------------------------------------------------------


@pytest.fixture
def console(client, staff_user):
    client.force_login(staff_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def upload(client, data: bytes):
    file = io.BytesIO(data)
    file.name = "adherents.csv"
    return client.post(reverse("members_import:upload"), {"file": file})


def uploads(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "uploads").glob("*.csv"))


def test_console_import_is_for_staff_only(client, django_user_model):
    user = django_user_model.objects.create_user(username="lou", password="x")
    client.force_login(user)

    assert client.get(reverse("members_import:upload")).status_code == 403
    assert client.get(reverse("members_import:export")).status_code == 403


def test_console_preview_lists_errors_with_line_and_column(console, tmp_path):
    page = console.get(reverse("members_import:upload"))
    assert page.status_code == 200 and b'type="file"' in page.content

    response = upload(console, csv_bytes(GOOD[0], "A0002,club,X,,,,,01/02/2020"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "2 problems to fix" in html
    assert '<td data-label="Line">3</td><td data-label="Column">kind</td>' in html
    assert "Unknown kind “club”" in html and "joined_on" in html
    assert "Confirm import" not in html
    assert uploads(tmp_path) == [] and not Member.objects.exists()


@override_settings(TASKS=IMMEDIATE)
def test_console_preview_then_confirm_runs_the_import_job(console, tmp_path, staff_user):
    response = upload(console, csv_bytes(*GOOD))

    html = response.content.decode()
    assert "Confirm import" in html and "Les Amis du Vélo" in html
    assert not Member.objects.exists()
    [stored] = uploads(tmp_path)
    assert stored.stat().st_mode & 0o777 == 0o600
    token = response.context["token"]

    response = console.post(reverse("members_import:confirm"), {"token": token})

    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("jobs:detail", kwargs={"pk": job.pk})
    assert job.status == Job.Status.SUCCEEDED and job.created_by == staff_user
    assert job.result["created"] == 3 and job.result["errors"] == []
    assert Member.objects.count() == 3
    assert AuditEntry.objects.get(action="members.imported").actor == staff_user
    assert uploads(tmp_path) == []
    # The same confirmation cannot start a second import.
    again = console.post(reverse("members_import:confirm"), {"token": token})
    assert again.status_code == 302 and Job.objects.count() == 1


def test_console_confirm_refuses_a_token_of_another_session(console, tmp_path):
    upload(console, csv_bytes(*GOOD))
    [stored] = uploads(tmp_path)

    response = console.post(reverse("members_import:confirm"), {"token": "0" * 32})

    assert response["Location"] == reverse("members_import:upload")
    assert not Job.objects.exists() and stored.exists()


def test_console_cancel_removes_the_waiting_file(console, tmp_path):
    upload(console, csv_bytes(*GOOD))

    console.post(reverse("members_import:cancel"))

    assert uploads(tmp_path) == []


def test_console_export_downloads_the_member_file(console):
    run(csv_bytes(*GOOD))

    response = console.get(reverse("members_import:export"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff" + HEADER)
    assert run(response.content).unchanged == ["A0001", "A0002", "A0003"]


# --- The background job ---------------------------------------------------------------------


def test_job_with_errors_fails_keeps_the_list_and_removes_the_file(tmp_path, staff_user):
    job = start_import(csv_bytes("A0001,club,X"), actor=staff_user)

    with pytest.raises(Exception, match="has 1 error; nothing was imported"):
        import_members_task.call(job.pk)

    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.result["errors"] == [
        {"line": 2, "column": "kind", "message": job.result["errors"][0]["message"]}
    ]
    assert uploads(tmp_path) == [] and not Member.objects.exists()


def test_job_reports_progress_and_result(tmp_path):
    lines = [f"A{i:04d},association,Asso {i}" for i in range(450)]
    job = start_import(csv_bytes(*lines, header="number,kind,name"), actor=None)

    import_members_task.call(job.pk)

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.percent == 100
    assert job.progress_total == 450 and job.progress_done == 450
    assert job.result["created"] == 450
    assert Member.objects.count() == 450


def test_the_member_page_tells_the_history_of_imports(client, staff_user):
    run(csv_bytes(*GOOD), actor=staff_user)
    changed = (
        "A0001,association,Les Amis du Vélo,31000,Toulouse,FR,velo,2020-01-15,,"
        "wordpress;cloud,Marie Durand,marie@example.org,président"
    )
    run(csv_bytes(changed, GOOD[1], GOOD[2]), actor=staff_user)
    client.force_login(staff_user)

    page = client.get(reverse("members:detail", args=[Member.objects.get(number="A0001").pk]))

    assert page.status_code == 200
    history = page.content.decode()
    # The contacts and services the import recorded are told in words, not as raw data.
    assert "Marie Durand &lt;marie@example.org&gt;" in history
    assert "Toulouse" in history
    assert "Contacts" in history and "Services" in history
