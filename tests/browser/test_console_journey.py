"""A volunteer's first hour, in a real browser against a real `ronron serve` (gunicorn + worker):
log in with the printed password, import the member file, find a member with the filters."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import PASSWORD_LINE, Served

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

MEMBER_FILE = (
    "\ufeff"
    + "\n".join(
        [
            "numero;type;nom;code_postal;ville;thematiques;date_adhesion;date_depart;"
            "services;contact_nom;contact_email;contact_role",
            "A0001;association;Vélo Cité Rennes;35000;Rennes;velo;2021-03-01;;"
            "wordpress;Lou Le Goff;lou@example.org;président",
            "A0002;association;Jardins partagés de Brest;29200;Brest;nature;2022-05-10;;"
            "lists;Yann Kerv;yann@example.org;technique",
            "A0003;association;Vélo Toulousain;31000;Toulouse;velo;2020-01-15;;"
            "cloud;Inès Roux;ines@example.org;trésorier",
            "A0004;association;Roue Libre Quimper;29000;Quimper;velo;2019-09-01;2023-12-31;;"
            "Paul Morvan;paul@example.org;",
            "I0001;individual;Jeanne Durand;35000;Rennes;;2024-02-02;;;"
            "Jeanne Durand;jeanne@example.net;",
        ]
    )
    + "\n"
)


@pytest.fixture
def browser_page() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: `make test` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(locale="fr-FR")
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def test_log_in_import_a_file_and_find_a_member(
    serve_env: dict[str, str],
    tmp_path: Path,
    browser_page,
) -> None:
    page = browser_page
    served = Served(serve_env, cwd=tmp_path)
    try:
        served.wait_until_up("/login/")
        match = PASSWORD_LINE.search(served.output)
        assert match, served.output
        username, password = match.group(1), match.group(2)

        # Log in: the console opens in French.
        page.goto(served.base + "/members/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"^[^?]*/members/$"))
        assert page.locator("html").get_attribute("lang") == "fr"

        # Import: upload, preview (nothing written yet), confirm, follow the job.
        path = tmp_path / "adherents.csv"
        path.write_text(MEMBER_FILE, encoding="utf-8")
        page.goto(served.base + "/members/import/")
        page.set_input_files("input[type=file]", str(path))
        page.click("main form[enctype='multipart/form-data'] button[type=submit]")
        preview = page.locator("main").inner_text()
        assert "Vélo Cité Rennes" in preview
        page.click("main form[action$='confirm/'] button[type=submit]")
        page.wait_for_url(re.compile(r"/jobs/\d+/"))
        deadline = time.monotonic() + 60
        # The job page refreshes itself until the job is over; then it stops refreshing.
        while page.locator("meta[http-equiv=refresh]").count():
            assert time.monotonic() < deadline, page.content()
            page.wait_for_timeout(500)
            page.reload()
        assert page.locator("progress").get_attribute("value") == page.locator(
            "progress"
        ).get_attribute("max")
        assert "5" in page.locator("main").inner_text()

        # Find the cycling associations of Bretagne still members: only Vélo Cité Rennes.
        page.goto(served.base + "/members/")
        page.select_option("select[name=region]", "Bretagne")
        page.select_option("select[name=theme]", "velo")
        page.select_option("select[name=status]", "member")
        page.click("main form[role=search] button[type=submit]")
        page.wait_for_url(re.compile(r"region=Bretagne"))
        results = page.locator("main table tbody").inner_text()
        assert "Vélo Cité Rennes" in results
        assert "Roue Libre Quimper" not in results  # left in 2023
        assert "Vélo Toulousain" not in results  # Occitanie
        assert "Jardins partagés de Brest" not in results  # not cycling

        # The member page shows where the import put it, and that the import is in its history.
        page.click("text=Vélo Cité Rennes")
        detail = page.locator("main").inner_text()
        assert "Bretagne" in detail
        assert "35" in detail
        assert "lou@example.org" in detail
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        print(served.output)  # the server's log, shown by pytest with the failure
        raise
    finally:
        served.stop()
